/**
 * SAM behaviour: ρ = 0 ≡ base optimizer (bitwise), the closed-form step on a quadratic, bit-identical
 * restore, the zero-gradient guard, ASAM and m-sharpness against hand-written math, schedules driving
 * the base optimizer, state round trips and typed errors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { bits, twoLayerLoss, useCpu } from '../test/helpers.js';
import {
  EmptyVariableListError,
  InvalidOptionError,
  InvalidRhoError,
  InvalidScheduleError,
  InvalidStateError,
  NonFiniteGradientError,
  NonScalarLossError,
} from './errors.js';
import type { StepContext } from './loss-gradients.js';
import { SAM } from './sam.js';
import { piecewise05Epochs, windowSchedule } from './schedules.js';

beforeAll(useCpu);

let uid = 0;
const v = (values: number[] | number[][], name = 'v') => tf.variable(tf.tensor(values), true, `${name}_${++uid}`);

/** A small deterministic two-layer problem. */
function problem() {
  const W = v(
    [
      [0.3, -0.2, 0.5],
      [-0.4, 0.1, 0.2],
      [0.25, 0.6, -0.3],
      [0.1, -0.5, 0.45],
    ],
    'W',
  );
  const a = v([0.5, -0.7, 0.2, 0.9], 'a');
  const X = tf.tensor([
    [0.2, 0.9, -0.4],
    [-0.6, 0.3, 0.7],
    [0.5, -0.5, 0.1],
    [0.9, 0.1, 0.3],
  ]);
  const y = tf.tensor([0.4, -0.3, 0.8, 0.1]);
  return { W, a, X, y, loss: () => twoLayerLoss(W, a, X, y), dispose: () => tf.dispose([W, a, X, y]) };
}

describe('rho = 0 is exactly the base optimizer', () => {
  for (const [name, make] of [
    ['sgd', () => tf.train.sgd(0.1)],
    ['momentum', () => tf.train.momentum(0.1, 0.9)],
    ['adam', () => tf.train.adam(0.01)],
  ] as const) {
    it(`${name}: 5 steps bit-identical, one pass per step`, () => {
      const p1 = problem();
      const p2 = problem();
      const base = make();
      const sam = new SAM(make(), { rho: 0, mSharpness: 2 });
      const passes: StepContext[] = [];
      for (let s = 0; s < 5; s++) {
        base.minimize(p1.loss, false, [p1.W, p1.a]);
        sam.minimize(
          (ctx) => {
            passes.push({ ...ctx });
            return p2.loss();
          },
          false,
          [p2.W, p2.a],
        );
      }
      expect(bits(p2.W)).toEqual(bits(p1.W));
      expect(bits(p2.a)).toEqual(bits(p1.a));
      // Inactive SAM runs one whole-batch pass (BatchNorm statistics updated once).
      expect(passes).toEqual(Array(5).fill({ pass: 'first', chunk: 0, chunks: 1 }));
      base.dispose();
      sam.dispose();
      p1.dispose();
      p2.dispose();
    });
  }

  it('a rho schedule that is 0 outside its window gives base steps there', () => {
    const p1 = problem();
    const p2 = problem();
    const sgd = tf.train.sgd(0.1);
    const sam = new SAM(tf.train.sgd(0.1), { rho: 0.2, rhoSchedule: windowSchedule(4, { start: 0.5 }) });
    const passes: string[] = [];
    for (let s = 0; s < 2; s++) {
      sgd.minimize(p1.loss, false, [p1.W, p1.a]);
      sam.minimize(({ pass }) => (passes.push(pass), p2.loss()), false, [p2.W, p2.a]);
    }
    expect(bits(p2.W)).toEqual(bits(p1.W));
    sam.minimize(({ pass }) => (passes.push(pass), p2.loss()), false, [p2.W, p2.a]);
    expect(passes).toEqual(['first', 'first', 'first', 'second']);
    sgd.dispose();
    sam.dispose();
    p1.dispose();
    p2.dispose();
  });
});

describe('closed form on a quadratic', () => {
  // L(w) = ½ wᵀAw − bᵀw: g = Aw − b; ε = ρg/‖g‖; g' = A(w + ε) − b; w ← w − lr·g'.
  const A = [
    [3, 0.5, 0],
    [0.5, 1, -0.25],
    [0, -0.25, 2],
  ];
  const b = [1, -2, 0.5];
  const matVec = (M: number[][], x: number[]) => M.map((row) => row.reduce((s, m, j) => s + m * x[j]!, 0));

  function expected(w: number[], rho: number, lr: number, normalize: boolean): number[] {
    const g = matVec(A, w).map((x, i) => x - b[i]!);
    const n = Math.hypot(...g);
    const eps = g.map((x) => (normalize ? (rho * x) / (n + 1e-12) : rho * x));
    const g2 = matVec(
      A,
      w.map((x, i) => x + eps[i]!),
    ).map((x, i) => x - b[i]!);
    return w.map((x, i) => x - lr * g2[i]!);
  }

  for (const normalize of [true, false]) {
    it(`normalize ${normalize}: 3 steps match the float64 closed form`, () => {
      const w = v([0.7, -1.2, 2.0], 'q');
      const At = tf.tensor2d(A);
      const bt = tf.tensor1d(b);
      const loss = () =>
        tf.sub(tf.mul(0.5, tf.sum(tf.mul(w, tf.squeeze(tf.matMul(At, tf.reshape(w, [3, 1])))))), tf.sum(tf.mul(bt, w))) as tf.Scalar;
      const sam = new SAM(tf.train.sgd(0.1), { rho: 0.3, normalize });
      let ref = [0.7, -1.2, 2.0];
      for (let s = 0; s < 3; s++) {
        sam.minimize(loss, false, [w]);
        ref = expected(ref, 0.3, 0.1, normalize);
        const got = Array.from(w.dataSync());
        got.forEach((x, i) => expect(Math.abs(x - ref[i]!)).toBeLessThan(2e-6 * (1 + Math.abs(ref[i]!))));
      }
      sam.dispose();
      tf.dispose([w, At, bt]);
    });
  }
});

describe('weights are restored bit-identically', () => {
  it('computeGradients leaves every weight bit-identical and returns the SAM gradient', () => {
    const p = problem();
    const before = [bits(p.W), bits(p.a)];
    const sam = new SAM(tf.train.sgd(0.1), { rho: 0.5, mSharpness: 2 });
    const { value, grads } = sam.computeGradients(() => p.loss(), [p.W, p.a]);
    expect([bits(p.W), bits(p.a)]).toEqual(before);
    expect(Object.keys(grads)).toEqual([p.W.name, p.a.name]);
    tf.dispose([value, ...Object.values(grads)]);
    sam.dispose();
    p.dispose();
  });

  it('when the closure throws in the second pass, weights are restored and nothing leaks', () => {
    const p = problem();
    const before = [bits(p.W), bits(p.a)];
    const sam = new SAM(tf.train.sgd(0.1), { rho: 0.5 });
    const n0 = tf.memory().numTensors;
    expect(() =>
      sam.minimize(
        ({ pass }) => {
          if (pass === 'second') throw new Error('boom');
          return p.loss();
        },
        false,
        [p.W, p.a],
      ),
    ).toThrow('boom');
    expect([bits(p.W), bits(p.a)]).toEqual(before);
    expect(tf.memory().numTensors).toBe(n0);
    expect(sam.iterations).toBe(0);
    sam.dispose();
    p.dispose();
  });
});

describe('zero gradient', () => {
  it('epsilon 0 and ‖g‖ = 0 give ε = 0 (not NaN): the step is a no-op', () => {
    const w = v([1, 2, 3], 'z');
    const sam = new SAM(tf.train.sgd(0.1), { rho: 0.1, epsilon: 0 });
    let second: number[] = [];
    // Constant loss in w: gradient exactly 0.
    sam.minimize(
      ({ pass }) => {
        if (pass === 'second') second = Array.from(w.dataSync());
        return tf.sum(tf.mul(w, 0)) as tf.Scalar;
      },
      false,
      [w],
    );
    expect(second).toEqual([1, 2, 3]);
    expect(Array.from(w.dataSync())).toEqual([1, 2, 3]);
    sam.dispose();
    w.dispose();
  });

  it('a run with zero gradient among runs gets ε = 0 while the others move', () => {
    const w = v(
      [
        [1, 2],
        [3, 4],
      ],
      'zr',
    );
    const sam = new SAM(tf.train.sgd(0.1), { rho: 0.1, epsilon: 0, runs: 2 });
    let second: number[] = [];
    const mask = tf.tensor2d([
      [0, 0],
      [1, 1],
    ]);
    sam.minimize(
      ({ pass }) => {
        if (pass === 'second') second = Array.from(w.dataSync());
        return tf.sum(tf.square(tf.mul(w, mask))) as tf.Scalar;
      },
      false,
      [w],
    );
    expect(second.slice(0, 2)).toEqual([1, 2]);
    expect(second.slice(2).every(Number.isFinite)).toBe(true);
    expect(second[2]).not.toBe(3);
    sam.dispose();
    tf.dispose([w, mask]);
  });
});

describe('ASAM and m-sharpness against hand-written math', () => {
  it('adaptive: ε = ρ T²g / ‖T g‖, T = |w| + η', () => {
    const w = v([0.5, -2, 1], 'as');
    const sam = new SAM(tf.train.sgd(0.1), { rho: 0.2, adaptive: true, eta: 0.1 });
    // L = Σ c_i w_i² → g = 2 c w
    const c = [1, 0.5, 3];
    let perturbed: number[] = [];
    sam.minimize(
      ({ pass }) => {
        if (pass === 'second') perturbed = Array.from(w.dataSync());
        return tf.sum(tf.mul(tf.tensor1d(c), tf.square(w))) as tf.Scalar;
      },
      false,
      [w],
    );
    const w0 = [0.5, -2, 1];
    const g = w0.map((x, i) => 2 * c[i]! * x);
    const T = w0.map((x) => Math.abs(x) + 0.1);
    const n = Math.hypot(...g.map((x, i) => T[i]! * x));
    const eps = g.map((x, i) => (0.2 * T[i]! * T[i]! * x) / n);
    perturbed.forEach((p, i) => expect(p).toBeCloseTo(w0[i]! + eps[i]!, 5));
    sam.dispose();
    w.dispose();
  });

  it('mSharpness: one perturbation per chunk, chunk gradients averaged', () => {
    const w = v([0.3, -0.6], 'ms');
    const data = [
      [1, 2],
      [-1, 0.5],
      [0.2, -0.3],
      [2, 1],
    ];
    const chunkLoss = (rows: number[][]) => tf.mean(tf.square(tf.sub(tf.sum(tf.mul(tf.tensor2d(rows), w), 1), 1))) as tf.Scalar;
    const sam = new SAM(tf.train.sgd(1), { rho: 0.1, mSharpness: 2 });
    const seen: string[] = [];
    const value = sam.computeGradients(
      ({ pass, chunk, chunks }) => {
        seen.push(`${pass}${chunk}/${chunks}`);
        return chunkLoss(data.slice(chunk * 2, chunk * 2 + 2));
      },
      [w],
    );
    expect(seen).toEqual(['first0/2', 'second0/2', 'first1/2', 'second1/2']);
    // Reference: SAM gradient of each chunk separately (rho 0.1), averaged.
    const ref = [0, 1].map((c) => {
      const s = new SAM(tf.train.sgd(1), { rho: 0.1 });
      const r = s.computeGradients(() => chunkLoss(data.slice(c * 2, c * 2 + 2)), [w]);
      const out = { g: Array.from(r.grads[w.name]!.dataSync()), l: r.value.dataSync()[0]! };
      tf.dispose([r.value, ...Object.values(r.grads)]);
      s.dispose();
      return out;
    });
    const g = Array.from(value.grads[w.name]!.dataSync());
    g.forEach((x, i) => expect(x).toBeCloseTo((ref[0]!.g[i]! + ref[1]!.g[i]!) / 2, 5));
    expect(value.value.dataSync()[0]).toBeCloseTo((ref[0]!.l + ref[1]!.l) / 2, 5);
    tf.dispose([value.value, ...Object.values(value.grads)]);
    sam.dispose();
    w.dispose();
  });
});

describe('weight decay and schedules', () => {
  it('weight decay is added at the restored weights, not inside ε', () => {
    const w = v([1, -1], 'wd');
    const sam = new SAM(tf.train.sgd(1), { rho: 0.1, weightDecay: 0.5 });
    let perturbed: number[] = [];
    const { value, grads } = sam.computeGradients(
      ({ pass }) => {
        if (pass === 'second') perturbed = Array.from(w.dataSync());
        return tf.sum(tf.mul(tf.tensor1d([2, 3]), w)) as tf.Scalar; // g = (2, 3), constant
      },
      [w],
    );
    const n = Math.hypot(2, 3);
    expect(perturbed[0]).toBeCloseTo(1 + (0.1 * 2) / n, 6);
    expect(perturbed[1]).toBeCloseTo(-1 + (0.1 * 3) / n, 6);
    const g = Array.from(grads[w.name]!.dataSync());
    expect(g[0]).toBeCloseTo(2 + 0.5 * 1, 6);
    expect(g[1]).toBeCloseTo(3 + 0.5 * -1, 6);
    tf.dispose([value, ...Object.values(grads)]);
    sam.dispose();
    w.dispose();
  });

  it('lrSchedule drives the base optimizer from iterations (piecewise05Epochs)', () => {
    const w = v([0], 'lr');
    const base = tf.train.momentum(0.1, 0.9);
    const sam = new SAM(base, { rho: 0.01, lrSchedule: piecewise05Epochs(10) });
    const lrs: number[] = [];
    for (let s = 0; s < 10; s++) {
      sam.minimize(() => tf.sum(tf.mul(w, 1)) as tf.Scalar, false, [w]);
      lrs.push((base as unknown as { learningRate: number }).learningRate);
    }
    expect(lrs).toEqual([0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.001]);
    expect(sam.iterations).toBe(10);
    sam.dispose();
    w.dispose();
  });
});

describe('state', () => {
  it('getWeights/setWeights round trip (iterations, rho, base momentum slots)', async () => {
    const p = problem();
    const sam = new SAM(tf.train.momentum(0.1, 0.9), { rho: 0.2, weightDecay: 1e-3 });
    for (let s = 0; s < 3; s++) sam.minimize(p.loss, false, [p.W, p.a]);
    sam.setRho(0.3);
    const weights = await sam.getWeights();
    expect(weights.map((w) => w.name)).toEqual(['iter', 'sam/rho', 'base/iter', `base/${p.W.name}/momentum`, `base/${p.a.name}/momentum`]);
    const copies = weights.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    // Full checkpoint: config (hyperparameters) + weights (iterations, rho, slots).
    const restored = SAM.fromConfig(SAM, sam.getConfig()) as SAM;
    await restored.setWeights(copies);
    expect(restored.iterations).toBe(3);
    expect(restored.rho).toBe(0.3);
    // Both continue identically from the same weights.
    const p2 = problem();
    tf.tidy(() => {
      p2.W.assign(p.W);
      p2.a.assign(p.a);
    });
    sam.minimize(p.loss, false, [p.W, p.a]);
    // p2's variables have other names, so map the slots by position (tfjs keys momentum slots by index).
    restored.minimize(p2.loss, false, [p2.W, p2.a]);
    expect(bits(p2.W)).toEqual(bits(p.W));
    await expect(restored.setWeights([{ name: 'nope', tensor: tf.scalar(1) }])).rejects.toThrow(InvalidStateError);
    sam.dispose();
    restored.dispose();
    p.dispose();
    p2.dispose();
  });

  it('getConfig/fromConfig round trip through tf.serialization', () => {
    const sam = new SAM(tf.train.momentum(0.05, 0.8, true), {
      rho: [0.1, 0.2],
      runs: 2,
      epsilon: 1e-7,
      normalize: false,
      adaptive: true,
      eta: 0.02,
      weightDecay: 5e-4,
      mSharpness: 4,
      checkFinite: false,
    });
    const config = sam.getConfig();
    const entry = tf.serialization.SerializationMap.getMap().classNameMap['SAM'];
    expect(entry).toBeDefined();
    const [cls, fromConfig] = entry!;
    const copy = fromConfig(cls, JSON.parse(JSON.stringify(config))) as SAM;
    expect(copy).toBeInstanceOf(SAM);
    expect(copy.getConfig()).toEqual(config);
    expect(copy.base.getClassName()).toBe('Momentum');
    expect(copy.base.getConfig()).toEqual({ learningRate: 0.05, momentum: 0.8, useNesterov: true });
    expect(() => SAM.fromConfig(SAM, { ...config, base: { className: 'NoSuchOptimizer', config: {} } })).toThrow(InvalidStateError);
    sam.dispose();
    copy.dispose();
  });
});

describe('typed errors', () => {
  it('negative / NaN / infinite rho, in options, setRho and schedules', () => {
    expect(() => new SAM(tf.train.sgd(0.1), { rho: -0.1 })).toThrow(InvalidRhoError);
    expect(() => new SAM(tf.train.sgd(0.1), { rho: NaN })).toThrow(InvalidRhoError);
    expect(() => new SAM(tf.train.sgd(0.1), { rho: [0.1, -1], runs: 2 })).toThrow(InvalidRhoError);
    const sam = new SAM(tf.train.sgd(0.1), { rho: 0.1, rhoSchedule: () => NaN });
    expect(() => sam.setRho(Infinity)).toThrow(InvalidRhoError);
    expect(() => sam.rhoAt(0)).toThrow(InvalidScheduleError);
    sam.dispose();
  });

  it('bad options', () => {
    expect(() => new SAM(tf.train.sgd(0.1), { epsilon: -1 })).toThrow(InvalidOptionError);
    expect(() => new SAM(tf.train.sgd(0.1), { mSharpness: 0 })).toThrow(InvalidOptionError);
    expect(() => new SAM(tf.train.sgd(0.1), { runs: 1.5 })).toThrow(InvalidOptionError);
    expect(() => new SAM(tf.train.sgd(0.1), { weightDecay: NaN })).toThrow(InvalidOptionError);
    expect(() => new SAM({} as tf.Optimizer)).toThrow(InvalidOptionError);
    const inner = new SAM(tf.train.sgd(0.1));
    expect(() => new SAM(inner)).toThrow(InvalidOptionError);
    inner.dispose();
  });

  it('empty variable list', () => {
    const sam = new SAM(tf.train.sgd(0.1));
    expect(() => sam.minimize(() => tf.scalar(1), false, [])).toThrow(EmptyVariableListError);
    const frozen = tf.variable(tf.zeros([2]), false, `frozen_${++uid}`);
    expect(() => sam.minimize(() => tf.sum(frozen) as tf.Scalar, false, [frozen])).toThrow(EmptyVariableListError);
    sam.dispose();
    frozen.dispose();
  });

  it('non-scalar loss: typed error, weights untouched, nothing leaked', () => {
    const p = problem();
    const sam = new SAM(tf.train.sgd(0.1));
    const before = bits(p.W);
    const n0 = tf.memory().numTensors;
    expect(() => sam.minimize(() => tf.mul(p.W, 2) as unknown as tf.Scalar, false, [p.W, p.a])).toThrow(NonScalarLossError);
    expect(bits(p.W)).toEqual(before);
    expect(tf.memory().numTensors).toBe(n0);
    sam.dispose();
    p.dispose();
  });

  it('NaN / Inf gradient: reported with the variable name, weights untouched, nothing leaked', () => {
    const p = problem();
    const sam = new SAM(tf.train.momentum(0.1, 0.9), { rho: 0.1 });
    sam.minimize(p.loss, false, [p.W, p.a]); // create the momentum slots first
    const before = [bits(p.W), bits(p.a)];
    const n0 = tf.memory().numTensors;
    let err: unknown;
    try {
      // sqrt(a) has an infinite/NaN gradient where a <= 0 (a holds negative entries).
      sam.minimize(() => tf.add(p.loss(), tf.sum(tf.sqrt(p.a))) as tf.Scalar, false, [p.W, p.a]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NonFiniteGradientError);
    expect((err as NonFiniteGradientError).variableName).toBe(p.a.name);
    expect((err as Error).message).toContain(p.a.name);
    expect([bits(p.W), bits(p.a)]).toEqual(before);
    expect(tf.memory().numTensors).toBe(n0);
    expect(sam.iterations).toBe(1);
    sam.dispose();
    p.dispose();
  });
});
