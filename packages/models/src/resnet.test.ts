import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerDoubleBackpropGradients } from '@samrank/backend';
import { InputShapeError, ModelConfigError, ParamsMismatchError, SecondOrderGradientError } from './errors.js';
import { disposeState } from './init.js';
import { softmaxCrossEntropy } from './losses.js';
import { type ResNet18, type ResNetTap, preActResNet18, resNet18 } from './resnet.js';

const BLOCKS: ResNetTap[] = ['block1', 'block2', 'block3', 'block4', 'block5'];

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

// sum(p.numel() for p in model.parameters()) of the PyTorch models (paper's PreActResNet18 / ResNet18,
// Linear in-features 8w·(size/32)², one output unit for 2 classes), computed with Debian torch 1.13.
const TORCH_COUNTS: Array<[width: number, classes: number, size: number, preact: number, postact: number]> = [
  [4, 10, 32, 44510, 44622],
  [16, 2, 32, 699857, 700305],
  [16, 10, 32, 701018, 701466],
  [16, 10, 64, 704858, 705306],
  [16, 100, 32, 712628, 713076],
  [16, 200, 64, 802328, 802776],
  [64, 10, 32, 11172170, 11173962],
  [64, 10, 64, 11187530, 11189322],
  [64, 100, 32, 11218340, 11220132],
  [64, 100, 64, 11371940, 11373732],
  [64, 200, 32, 11269640, 11271432],
  [64, 200, 64, 11576840, 11578632],
];

// Per-module PyTorch counts (10 classes, 32 px): stem, blocks 0..7, final BN (preact) / stem BN (postact), fc.
const TORCH_BLOCKS: Record<string, Record<number, number[]>> = {
  preact: {
    16: [432, 4672, 4672, 14432, 18560, 57536, 73984, 229760, 295424, 256, 1290],
    64: [1728, 73984, 73984, 229760, 295424, 918272, 1180672, 3671552, 4720640, 1024, 5130],
  },
  postact: {
    16: [432, 4672, 4672, 14528, 18560, 57728, 73984, 230144, 295424, 32, 1290],
    64: [1728, 73984, 73984, 230144, 295424, 919040, 1180672, 3673088, 4720640, 128, 5130],
  },
};

function countWhere(model: ResNet18, pred: (name: string) => boolean): number {
  return model.paramSpecs.filter((s) => pred(s.name)).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
}

describe('parameter counts equal PyTorch', () => {
  for (const [width, classes, size, pre, post] of TORCH_COUNTS) {
    it(`width ${width}, ${classes} classes, ${size} px: preact ${pre}, postact ${post}`, () => {
      expect(preActResNet18({ width, numClasses: classes, imageSize: size }).numParams).toBe(pre);
      expect(resNet18({ width, numClasses: classes, imageSize: size }).numParams).toBe(post);
    });
  }

  for (const variant of ['preact', 'postact'] as const) {
    for (const width of [16, 64]) {
      it(`${variant} width ${width}: per-block counts`, () => {
        const m = variant === 'preact' ? preActResNet18({ width }) : resNet18({ width });
        const want = TORCH_BLOCKS[variant]![width]!;
        expect(countWhere(m, (n) => n === 'conv1.weight')).toBe(want[0]);
        for (let b = 0; b < 8; b++) {
          const prefix = `layer${Math.floor(b / 2) + 1}.${b % 2}.`;
          expect(countWhere(m, (n) => n.startsWith(prefix))).toBe(want[b + 1]);
        }
        expect(countWhere(m, (n) => n.startsWith(variant === 'preact' ? 'bn.' : 'bn1.'))).toBe(want[9]);
        expect(countWhere(m, (n) => n.startsWith('linear.'))).toBe(want[10]);
      });
    }
  }
});

describe('feature block shapes (docs/paper-notes.md §3.1)', () => {
  it('width 64: 32 px and 64 px', () => {
    const m = preActResNet18({ width: 64 });
    expect(BLOCKS.map((b) => m.tapDim(b))).toEqual([65536, 32768, 16384, 8192, 512]);
    const t = preActResNet18({ width: 64, imageSize: 64, numClasses: 200 });
    expect(BLOCKS.map((b) => t.tapShape(b))).toEqual([
      [64, 64, 64],
      [32, 32, 128],
      [16, 16, 256],
      [8, 8, 512],
      [2, 2, 512],
    ]);
    // A 64-px model fed CIFAR-size images (the paper's k-NN transfer): block 3 is 8×8×256.
    expect(t.tapDim('block3', 32)).toBe(16384);
  });

  for (const variant of ['preact', 'postact'] as const) {
    for (const [size, classes] of [
      [32, 10],
      [64, 200],
      [32, 100],
      [32, 2],
    ] as const) {
      it(`${variant}, width 4, ${size} px, ${classes} classes: forward shapes in both modes`, () => {
        const make = variant === 'preact' ? preActResNet18 : resNet18;
        const m = make({ width: 4, numClasses: classes, imageSize: size });
        const { params, state } = m.init(1);
        const before = tf.memory().numTensors;
        const x = tf.randomNormal([2, size, size, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
        for (const training of [true, false]) {
          const out = m.apply(params, state, x, { training, taps: BLOCKS });
          expect(out.output!.shape).toEqual([2, classes]);
          expect(Object.keys(out.taps)).toEqual(BLOCKS);
          for (const b of BLOCKS) expect(out.taps[b]!.shape).toEqual([2, m.tapDim(b)]);
          if (training) {
            expect(Object.keys(out.state!).sort()).toEqual(m.stateSpecs.map((s) => s.name).sort());
            disposeState(null, out.state);
          } else expect(out.state).toBeUndefined();
          if (classes === 2) expect(Array.from(out.output!.dataSync()).filter((_, i) => i % 2 === 0)).toEqual([0, 0]);
          tf.dispose([out.output!, ...Object.values(out.taps)]);
        }
        x.dispose();
        expect(tf.memory().numTensors).toBe(before);
        disposeState(params, state);
      });
    }
  }

  it('output: false stops at the deepest requested tap and accepts other input sizes', () => {
    const m = preActResNet18({ width: 4, imageSize: 64 });
    const { params, state } = m.init(3);
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const f = m.apply(params, state, x, { training: false, output: false, taps: ['block3'] });
    expect(Object.keys(f.taps)).toEqual(['block3']);
    expect(f.output).toBeUndefined();
    expect(f.taps['block3']!.shape).toEqual([2, m.tapDim('block3', 32)]);
    expect(() => m.apply(params, state, x, { training: false })).toThrow(InputShapeError);
    expect(() => m.apply(params, state, x, { training: false, output: false })).toThrow(ModelConfigError);
    // Identical to the same block of a full pass.
    const x64 = tf.randomNormal([2, 64, 64, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    const full = m.apply(params, state, x64, { training: false, taps: ['block3', 'block5'] });
    const part = m.apply(params, state, x64, { training: false, output: false, taps: ['block5', 'block3'] });
    expect(Array.from(part.taps['block3']!.dataSync())).toEqual(Array.from(full.taps['block3']!.dataSync()));
    expect(Array.from(part.taps['block5']!.dataSync())).toEqual(Array.from(full.taps['block5']!.dataSync()));
    // In training mode with a state it returns the statistics of the layers that ran (block 3: no layer4, no final BN).
    const tr = m.apply(params, state, x64, { training: true, output: false, taps: ['block3'] });
    expect(Object.keys(tr.state!)).toContain('layer3.1.bn2');
    expect(Object.keys(tr.state!)).not.toContain('layer4.0.bn1');
    expect(Object.keys(tr.state!)).not.toContain('bn');
  });
});

describe('blocks are the right tensors', () => {
  it('preact block 4 is relu(bn(layer4)) (non-negative), block 5 its 4×4 mean, logits = block5·W + b', () => {
    const m = preActResNet18({ width: 4 });
    const { params, state } = m.init(5);
    const x = tf.randomNormal([3, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const out = m.apply(params, state, x, { training: true, taps: ['block3', 'block4', 'block5'] });
    expect(Math.min(...out.taps['block4']!.dataSync())).toBeGreaterThanOrEqual(0);
    // Block 3 of PreAct is the raw residual stream: it has negative entries.
    expect(Math.min(...out.taps['block3']!.dataSync())).toBeLessThan(0);
    const pooled = tf.mean(tf.reshape(out.taps['block4']!, [3, 16, 32]), 1);
    Array.from(pooled.dataSync()).forEach((v, i) => expect(out.taps['block5']!.dataSync()[i]).toBeCloseTo(v, 5));
    const logits = tf.add(tf.matMul(out.taps['block5']!, params['linear.weight']!), params['linear.bias']!);
    Array.from(logits.dataSync()).forEach((v, i) => expect(out.output!.dataSync()[i]).toBeCloseTo(v, 5));
  });

  it('postact blocks 1–4 end in ReLU', () => {
    const m = resNet18({ width: 4 });
    const { params, state } = m.init(5);
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const out = m.apply(params, state, x, { training: false, taps: ['block1', 'block2', 'block3', 'block4'] });
    for (const b of BLOCKS.slice(0, 4)) expect(Math.min(...out.taps[b]!.dataSync())).toBeGreaterThanOrEqual(0);
  });

  it('eval mode with fresh statistics is BN = x/√(1+ε); training mode differs', () => {
    const m = preActResNet18({ width: 4 });
    const { params, state } = m.init(9);
    const x = tf.randomNormal([4, 32, 32, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const ev = m.apply(params, state, x, { training: false, taps: ['block1'] });
    // Block 1 = stem conv + two preact blocks; recompute the first block by hand with the eval BN.
    const s = 1 / Math.sqrt(1 + 1e-5);
    const stem = tf.conv2d(x, params['conv1.weight'] as tf.Tensor4D, 1, 'same');
    const blk = (h: tf.Tensor4D, p: string) => {
      const u = tf.relu(tf.mul(h, s)) as tf.Tensor4D;
      const v = tf.conv2d(u, params[`${p}.conv1.weight`] as tf.Tensor4D, 1, 'same');
      return tf.add(
        tf.conv2d(tf.relu(tf.mul(v, s)) as tf.Tensor4D, params[`${p}.conv2.weight`] as tf.Tensor4D, 1, 'same'),
        h,
      ) as tf.Tensor4D;
    };
    const want = blk(blk(stem, 'layer1.0'), 'layer1.1').dataSync();
    const got = ev.taps['block1']!.dataSync();
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    expect(worst).toBeLessThan(1e-4);
    const tr = m.apply(params, state, x, { training: true, taps: ['block1'] });
    const d = tf.max(tf.abs(tf.sub(tr.taps['block1']!, ev.taps['block1']!))).dataSync()[0]!;
    expect(d).toBeGreaterThan(1e-2);
  });
});

describe('initialisation', () => {
  it('same seed ⇒ same weights; another seed ⇒ different weights', () => {
    const m = preActResNet18({ width: 8 });
    const a = m.initParams(42),
      b = m.initParams(42),
      c = m.initParams(43);
    for (const name of Object.keys(a)) {
      expect(Array.from(b[name]!.dataSync())).toEqual(Array.from(a[name]!.dataSync()));
    }
    const w = 'layer2.0.conv1.weight';
    expect(Array.from(c[w]!.dataSync())).not.toEqual(Array.from(a[w]!.dataSync()));
    disposeState(a);
    disposeState(b);
    disposeState(c);
  });

  it('Kaiming-normal fan-out convs, unit/zero BN, U(±1/√fan_in) linear weight, zero bias', () => {
    const m = preActResNet18({ width: 16 });
    const p = m.initParams(0);
    const std = (t: tf.Tensor) => {
      const v = Array.from(t.dataSync());
      const mu = v.reduce((s, x) => s + x, 0) / v.length;
      return Math.sqrt(v.reduce((s, x) => s + (x - mu) ** 2, 0) / v.length);
    };
    // layer4 convs: 3×3×128×128 → fan_out = 9·128; 147 456 draws, so ±1%.
    expect(std(p['layer4.1.conv2.weight']!) / Math.sqrt(2 / (9 * 128))).toBeCloseTo(1, 1);
    expect(std(p['layer4.0.shortcut.weight']!) / Math.sqrt(2 / 128)).toBeCloseTo(1, 1);
    const lw = p['linear.weight']!.dataSync();
    const bound = 1 / Math.sqrt(128);
    expect(Math.max(...lw.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...lw.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(Array.from(p['linear.bias']!.dataSync())).toEqual(Array(10).fill(0));
    expect(Array.from(p['layer2.0.bn1.weight']!.dataSync())).toEqual(Array(16).fill(1));
    expect(Array.from(p['bn.bias']!.dataSync())).toEqual(Array(128).fill(0));
    disposeState(p);
  });
});

describe('errors', () => {
  it('rejects bad configs, inputs and parameter records with typed errors', () => {
    expect(() => preActResNet18({ imageSize: 48 })).toThrow(ModelConfigError);
    expect(() => preActResNet18({ width: 0 })).toThrow(ModelConfigError);
    expect(() => preActResNet18({ numClasses: 1 })).toThrow(ModelConfigError);
    const m = preActResNet18({ width: 4 });
    const { params, state } = m.init(0);
    expect(() => m.apply(params, state, tf.zeros([2, 32, 32, 1]) as tf.Tensor4D, { training: true })).toThrow(InputShapeError);
    expect(() => m.apply(params, state, tf.zeros([2, 32, 32]), { training: true })).toThrow(InputShapeError);
    expect(() => m.apply(params, null, tf.zeros([2, 32, 32, 3]) as tf.Tensor4D, { training: false })).toThrow(ParamsMismatchError);
    const { ['layer3.1.conv2.weight']: _dropped, ...rest } = params;
    expect(() => m.apply(rest, state, tf.zeros([2, 32, 32, 3]) as tf.Tensor4D, { training: true })).toThrow(/layer3.1.conv2.weight/);
    const other = preActResNet18({ width: 8 }).initParams(0);
    expect(() => m.apply(other, state, tf.zeros([2, 32, 32, 3]) as tf.Tensor4D, { training: true })).toThrow(ParamsMismatchError);
    expect(() => m.apply(params, state, tf.zeros([2, 32, 32, 3]) as tf.Tensor4D, { training: true, taps: ['block6'] })).toThrow(
      /preact-resnet18 has no tap 'block6' \(its taps: block1, block2, block3, block4, block5\)/,
    );
    expect(() => m.tapDim('block0' as ResNetTap)).toThrow(ModelConfigError);
  });
});

describe('gradients agree with central finite differences (cpu, float32)', () => {
  for (const variant of ['preact', 'postact'] as const) {
    it(`${variant}: a few coordinates, BatchNorm in training mode`, () => {
      const m = (variant === 'preact' ? preActResNet18 : resNet18)({ width: 2, numClasses: 3 });
      const { params, state } = m.init(11);
      const x = tf.randomNormal([3, 32, 32, 3], 0, 1, 'float32', 12) as tf.Tensor4D;
      const labels = tf.tensor1d([0, 2, 1], 'int32');
      const loss = (p: Record<string, tf.Tensor>) =>
        tf.tidy(() => softmaxCrossEntropy(m.apply(p, null, x, { training: true }).output!, labels));
      const names = Object.keys(params);
      const grads = tf.grads((...ts: tf.Tensor[]) => loss(Object.fromEntries(names.map((n, i) => [n, ts[i]!]))))(
        names.map((n) => params[n]!),
      );
      const g = Object.fromEntries(names.map((n, i) => [n, grads[i]!.dataSync()]));
      const picks = [
        'conv1.weight',
        'layer2.0.conv1.weight',
        'layer3.1.conv2.weight',
        variant === 'preact' ? 'layer4.0.shortcut.weight' : 'layer4.0.shortcut.conv.weight',
        'layer4.1.bn2.weight',
        'linear.weight',
      ];
      let agree = 0;
      let total = 0;
      const report: string[] = [];
      for (const name of picks) {
        const base = params[name]!.dataSync();
        let ok = 0;
        for (const idx of [1, 6, 11]) {
          const at = (delta: number) => {
            const v = Float32Array.from(base);
            v[idx] = v[idx]! + delta;
            const t = tf.tensor(v, params[name]!.shape);
            const l = loss({ ...params, [name]: t }).dataSync()[0]!;
            t.dispose();
            return l;
          };
          // The loss of this tiny net is strongly curved along single weights (a 1e-3 central difference is
          // 10% off at some stem weights), while float32 noise (~1e-6 of the loss) forbids steps below ~1e-4.
          // Richardson extrapolation of two central differences removes the h² term. ReLU kinks right at the
          // point can still spoil a coordinate, so each parameter must agree on 2 of 3 coordinates (a wrong
          // gradient fails all of them).
          const d = (h: number) => (at(h) - at(-h)) / (2 * h);
          const fd = (4 * d(5e-4) - d(1e-3)) / 3;
          const an = g[name]![idx]!;
          const good = Math.abs(an - fd) < 0.05 * Math.abs(an) + 1e-3;
          ok += good ? 1 : 0;
          report.push(`${name}[${idx}] analytic ${an.toFixed(5)} FD ${fd.toFixed(5)}${good ? '' : ' ✗'}`);
        }
        expect(ok, report.join('\n')).toBeGreaterThanOrEqual(2);
        agree += ok;
        total += 3;
      }
      expect(agree / total, report.join('\n')).toBeGreaterThanOrEqual(0.85);
      tf.dispose([...grads, x, labels]);
      disposeState(params, state);
    });
  }
});

describe('double backprop (doubleBackprop: true)', () => {
  it('the gradient of ‖∇L‖² through a ResNet agrees with a finite difference of ‖∇L‖² along a direction', () => {
    registerDoubleBackpropGradients();
    const m = preActResNet18({ width: 2, numClasses: 3, doubleBackprop: true });
    const { params } = m.init(21);
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 22) as tf.Tensor4D;
    const labels = tf.tensor1d([0, 2], 'int32');
    const names = Object.keys(params);
    const gradNormSq = (ts: tf.Tensor[]) => {
      const g = tf.grads((...us: tf.Tensor[]) =>
        softmaxCrossEntropy(m.apply(Object.fromEntries(names.map((n, i) => [n, us[i]!])), null, x, { training: true }).output!, labels),
      )(ts);
      return tf.addN(g.map((t) => tf.sum(tf.square(t)))) as tf.Scalar;
    };
    const w = names.map((n) => params[n]!);
    const second = tf.grads((...ts: tf.Tensor[]) => gradNormSq(ts))(w);
    // Direction: the linear layer's weights only (smooth in them), unit norm.
    const dir = w.map((t, i) => (names[i] === 'linear.weight' ? tf.randomNormal(t.shape, 0, 1, 'float32', 23) : tf.zerosLike(t)));
    const norm = Math.sqrt(dir.reduce((s, d) => s + tf.sum(tf.square(d)).dataSync()[0]!, 0));
    const analytic = second.reduce((s, g, i) => s + tf.sum(tf.mul(g, dir[i]!)).dataSync()[0]!, 0) / norm;
    const at = (h: number) => gradNormSq(w.map((t, i) => tf.add(t, tf.mul(dir[i]!, h / norm)))).dataSync()[0]!;
    const d = (h: number) => (at(h) - at(-h)) / (2 * h);
    const fd = (4 * d(5e-3) - d(1e-2)) / 3;
    expect(Math.abs(analytic - fd), `analytic ${analytic}, FD ${fd}`).toBeLessThan(0.05 * Math.abs(fd) + 1e-4);
    // The default (fused) BatchNorm is first-order only and says so by throwing.
    const fused = preActResNet18({ width: 2, numClasses: 3 });
    expect(() =>
      tf.grad((t: tf.Tensor) =>
        tf.sum(
          tf.square(
            tf.grad((u: tf.Tensor) =>
              softmaxCrossEntropy(fused.apply({ ...params, 'conv1.weight': u }, null, x, { training: true }).output!, labels),
            )(t),
          ),
        ),
      )(params['conv1.weight']!),
    ).toThrow(SecondOrderGradientError);
  });
});
