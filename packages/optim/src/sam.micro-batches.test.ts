/**
 * Micro-batched SAM (`microBatches: k`): one perturbation from the gradient accumulated over k equal
 * micro-batches equals full-batch SAM (golden fixtures and a small MLP), composes with momentum, weight
 * decay, schedules, runs and m-sharpness, ρ = 0 is accumulated SGD, and it neither leaks nor accepts
 * bad values.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bits,
  convKeys,
  convLoss,
  convSamFixture,
  disposeLoss,
  expectClose,
  loadFixture,
  expectParamsAndMomentumAfter,
  twoLayerLoss,
  twoLayerRunLosses,
  twoLayerSamFixture,
  useCpu,
  type Tol,
} from '../test/helpers.js';
import { sliceChunk } from './chunks.js';
import { InvalidOptionError, NonFiniteGradientError } from './errors.js';
import type { StepContext } from './loss-gradients.js';
import { SAM, type SAMOptions } from './sam.js';
import { cosineSchedule, windowSchedule } from './schedules.js';

beforeAll(useCpu);

/** Micro-batched vs full-batch tfjs: only the summation order differs (float32 rounding). */
const ROUNDING: Tol = { atol: 2e-6, rtol: 1e-5 };
const vals = (t: tf.Tensor): number[] => Array.from(t.dataSync());

function twoLayerFixture(file: string, microBatches: number) {
  const { fx, tol, W, a, base, sam } = twoLayerSamFixture(file, { microBatches });
  fx.steps.forEach((step: any, s: number) => {
    const ex = step.expected;
    const X = tf.tensor(step.X as number[][]);
    const y = tf.tensor(step.y as number[]);
    const label = (k: string) => `${file} k=${microBatches} step ${s} ${k}`;
    const calls: StepContext[] = [];
    const perturbed: number[][] = [];
    const secondLosses: number[] = [];
    const value = sam.minimize(
      (ctx) => {
        calls.push(ctx);
        const l = twoLayerLoss(W, a, sliceChunk(X, ctx), sliceChunk(y, ctx));
        if (ctx.pass === 'second') {
          perturbed.push([...W.dataSync(), ...a.dataSync()]);
          secondLosses.push(l.dataSync()[0]!);
        }
        return l;
      },
      true,
      [W, a],
    )!;
    const k = microBatches;
    const idx = Array.from({ length: k }, (_, i) => i);
    expect(calls, label('closure calls')).toEqual([
      ...idx.map((chunk) => ({ pass: 'first', chunk, chunks: k })),
      ...idx.map((chunk) => ({ pass: 'second', chunk, chunks: k })),
    ]);
    expectClose(value, ex.loss_before, tol, label('loss returned (mean of first-pass losses)'));
    value.dispose();
    // One global ε: every micro-batch of the second pass sees the same, fixture, perturbed weights.
    const expectedPerturbed = [...(ex.perturbed_params.W as number[][]).flat(), ...(ex.perturbed_params.a as number[])];
    perturbed.forEach((p, i) => expectClose(p, expectedPerturbed, tol, label(`perturbed params (micro-batch ${i})`)));
    expectClose(secondLosses.reduce((x, z) => x + z, 0) / k, ex.loss_at_perturbed, tol, label('loss_at_perturbed'));
    expectParamsAndMomentumAfter(ex, { W, a }, base, tol, label);
    tf.dispose([X, y]);
  });
  sam.dispose();
  tf.dispose([W, a]);
}

function convFixture(file: string, microBatches: number) {
  const { fx, tol, v, vars, sam } = convSamFixture(file, { microBatches });
  fx.steps.forEach((step: any, s: number) => {
    const ex = step.expected;
    const X = tf.tensor(step.X) as tf.Tensor4D;
    const Y = tf.tensor(step.labels_one_hot) as tf.Tensor2D;
    const label = (k: string) => `${file} k=${microBatches} step ${s} ${k}`;
    let calls = 0;
    const value = sam.minimize((ctx) => (calls++, convLoss(v, sliceChunk(X, ctx), sliceChunk(Y, ctx))), true, vars)!;
    expect(calls, label('closure calls')).toBe(2 * microBatches);
    expectClose(value, ex.loss_before, tol, label('loss_before'));
    value.dispose();
    for (const k of convKeys) expectClose(v[k], ex.params_after[k], tol, label(`params_after.${k}`));
    tf.dispose([X, Y]);
  });
  sam.dispose();
  tf.dispose(vars);
}

describe('accumulated SAM over k equal micro-batches = full-batch SAM (golden fixtures)', () => {
  for (const k of [2, 4, 8]) {
    it(`two_layer_sam_momentum_wd.json, microBatches ${k} (3 steps, momentum + weight decay)`, () =>
      twoLayerFixture('two_layer_sam_momentum_wd.json', k));
  }
  it('two_layer_sam_step.json, microBatches 4', () => twoLayerFixture('two_layer_sam_step.json', 4));
  it('two_layer_usam_step.json, microBatches 2 (unnormalized SAM)', () => twoLayerFixture('two_layer_usam_step.json', 2));
  it('conv_sam_step.json, microBatches 2 and 4', () => {
    convFixture('conv_sam_step.json', 2);
    convFixture('conv_sam_step.json', 4);
  });
  it('conv_sam_momentum_wd.json, microBatches 3 (one example per micro-batch)', () => convFixture('conv_sam_momentum_wd.json', 3));
});

/** A seeded 3-layer tanh/relu MLP on a 16-example batch (variables created fresh per call). */
let uid = 0;
function mlp() {
  uid++;
  const mk = (shape: number[], seed: number, name: string) =>
    tf.variable(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), 1 / Math.sqrt(shape[0]!)), true, `${name}_mb${uid}`);
  const W1 = mk([6, 12], 1, 'W1');
  const b1 = tf.variable(tf.zeros([12]), true, `b1_mb${uid}`);
  const W2 = mk([12, 8], 2, 'W2');
  const W3 = mk([8, 3], 3, 'W3');
  const X = tf.randomNormal([16, 6], 0, 1, 'float32', 4);
  const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 1, 0, 2, 2, 1, 0, 0, 1, 2, 1, 1, 0, 2], 'int32'), 3);
  const vars = [W1, b1, W2, W3];
  const loss = (ctx: Pick<StepContext, 'chunk' | 'chunks'>) => {
    const x = sliceChunk(X, ctx);
    const yb = sliceChunk(labels, ctx);
    const h = tf.relu(tf.matMul(tf.tanh(tf.add(tf.matMul(x, W1), b1)), W2));
    const logits = tf.matMul(h, W3);
    return tf.mean(tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, yb), 1))) as tf.Scalar;
  };
  return { vars, loss, dispose: () => tf.dispose([...vars, X, labels]) };
}

/** Trains the MLP `steps` steps with full-batch and micro-batched SAM (same options) and compares them. */
function compareOnMlp(options: SAMOptions, microBatches: number, steps: number, base: () => tf.Optimizer) {
  const full = mlp();
  const micro = mlp();
  const samFull = new SAM(base(), options);
  const samMicro = new SAM(base(), { ...options, microBatches });
  for (let s = 0; s < steps; s++) {
    const lf = samFull.minimize((ctx) => full.loss(ctx), true, full.vars)!;
    const lm = samMicro.minimize((ctx) => micro.loss(ctx), true, micro.vars)!;
    expectClose(lm, [lf.dataSync()[0]!], ROUNDING, `step ${s} loss`);
    tf.dispose([lf, lm]);
  }
  micro.vars.forEach((v, i) => expectClose(v, vals(full.vars[i]!), ROUNDING, `param ${i} after ${steps} steps`));
  // The schedule drove both base optimizers identically.
  expect(samMicro.currentLearningRate).toBe(samFull.currentLearningRate);
  samFull.dispose();
  samMicro.dispose();
  full.dispose();
  micro.dispose();
}

describe('accumulated SAM = full-batch SAM on a small MLP', () => {
  it('momentum, weight decay, lr cosine schedule, ρ window, 6 steps, microBatches 4', () => {
    compareOnMlp(
      {
        rho: 0.1,
        weightDecay: 5e-4,
        lrSchedule: cosineSchedule(6),
        rhoSchedule: windowSchedule(6, { end: 0.5, includeEnd: false }),
      },
      4,
      6,
      () => tf.train.momentum(0.2, 0.9),
    );
  });
  it('ASAM with adam, microBatches 2', () => compareOnMlp({ rho: 0.5, adaptive: true }, 2, 4, () => tf.train.adam(0.01)));
});

describe('composition', () => {
  it('runs: 3 runs with microBatches 2 = 3 runs full-batch (per-run ε from the accumulated gradient)', () => {
    const fx = loadFixture('two_layer_sam_momentum_wd.json');
    const X = tf.tensor(fx.steps[0].X as number[][]);
    const y = tf.tensor(fx.steps[0].y as number[]);
    const W0 = tf.tensor(fx.params_before.W as number[][]);
    const a0 = tf.tensor(fx.params_before.a as number[]);
    const make = (name: string) => ({
      W: tf.variable(tf.stack([0, 1, 2].map((r) => tf.mul(W0, 1 + 0.1 * r))), true, `${name}W${++uid}`),
      a: tf.variable(tf.stack([0, 1, 2].map((r) => tf.mul(a0, 1 - 0.1 * r))), true, `${name}a${uid}`),
    });
    const full = make('full');
    const micro = make('micro');
    const opts: SAMOptions = { rho: [0, 0.05, 0.2], runs: 3, weightDecay: 1e-3 };
    const samFull = new SAM(tf.train.sgd(0.1), opts);
    const samMicro = new SAM(tf.train.sgd(0.1), { ...opts, microBatches: 4 });
    for (let s = 0; s < 3; s++) {
      disposeLoss(samFull.minimize(() => tf.sum(twoLayerRunLosses(full.W, full.a, X, y)) as tf.Scalar, true, [full.W, full.a]));
      disposeLoss(
        samMicro.minimize((ctx) => tf.sum(twoLayerRunLosses(micro.W, micro.a, sliceChunk(X, ctx), sliceChunk(y, ctx))) as tf.Scalar, true, [
          micro.W,
          micro.a,
        ]),
      );
    }
    expectClose(micro.W, vals(full.W), ROUNDING, 'W');
    expectClose(micro.a, vals(full.a), ROUNDING, 'a');
    samFull.dispose();
    samMicro.dispose();
    tf.dispose([X, y, W0, a0, full.W, full.a, micro.W, micro.a]);
  });

  it('mSharpness 2 × microBatches 2: chunks of chunks, equal to mSharpness 2 alone', () => {
    const ref = mlp();
    const both = mlp();
    const samRef = new SAM(tf.train.sgd(0.1), { rho: 0.1, mSharpness: 2 });
    const samBoth = new SAM(tf.train.sgd(0.1), { rho: 0.1, mSharpness: 2, microBatches: 2 });
    const calls: StepContext[] = [];
    const lr = samRef.minimize((ctx) => ref.loss(ctx), true, ref.vars)!;
    const lb = samBoth.minimize((ctx) => (calls.push(ctx), both.loss(ctx)), true, both.vars)!;
    const c = (pass: 'first' | 'second', chunk: number) => ({ pass, chunk, chunks: 4 });
    expect(calls).toEqual([
      c('first', 0),
      c('first', 1),
      c('second', 0),
      c('second', 1),
      c('first', 2),
      c('first', 3),
      c('second', 2),
      c('second', 3),
    ]);
    expectClose(lb, vals(lr), ROUNDING, 'loss');
    both.vars.forEach((v, i) => expectClose(v, vals(ref.vars[i]!), ROUNDING, `param ${i}`));
    tf.dispose([lr, lb]);
    samRef.dispose();
    samBoth.dispose();
    ref.dispose();
    both.dispose();
  });

  it('ρ = 0: one accumulated pass, equal to micro-batched SGD (also with mSharpness)', () => {
    const p = mlp();
    const q = mlp();
    const sam = new SAM(tf.train.momentum(0.1, 0.9), { rho: 0, microBatches: 4, mSharpness: 2, weightDecay: 1e-3 });
    const sgd = tf.train.momentum(0.1, 0.9);
    const wd = tf.scalar(1e-3);
    for (let s = 0; s < 3; s++) {
      const calls: StepContext[] = [];
      const l = sam.minimize((ctx) => (calls.push(ctx), p.loss(ctx)), true, p.vars)!;
      expect(calls).toEqual([0, 1, 2, 3].map((chunk) => ({ pass: 'first', chunk, chunks: 4 })));
      // Hand-written accumulation: mean of the 4 micro-batch gradients, coupled weight decay, momentum step.
      const parts = [0, 1, 2, 3].map((chunk) => tf.variableGrads(() => q.loss({ chunk, chunks: 4 }), q.vars));
      const meanLoss = tf.tidy(() => tf.div(tf.addN(parts.map((r) => r.value)), 4));
      expectClose(l, vals(meanLoss), ROUNDING, `step ${s} loss`);
      const grads = tf.tidy(() => {
        const out: tf.NamedTensorMap = {};
        for (const v of q.vars) out[v.name] = tf.add(tf.div(tf.addN(parts.map((r) => r.grads[v.name]!)), 4), tf.mul(wd, v));
        return out;
      });
      sgd.applyGradients(q.vars.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
      tf.dispose([l, meanLoss, ...Object.values(grads), ...parts.flatMap((r) => [r.value, ...Object.values(r.grads)])]);
    }
    p.vars.forEach((v, i) => expectClose(v, vals(q.vars[i]!), ROUNDING, `param ${i}`));
    sam.dispose();
    sgd.dispose();
    wd.dispose();
    p.dispose();
    q.dispose();
  });

  it('checkFinite: a NaN in one micro-batch throws before any weight changes, without leaks', () => {
    const p = mlp();
    const sam = new SAM(tf.train.momentum(0.1, 0.9), { rho: 0.1, microBatches: 4 });
    disposeLoss(sam.minimize((ctx) => p.loss(ctx), true, p.vars)); // creates the momentum slots
    const before = p.vars.map(bits);
    const n0 = tf.memory().numTensors;
    for (const bad of ['first', 'second'] as const) {
      expect(() =>
        sam.minimize((ctx) => (ctx.pass === bad && ctx.chunk === 2 ? (tf.mul(p.loss(ctx), NaN) as tf.Scalar) : p.loss(ctx)), false, p.vars),
      ).toThrow(NonFiniteGradientError);
      expect(p.vars.map(bits)).toEqual(before);
      expect(tf.memory().numTensors).toBe(n0);
    }
    sam.dispose();
    p.dispose();
  });
});

describe('resources, errors, serialization', () => {
  it('numTensors unchanged over 100 micro-batched steps (momentum, weight decay, ρ schedule)', () => {
    const p = mlp();
    const sam = new SAM(tf.train.momentum(0.05, 0.9), {
      rho: 0.05,
      microBatches: 4,
      mSharpness: 2,
      weightDecay: 5e-4,
      rhoSchedule: windowSchedule(100, { end: 0.5, includeEnd: false }),
    });
    disposeLoss(sam.minimize((ctx) => p.loss(ctx), true, p.vars));
    const n0 = tf.memory().numTensors;
    for (let s = 1; s < 100; s++) disposeLoss(sam.minimize((ctx) => p.loss(ctx), true, p.vars));
    expect(tf.memory().numTensors).toBe(n0);
    sam.dispose();
    p.dispose();
  });

  it('bad microBatches values throw InvalidOptionError naming the option', () => {
    for (const bad of [0, -2, 1.5, NaN, Infinity, '2' as unknown as number]) {
      let err: unknown;
      try {
        new SAM(tf.train.sgd(0.1), { microBatches: bad }).dispose();
      } catch (e) {
        err = e;
      }
      expect(err, String(bad)).toBeInstanceOf(InvalidOptionError);
      expect((err as InvalidOptionError).option).toBe('microBatches');
      expect((err as Error).message).toContain('microBatches');
    }
  });

  it('getConfig/fromConfig round trip keeps microBatches', () => {
    const sam = new SAM(tf.train.momentum(0.1, 0.9), { rho: 0.1, microBatches: 4, mSharpness: 2 });
    const config = sam.getConfig();
    expect(config['microBatches']).toBe(4);
    const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap['SAM']!;
    const copy = fromConfig(cls, JSON.parse(JSON.stringify(config))) as SAM;
    expect(copy.microBatches).toBe(4);
    expect(copy.mSharpness).toBe(2);
    expect(copy.getConfig()).toEqual(config);
    // A config written before the option existed still loads (microBatches defaults to 1).
    const { microBatches: _drop, ...old } = config;
    const legacy = fromConfig(cls, old) as SAM;
    expect(legacy.microBatches).toBe(1);
    sam.dispose();
    copy.dispose();
    legacy.dispose();
  });
});
