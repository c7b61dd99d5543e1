import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { registerDoubleBackpropGradients } from '@samrank/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointFormatError, InputShapeError, ModelConfigError, ParamsMismatchError } from './errors.js';
import { disposeState } from './init.js';
import { softmaxCrossEntropy } from './losses.js';
import { mlpMixer } from './mixer.js';
import { createModel } from './registry.js';
import { valueAndGrads } from './training.js';
import { CheckpointKeysError, type CheckpointArrays, inspectVisionCheckpoint, linenKeyMap, visionCheckpoint } from './vision-checkpoint.js';
import { vit } from './vit.js';
import type { Params } from './types.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

const TINY_VIT = { imageSize: 16, patchSize: 4, hiddenSize: 8, depth: 3, heads: 2, mlpDim: 12, numClasses: 5 };
const TINY_MIXER = { imageSize: 16, patchSize: 4, hiddenDim: 8, depth: 2, tokensMlpDim: 6, channelsMlpDim: 12, numClasses: 5 };

/** Parameters as checkpoint arrays (Linen keys, '/' separators), with random values so every weight matters. */
function toArrays(params: Params, seed = 5): Record<string, { shape: number[]; data: Float32Array }> {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  let s = seed;
  for (const [name, v] of Object.entries(params)) {
    const data = tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', s++)).dataSync() as Float32Array);
    out[name.replaceAll('.', '/')] = { shape: [...v.shape], data: Float32Array.from(data) };
  }
  return out;
}

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('ViT and MLP-Mixer models', () => {
  it('ViT-B/16 and Mixer-B/16 have the published parameter counts; taps are named per block', () => {
    expect(vit().numParams).toBe(86_567_656);
    expect(mlpMixer().numParams).toBe(59_880_472);
    expect(createModel('vit', { ...TINY_VIT }).name).toBe('vit');
    expect(createModel('mlp-mixer', { ...TINY_MIXER }).name).toBe('mlp-mixer');
    const m = vit(TINY_VIT);
    expect(m.tapNames.slice(0, 7)).toEqual(['L1.preatt', 'L1.att', 'L1.premlp', 'L1.pregelu', 'L1.gelu', 'L1.mlp', 'L1.res']);
    expect(m.tapNames).toHaveLength(21);
    expect(m.tokens).toBe(17);
    expect(mlpMixer(TINY_MIXER).tapNames).toEqual(['L1.res', 'L2.res']);
    expect(() => vit({ hiddenSize: 10, heads: 3 })).toThrow(ModelConfigError);
    expect(() => vit({ resnetRoot: { width: 48 } })).toThrow(/multiple of 32/);
    expect(() => mlpMixer({ depth: 0 })).toThrow(ModelConfigError);
  });

  it('apply: logits, the representation without a head, taps at token 0, output: false stops early', () => {
    const m = vit(TINY_VIT);
    const { params } = m.init(1);
    const x = tf.randomNormal([3, 16, 16, 3], 0, 1, 'float32', 2);
    const full = m.apply(params, null, x, { training: false, taps: m.tapNames });
    expect(full.output!.shape).toEqual([3, 5]);
    expect(full.taps['L2.gelu']!.shape).toEqual([3, 12]);
    expect(full.taps['L3.res']!.shape).toEqual([3, 8]);
    // premlp = preatt + att and res = premlp + mlp at token 0; L(k+1).preatt = L(k).res.
    expect(maxAbsDiff(full.taps['L2.premlp']!, tf.add(full.taps['L2.preatt']!, full.taps['L2.att']!))).toBeLessThan(1e-6);
    expect(maxAbsDiff(full.taps['L2.res']!, tf.add(full.taps['L2.premlp']!, full.taps['L2.mlp']!))).toBeLessThan(1e-6);
    expect(maxAbsDiff(full.taps['L3.preatt']!, full.taps['L2.res']!)).toBe(0);
    const part = m.apply(params, null, x, { training: false, output: false, taps: ['L1.res'] });
    expect(part.output).toBeUndefined();
    expect(maxAbsDiff(part.taps['L1.res']!, full.taps['L1.res']!)).toBe(0);
    const rep = vit({ ...TINY_VIT, numClasses: 0, representationSize: 6 });
    expect(rep.apply(rep.init(0).params, null, x, { training: false }).output!.shape).toEqual([3, 6]);
    expect(() => m.apply(params, null, tf.zeros([1, 32, 32, 3]), { training: false })).toThrow(InputShapeError);
    expect(() => m.apply({ ...params, cls: tf.zeros([1, 1, 9]) }, null, x, { training: false })).toThrow(ParamsMismatchError);
    expect(() => m.apply(params, null, x, { training: false, taps: ['L4.res'] })).toThrow(/no tap 'L4.res'/);
    const mixer = mlpMixer(TINY_MIXER);
    const mo = mixer.apply(mixer.init(3).params, null, x, { training: false, taps: ['L1.res', 'L2.res'] });
    expect(mo.output!.shape).toEqual([3, 5]);
    expect(mo.taps['L2.res']!.shape).toEqual([3, 8]);
  });

  for (const kind of ['vit', 'mixer'] as const) {
    it(`${kind}: a training step (SGD on valueAndGrads) leaves tf.memory().numTensors unchanged`, () => {
      const m = kind === 'vit' ? vit(TINY_VIT) : mlpMixer(TINY_MIXER);
      const { params } = m.init(4);
      // Flax's zero head would leave every other gradient zero at the first step.
      params['head.kernel']!.assign(tf.randomNormal([8, 5], 0, 0.5, 'float32', 9));
      const x = tf.randomNormal([4, 16, 16, 3], 0, 1, 'float32', 5);
      const y = tf.tensor1d([0, 1, 2, 3], 'int32');
      const sgd = tf.train.sgd(0.05);
      const step = () =>
        tf.tidy(() => {
          const { value, grads } = valueAndGrads(params, () =>
            softmaxCrossEntropy(m.apply(params, {}, x, { training: true }).output as tf.Tensor2D, y),
          );
          sgd.applyGradients(Object.entries(params).map(([n, v]) => ({ name: v.name, tensor: grads[n]! })));
          return value.dataSync()[0]!;
        });
      const first = step();
      const before = tf.memory().numTensors;
      let last = first;
      for (let i = 0; i < 5; i++) last = step();
      expect(tf.memory().numTensors).toBe(before);
      expect(last).toBeLessThan(first);
      sgd.dispose();
      tf.dispose([x, y]);
      disposeState(params);
    });
  }

  it('LayerNorm, GELU, attention and softmax are differentiable twice: ∇‖∇L‖² agrees with a finite difference', () => {
    registerDoubleBackpropGradients();
    const m = vit({ ...TINY_VIT, depth: 1 });
    const { params } = m.init(6);
    const arrays = toArrays(params, 30);
    const names = Object.keys(params);
    const w = names.map((n) => tf.tensor(arrays[n.replaceAll('.', '/')]!.data, params[n]!.shape));
    const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 7);
    const labels = tf.tensor1d([1, 3], 'int32');
    const gradNormSq = (ts: tf.Tensor[]) => {
      const g = tf.grads((...us: tf.Tensor[]) =>
        softmaxCrossEntropy(
          m.apply(Object.fromEntries(names.map((n, i) => [n, us[i]!])), null, x, { training: true }).output as tf.Tensor2D,
          labels,
        ),
      )(ts);
      return tf.addN(g.map((t) => tf.sum(tf.square(t)))) as tf.Scalar;
    };
    const second = tf.grads((...ts: tf.Tensor[]) => gradNormSq(ts))(w);
    // A direction through the attention, the LayerNorms and the MLP (GELU).
    const along = new Set(
      ['LayerNorm_0.scale', 'query.kernel', 'key.kernel', 'Dense_0.kernel', 'LayerNorm_1.bias'].map(
        (s) =>
          `Transformer.encoderblock_0.${s.startsWith('q') || s.startsWith('k') ? `MultiHeadDotProductAttention_0.${s}` : s.startsWith('D') ? `MlpBlock_0.${s}` : s}`,
      ),
    );
    expect(along.size).toBe(5);
    const dir = w.map((t, i) => (along.has(names[i]!) ? tf.randomNormal(t.shape, 0, 1, 'float32', 40 + i) : tf.zerosLike(t)));
    const norm = Math.sqrt(dir.reduce((s, d) => s + tf.sum(tf.square(d)).dataSync()[0]!, 0));
    const analytic = second.reduce((s, g, i) => s + tf.sum(tf.mul(g, dir[i]!)).dataSync()[0]!, 0) / norm;
    const at = (h: number) => gradNormSq(w.map((t, i) => tf.add(t, tf.mul(dir[i]!, h / norm)))).dataSync()[0]!;
    const d = (h: number) => (at(h) - at(-h)) / (2 * h);
    const fd = (4 * d(5e-3) - d(1e-2)) / 3;
    expect(Math.abs(analytic), 'a non-trivial second derivative').toBeGreaterThan(1e-3);
    expect(Math.abs(analytic - fd), `analytic ${analytic}, FD ${fd}`).toBeLessThan(0.03 * Math.abs(fd) + 1e-4);
    disposeState(params);
  });
});

describe('models from vision_transformer checkpoints', () => {
  it('infers a ViT and a Mixer from keys and shapes and reproduces the model the arrays came from', () => {
    for (const kind of ['vit', 'mixer'] as const) {
      const m = kind === 'vit' ? vit(TINY_VIT) : mlpMixer(TINY_MIXER);
      const { params } = m.init(8);
      const arrays = toArrays(params);
      const ck = visionCheckpoint(arrays);
      expect(ck.architecture).toBe(kind);
      expect(ck.naming).toBe('linen');
      expect(ck.model.config).toEqual(m.config);
      expect(ck.description).toMatch(
        kind === 'vit' ? /^ViT: 3 blocks, width 8, 2 heads, MLP 12, 4×4 patches, 16×16 input, 5 classes$/ : /^MLP-Mixer: 2 blocks/,
      );
      const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 9);
      const direct = Object.fromEntries(
        Object.keys(params).map((n) => [n, tf.tensor(arrays[n.replaceAll('.', '/')]!.data, params[n]!.shape)]),
      );
      expect(
        maxAbsDiff(ck.model.apply(ck.params, null, x, { training: false }).output!, m.apply(direct, null, x, { training: false }).output!),
      ).toBe(0);
      expect(Object.values(ck.params).every((v) => !v.trainable)).toBe(true);
      expect(Object.values(visionCheckpoint(arrays, { trainable: true }).params).every((v) => v.trainable)).toBe(true);
      disposeState(params);
      disposeState(ck.params);
    }
  });

  it('reads the pre-Linen names of the published ImageNet checkpoints (renumbered per module kind)', () => {
    const m = vit(TINY_VIT);
    const { params } = m.init(10);
    const linen = toArrays(params);
    const preLinen: Record<string, { shape: number[]; data: Float32Array }> = {};
    const rename: Record<string, string> = {
      MultiHeadDotProductAttention_0: 'MultiHeadDotProductAttention_1',
      LayerNorm_1: 'LayerNorm_2',
      MlpBlock_0: 'MlpBlock_3',
    };
    for (const [k, v] of Object.entries(linen))
      preLinen[
        k
          .split('/')
          .map((p, i) => (i === 2 && rename[p]) || p)
          .join('/')
      ] = v;
    expect(Object.keys(preLinen)).toContain('Transformer/encoderblock_2/MlpBlock_3/Dense_1/kernel');
    expect(linenKeyMap(Object.keys(preLinen)).get('Transformer/encoderblock_1/LayerNorm_2/scale')).toBe(
      'Transformer/encoderblock_1/LayerNorm_1/scale',
    );
    const a = visionCheckpoint(linen);
    const b = visionCheckpoint(preLinen);
    expect(b.naming).toBe('pre-linen');
    const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 11);
    const ta = a.model.apply(a.params, null, x, { training: false, taps: a.model.tapNames });
    const tb = b.model.apply(b.params, null, x, { training: false, taps: b.model.tapNames });
    for (const t of a.model.tapNames) expect(maxAbsDiff(ta.taps[t]!, tb.taps[t]!)).toBe(0);
    disposeState(params);
  });

  it('missing, unexpected and mis-shaped keys are one typed error naming each; non-checkpoints are refused', () => {
    const { params } = vit(TINY_VIT).init(12);
    const arrays = toArrays(params);
    const without = { ...arrays };
    delete without['Transformer/encoderblock_1/LayerNorm_1/bias'];
    const err = (a: CheckpointArrays) => {
      try {
        visionCheckpoint(a);
      } catch (e) {
        return e as CheckpointKeysError;
      }
      throw new Error('no error');
    };
    const missing = err(without);
    expect(missing).toBeInstanceOf(CheckpointKeysError);
    expect(missing).toBeInstanceOf(CheckpointFormatError);
    expect(missing.missing).toEqual(['Transformer/encoderblock_1/LayerNorm_1/bias']);
    expect(missing.message).toMatch(/does not fit a ViT: missing key Transformer\/encoderblock_1\/LayerNorm_1\/bias/);
    const extra = err({ ...arrays, 'Transformer/encoderblock_0/extra/kernel': { shape: [1], data: new Float32Array(1) } });
    expect(extra.extra).toEqual(['Transformer/encoderblock_0/extra/kernel']);
    const shaped = err({ ...arrays, 'Transformer/encoderblock_2/MlpBlock_0/Dense_1/bias': { shape: [7], data: new Float32Array(7) } });
    expect(shaped.shapeMismatches).toEqual([{ key: 'Transformer/encoderblock_2/MlpBlock_0/Dense_1/bias', expected: [8], actual: [7] }]);
    expect(shaped.message).toMatch(/wrong shape: Transformer\/encoderblock_2\/MlpBlock_0\/Dense_1\/bias is \[7\], expected \[8\]/);
    expect(() => visionCheckpoint({ 'head/kernel': { shape: [2, 2], data: new Float32Array(4) } })).toThrow(
      /neither a ViT .* nor an MLP-Mixer/,
    );
    expect(() => visionCheckpoint({ ...arrays, cls: { shape: [1, 1, 8], data: new Float32Array(3) } })).toThrow(
      /needs 8 float32 values, got 3/,
    );
    const noPos = { ...arrays };
    delete noPos['Transformer/posembed_input/pos_embedding'];
    expect(err(noPos).missing).toEqual(['Transformer/posembed_input/pos_embedding']);
    expect(inspectVisionCheckpoint(Object.fromEntries(Object.entries(arrays).map(([k, v]) => [k, v.shape]))).architecture).toBe('vit');
    disposeState(params);
  });
});

// ---- the hybrid's ResNet root against a float64 reference written here ----

/** Float64 root: StdConv 7×7/2 SAME (no bias), GroupNorm(32, ε 1e-6), ReLU, max-pool 3×3/2 SAME; NHWC in and out. */
function rootReference(
  x: Float64Array,
  [n, s, c]: [number, number, number],
  kernel: Float64Array,
  width: number,
  gScale: Float64Array,
  gBias: Float64Array,
) {
  const K = 7;
  const fan = K * K * c;
  const w = new Float64Array(kernel.length);
  for (let o = 0; o < width; o++) {
    let mean = 0;
    for (let i = 0; i < fan; i++) mean += kernel[i * width + o]!;
    mean /= fan;
    let v = 0;
    for (let i = 0; i < fan; i++) v += (kernel[i * width + o]! - mean) ** 2;
    const std = Math.sqrt(v / fan);
    for (let i = 0; i < fan; i++) w[i * width + o] = (kernel[i * width + o]! - mean) / (std + 1e-5);
  }
  const same = (size: number, k: number) => {
    const out = Math.ceil(size / 2);
    return { out, before: Math.floor(Math.max((out - 1) * 2 + k - size, 0) / 2) };
  };
  const { out: o1, before: p1 } = same(s, K);
  const conv = new Float64Array(n * o1 * o1 * width);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < o1; i++)
      for (let j = 0; j < o1; j++)
        for (let o = 0; o < width; o++) {
          let acc = 0;
          for (let ki = 0; ki < K; ki++)
            for (let kj = 0; kj < K; kj++) {
              const y = 2 * i + ki - p1;
              const xx = 2 * j + kj - p1;
              if (y < 0 || y >= s || xx < 0 || xx >= s) continue;
              for (let ci = 0; ci < c; ci++) acc += x[((b * s + y) * s + xx) * c + ci]! * w[((ki * K + kj) * c + ci) * width + o]!;
            }
          conv[((b * o1 + i) * o1 + j) * width + o] = acc;
        }
  const per = width / 32;
  for (let b = 0; b < n; b++)
    for (let g = 0; g < 32; g++) {
      const idx: number[] = [];
      for (let p = 0; p < o1 * o1; p++) for (let k = g * per; k < (g + 1) * per; k++) idx.push((b * o1 * o1 + p) * width + k);
      const mean = idx.reduce((a, i) => a + conv[i]!, 0) / idx.length;
      const v = idx.reduce((a, i) => a + (conv[i]! - mean) ** 2, 0) / idx.length;
      for (const i of idx) conv[i] = Math.max(0, ((conv[i]! - mean) / Math.sqrt(v + 1e-6)) * gScale[i % width]! + gBias[i % width]!);
    }
  const { out: o2, before: p2 } = same(o1, 3);
  const pooled = new Float64Array(n * o2 * o2 * width);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < o2; i++)
      for (let j = 0; j < o2; j++)
        for (let o = 0; o < width; o++) {
          let m = -Infinity;
          for (let ki = 0; ki < 3; ki++)
            for (let kj = 0; kj < 3; kj++) {
              const y = 2 * i + ki - p2;
              const xx = 2 * j + kj - p2;
              if (y >= 0 && y < o1 && xx >= 0 && xx < o1) m = Math.max(m, conv[((b * o1 + y) * o1 + xx) * width + o]!);
            }
          pooled[((b * o2 + i) * o2 + j) * width + o] = m;
        }
  return { pooled, size: o2 };
}

describe('the R+Ti-style ResNet root', () => {
  it('a hybrid ViT equals the plain ViT applied to a float64 reference of its root, tap for tap', () => {
    const hybridOptions = {
      imageSize: 30,
      patchSize: 2,
      hiddenSize: 8,
      depth: 2,
      heads: 2,
      mlpDim: 12,
      numClasses: 3,
      resnetRoot: { width: 32 },
    };
    const hybrid = vit(hybridOptions);
    // 30 → 15 (conv) → 8 (pool) → 4×4 patches of 2.
    expect(hybrid.tokens).toBe(17);
    const { params } = hybrid.init(13);
    const arrays = toArrays(params, 50);
    // Root weights with a clear structure: the GroupNorm scale and bias as [1, 1, 1, C] (older Flax), squeezed on load.
    arrays['gn_root/scale'] = { shape: [1, 1, 1, 32], data: arrays['gn_root/scale']!.data };
    arrays['gn_root/bias'] = { shape: [1, 1, 1, 32], data: arrays['gn_root/bias']!.data };
    const ck = visionCheckpoint(arrays);
    expect(ck.description).toMatch(/^ViT with a ResNet root \(width 32\): 2 blocks/);
    expect(ck.model.config.imageSize).toBe(32); // inferred: grid 4 × patch 2 × 4
    // The checkpoint says 32 px (30 gives the same grid); check both through the same reference.
    const x = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 14);
    const ref = rootReference(
      Float64Array.from(x.dataSync()),
      [2, 32, 3],
      Float64Array.from(arrays['conv_root/kernel']!.data),
      32,
      Float64Array.from(arrays['gn_root/scale']!.data),
      Float64Array.from(arrays['gn_root/bias']!.data),
    );
    expect(ref.size).toBe(8);
    const plain = vit({ ...hybridOptions, imageSize: 8, resnetRoot: null, inChannels: 32 });
    const plainParams = Object.fromEntries(plain.paramSpecs.map((s) => [s.name, ck.params[s.name]!]));
    const rootOut = tf.tensor4d(Float32Array.from(ref.pooled), [2, 8, 8, 32]);
    const a = ck.model.apply(ck.params, null, x, { training: false, taps: ck.model.tapNames });
    const b = plain.apply(plainParams, null, rootOut, { training: false, taps: plain.tapNames });
    for (const t of plain.tapNames) {
      const [ta, tb] = [a.taps[t]!.dataSync(), b.taps[t]!.dataSync()];
      for (let i = 0; i < ta.length; i++)
        expect(Math.abs(ta[i]! - tb[i]!), `${t}[${i}]`).toBeLessThanOrEqual(1e-4 + 1e-3 * Math.abs(tb[i]!));
    }
    expect(maxAbsDiff(a.output!, b.output!)).toBeLessThan(1e-3);
    disposeState(params);
    disposeState(ck.params);
  });
});
