/**
 * GradientNormRegularizer against the fixtures (exact double backprop), the finite-difference mode's
 * convergence to the exact gradient as r → 0, independent runs, state and errors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerDoubleBackpropGradients } from '@samrank/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bits,
  disposeLoss,
  expectClose,
  expectSinglesMatchRuns,
  f32Tol,
  loadFixture,
  twoLayerLoss,
  twoLayerRunLosses,
  twoLayerVars,
  useCpu,
} from '../test/helpers.js';
import { InvalidLambdaError, InvalidOptionError, RunsMismatchError } from './errors.js';
import { GradientNormRegularizer, regularizedGradients } from './gradient-norm-regularizer.js';
import { sliceChunk } from './chunks.js';
import type { StepContext } from './loss-gradients.js';
import { windowSchedule } from './schedules.js';

beforeAll(async () => {
  await useCpu();
  // Exact mode needs them (setupBackend registers them in applications).
  registerDoubleBackpropGradients();
});

describe('two_layer_grad_norm_reg.json', () => {
  const fx = loadFixture('two_layer_grad_norm_reg.json');
  const tol = f32Tol(fx);
  const ex = fx.expected;
  const lambda = fx.hyperparameters.rho;

  it('two_layer_grad_norm_reg.json: loss, ‖∇L‖, objective and ∇J by double backprop', () => {
    const { W, a } = twoLayerVars(fx.params_before);
    const X = tf.tensor(fx.inputs.X as number[][]);
    const y = tf.tensor(fx.inputs.y as number[]);
    const lam = tf.scalar(lambda);
    const r = regularizedGradients(() => twoLayerLoss(W, a, X, y), { pass: 'first', chunk: 0, chunks: 1 }, [W, a], lam, undefined);
    expectClose(r.value, ex.loss, tol, 'loss');
    expectClose(r.gradNorm, ex.grad_norm, tol, 'grad_norm');
    expectClose(r.objective, ex.objective, tol, 'objective');
    expectClose(r.grads[0]!, ex.grad_objective.W, tol, 'grad_objective.W');
    expectClose(r.grads[1]!, ex.grad_objective.a, tol, 'grad_objective.a');
    tf.dispose([r.value, r.gradNorm, r.objective, ...(r.grads as tf.Tensor[]), W, a, X, y, lam]);
  });

  it('two_layer_grad_norm_reg.json: one GradientNormRegularizer step = params_after_gd_step', () => {
    const { W, a } = twoLayerVars(fx.params_before);
    const X = tf.tensor(fx.inputs.X as number[][]);
    const y = tf.tensor(fx.inputs.y as number[]);
    const opt = new GradientNormRegularizer(tf.train.sgd(fx.hyperparameters.lr), { lambda, mode: 'exact' });
    const value = opt.minimize(() => twoLayerLoss(W, a, X, y), true, [W, a])!;
    expectClose(value, ex.loss, tol, 'loss returned by minimize');
    expectClose(W, ex.params_after_gd_step.W, tol, 'params_after_gd_step.W');
    expectClose(a, ex.params_after_gd_step.a, tol, 'params_after_gd_step.a');
    opt.dispose();
    tf.dispose([value, W, a, X, y]);
  });

  it('two_layer_grad_norm_reg.json: per-example variant via mSharpness = n (one penalty per example)', () => {
    const { W, a } = twoLayerVars(fx.params_before);
    const X = tf.tensor(fx.inputs.X as number[][]);
    const y = tf.tensor(fx.inputs.y as number[]);
    const n = fx.shapes.n;
    const opt = new GradientNormRegularizer(tf.train.sgd(fx.hyperparameters.lr), { lambda, mSharpness: n });
    const { value, grads } = opt.computeGradients(
      ({ chunk }) => twoLayerLoss(W, a, tf.slice(X, [chunk, 0], [1, -1]), tf.slice(y, [chunk], [1])),
      [W, a],
    );
    expectClose(value, ex.loss, tol, 'per-example: loss (mean of example losses)');
    expectClose(grads[W.name]!, ex.per_example_variant_grad_objective.W, tol, 'per_example_variant_grad_objective.W');
    expectClose(grads[a.name]!, ex.per_example_variant_grad_objective.a, tol, 'per_example_variant_grad_objective.a');
    opt.dispose();
    tf.dispose([value, ...Object.values(grads), W, a, X, y]);
  });

  it('finite-difference mode converges to the exact gradient as r → 0', () => {
    const { W, a } = twoLayerVars(fx.params_before);
    const X = tf.tensor(fx.inputs.X as number[][]);
    const y = tf.tensor(fx.inputs.y as number[]);
    const exact = [...(ex.grad_objective.W as number[][]).flat(), ...(ex.grad_objective.a as number[])];
    const errors: number[] = [];
    // r below the smallest ReLU margin (kinks make larger r non-monotone); float32 noise grows like λ·1e-7/r.
    for (const r of [0.03, 0.01, 0.003, 0.001]) {
      const opt = new GradientNormRegularizer(tf.train.sgd(0.1), { lambda, mode: 'finite-difference', r });
      const { value, grads } = opt.computeGradients(() => twoLayerLoss(W, a, X, y), [W, a]);
      const got = [...grads[W.name]!.dataSync(), ...grads[a.name]!.dataSync()];
      errors.push(Math.max(...got.map((g, i) => Math.abs(g - exact[i]!))));
      opt.dispose();
      tf.dispose([value, ...Object.values(grads)]);
    }
    console.log(
      `finite-difference max |error| vs exact for r = 0.03, 0.01, 0.003, 0.001: ${errors.map((e) => e.toExponential(2)).join(', ')}`,
    );
    for (let i = 1; i < errors.length; i++) expect(errors[i]).toBeLessThan(errors[i - 1]!);
    expect(errors[errors.length - 1]).toBeLessThan(5e-4);
    tf.dispose([W, a, X, y]);
  });
});

describe('two_layer_gradreg_trajectory.json', () => {
  const fx = loadFixture('two_layer_gradreg_trajectory.json');
  const hp = fx.hyperparameters;
  const tol = f32Tol(fx);
  const idx: number[] = fx.inputs.batch_indices;
  const window = windowSchedule(hp.n_steps, { end: hp.regularized_steps / hp.n_steps, includeEnd: false });

  it('two_layer_gradreg_trajectory.json: 40 steps, regularized for the first 20', () => {
    const { W, a } = twoLayerVars(fx.params_before);
    const X = tf.tensor(fx.inputs.X as number[][]);
    const y = tf.tensor(fx.inputs.y as number[]);
    const opt = new GradientNormRegularizer(tf.train.sgd(hp.lr), { lambda: hp.rho, lambdaSchedule: window });
    const batchLoss: number[] = [];
    const trainLoss: number[] = [];
    idx.forEach((i, t) => {
      const xb = tf.slice(X, [i, 0], [1, -1]);
      const yb = tf.slice(y, [i], [1]);
      const l = opt.minimize(() => twoLayerLoss(W, a, xb, yb), true, [W, a])!;
      batchLoss.push(l.dataSync()[0]!);
      const tl = twoLayerLoss(W, a, X, y);
      trainLoss.push(tl.dataSync()[0]!);
      tf.dispose([l, tl, xb, yb]);
      if (t === 0) {
        expectClose(W, fx.expected.first_step.params_after.W, tol, 'first_step.params_after.W');
        expectClose(a, fx.expected.first_step.params_after.a, tol, 'first_step.params_after.a');
      }
      if (t === hp.regularized_steps - 1) {
        expectClose(W, fx.expected.params_at_switch.W, tol, 'params_at_switch.W');
        expectClose(a, fx.expected.params_at_switch.a, tol, 'params_at_switch.a');
      }
    });
    expectClose(batchLoss, fx.expected.batch_loss, tol, 'batch_loss');
    expectClose(trainLoss, fx.expected.train_loss, tol, 'train_loss');
    expectClose(W, fx.expected.final.params.W, tol, 'final.params.W');
    expectClose(a, fx.expected.final.params.a, tol, 'final.params.a');
    const features = tf.relu(tf.matMul(X, W, false, true));
    const active = tf.sum(tf.cast(tf.any(tf.greater(features, 0), 0), 'int32'));
    expect(active.dataSync()[0], 'final.active_relus').toBe(fx.expected.final.active_relus);
    opt.dispose();
    tf.dispose([features, active, W, a, X, y]);
  });

  it('two_layer_gradreg_trajectory.json with runs: lambda [0, 0.1, 0.2], run 1 follows the fixture, runs == separate', () => {
    const R = 3;
    const lambdas = [0, hp.rho, 0.2];
    const X = tf.tensor(fx.inputs.X as number[][]);
    const y = tf.tensor(fx.inputs.y as number[]);
    const W = tf.variable(tf.stack(lambdas.map(() => tf.tensor(fx.params_before.W as number[][]))), true, 'grW');
    const a = tf.variable(tf.stack(lambdas.map(() => tf.tensor(fx.params_before.a as number[]))), true, 'gra');
    const opt = new GradientNormRegularizer(tf.train.sgd(hp.lr), { lambda: lambdas, runs: R, lambdaSchedule: window });
    const singles = lambdas.map((l, r) => ({
      ...twoLayerVars(fx.params_before),
      opt: new GradientNormRegularizer(tf.train.sgd(hp.lr), { lambda: l, lambdaSchedule: window }),
      r,
    }));
    for (const i of idx) {
      const xb = tf.slice(X, [i, 0], [1, -1]);
      const yb = tf.slice(y, [i], [1]);
      opt.minimize(() => tf.sum(twoLayerRunLosses(W, a, xb, yb)) as tf.Scalar, false, [W, a]);
      for (const s of singles) s.opt.minimize(() => twoLayerLoss(s.W, s.a, xb, yb), false, [s.W, s.a]);
      tf.dispose([xb, yb]);
    }
    const w1 = tf.gather(W, 1);
    expectClose(w1, fx.expected.final.params.W, tol, 'runs: final.params.W (run 1)');
    let maxDiff = 0;
    for (const s of singles) {
      const wr = tf.gather(W, s.r);
      const ar = tf.gather(a, s.r);
      maxDiff = Math.max(maxDiff, tf.max(tf.abs(tf.sub(wr, s.W))).dataSync()[0]!, tf.max(tf.abs(tf.sub(ar, s.a))).dataSync()[0]!);
      tf.dispose([wr, ar, s.W, s.a]);
      s.opt.dispose();
    }
    console.log(`regularizer runs vs separate: max |diff| ${maxDiff}`);
    expect(maxDiff).toBeLessThan(1e-5);
    opt.dispose();
    tf.dispose([w1, W, a, X, y]);
  });

  it('finite-difference mode with runs equals separate finite-difference runs', () => {
    const X = tf.tensor(fx.inputs.X as number[][]);
    const y = tf.tensor(fx.inputs.y as number[]);
    const lambdas = [0.1, 0.3];
    const W = tf.variable(tf.stack(lambdas.map(() => tf.tensor(fx.params_before.W as number[][]))), true, 'fdW');
    const a = tf.variable(tf.stack(lambdas.map(() => tf.tensor(fx.params_before.a as number[]))), true, 'fda');
    const opt = new GradientNormRegularizer(tf.train.sgd(hp.lr), { lambda: lambdas, runs: 2, mode: 'finite-difference' });
    const singles = lambdas.map((l) => ({
      ...twoLayerVars(fx.params_before),
      opt: new GradientNormRegularizer(tf.train.sgd(hp.lr), { lambda: l, mode: 'finite-difference' }),
    }));
    for (const i of idx.slice(0, 10)) {
      const xb = tf.slice(X, [i, 0], [1, -1]);
      const yb = tf.slice(y, [i], [1]);
      opt.minimize(() => tf.sum(twoLayerRunLosses(W, a, xb, yb)) as tf.Scalar, false, [W, a]);
      for (const s of singles) s.opt.minimize(() => twoLayerLoss(s.W, s.a, xb, yb), false, [s.W, s.a]);
      tf.dispose([xb, yb]);
    }
    expectSinglesMatchRuns(W, singles, 1e-5);
    opt.dispose();
    tf.dispose([W, a, X, y]);
  });
});

describe('GradientNormRegularizer behaviour', () => {
  it('lambda = 0 is exactly the base optimizer (one pass)', () => {
    const fx = loadFixture('two_layer_grad_norm_reg.json');
    const p1 = twoLayerVars(fx.params_before);
    const p2 = twoLayerVars(fx.params_before);
    const X = tf.tensor(fx.inputs.X as number[][]);
    const y = tf.tensor(fx.inputs.y as number[]);
    const sgd = tf.train.momentum(0.1, 0.9);
    for (const mode of ['exact', 'finite-difference'] as const) {
      const opt = new GradientNormRegularizer(tf.train.momentum(0.1, 0.9), { lambda: 0, mode });
      const passes: string[] = [];
      opt.minimize(({ pass }) => (passes.push(pass), twoLayerLoss(p2.W, p2.a, X, y)), false, [p2.W, p2.a]);
      expect(passes).toEqual(['first']);
      opt.dispose();
    }
    sgd.minimize(() => twoLayerLoss(p1.W, p1.a, X, y), false, [p1.W, p1.a]);
    // p2 took two momentum steps from fresh optimizers, each a plain first step: w − lr·g twice.
    const sgd2 = tf.train.momentum(0.1, 0.9);
    sgd2.minimize(() => twoLayerLoss(p1.W, p1.a, X, y), false, [p1.W, p1.a]);
    expect(bits(p2.W)).toEqual(bits(p1.W));
    sgd.dispose();
    sgd2.dispose();
    tf.dispose([p1.W, p1.a, p2.W, p2.a, X, y]);
  });

  it('weight decay is added to the regularized gradient at w (both modes)', () => {
    const fx = loadFixture('two_layer_grad_norm_reg.json');
    const { W, a } = twoLayerVars(fx.params_before);
    const X = tf.tensor(fx.inputs.X as number[][]);
    const y = tf.tensor(fx.inputs.y as number[]);
    for (const mode of ['exact', 'finite-difference'] as const) {
      const grads = [0, 0.01].map((weightDecay) => {
        const opt = new GradientNormRegularizer(tf.train.sgd(0.1), { lambda: 0.1, mode, weightDecay });
        const r = opt.computeGradients(() => twoLayerLoss(W, a, X, y), [W, a]);
        const g = Array.from(r.grads[W.name]!.dataSync());
        tf.dispose([r.value, ...Object.values(r.grads)]);
        opt.dispose();
        return g;
      });
      const w = W.dataSync();
      grads[1]!.forEach((g, i) => expect(g - grads[0]![i]!).toBeCloseTo(0.01 * w[i]!, 6));
    }
    tf.dispose([W, a, X, y]);
  });

  it('getWeights/setWeights and getConfig/fromConfig round trips', async () => {
    const opt = new GradientNormRegularizer(tf.train.adam(0.01), {
      lambda: [0.1, 0.35],
      runs: 2,
      mode: 'finite-difference',
      r: 0.003,
      weightDecay: 1e-4,
    });
    const config = opt.getConfig();
    const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap['GradientNormRegularizer']!;
    const copy = fromConfig(cls, JSON.parse(JSON.stringify(config))) as GradientNormRegularizer;
    expect(copy.getConfig()).toEqual(config);
    opt.setLambda([0.2, 0.3]);
    const w = tf.variable(tf.ones([2, 3]), true, 'gnrState');
    opt.minimize(() => tf.sum(tf.square(w)) as tf.Scalar, false, [w]);
    const weights = await opt.getWeights();
    expect(weights[1]!.name).toBe('gradnorm/lambda');
    await copy.setWeights(weights.map((x) => ({ name: x.name, tensor: tf.clone(x.tensor) })));
    expect(copy.lambda).toEqual([0.2, 0.3]);
    expect(copy.iterations).toBe(1);
    opt.dispose();
    copy.dispose();
    w.dispose();
  });

  it('typed errors: lambda, mode, r, runs', () => {
    expect(() => new GradientNormRegularizer(tf.train.sgd(0.1), { lambda: -1 })).toThrow(InvalidLambdaError);
    expect(() => new GradientNormRegularizer(tf.train.sgd(0.1), { lambda: NaN })).toThrow(InvalidLambdaError);
    expect(() => new GradientNormRegularizer(tf.train.sgd(0.1), { mode: 'fd' as never })).toThrow(InvalidOptionError);
    expect(() => new GradientNormRegularizer(tf.train.sgd(0.1), { r: 0 })).toThrow(InvalidOptionError);
    expect(() => new GradientNormRegularizer(tf.train.sgd(0.1), { lambda: [0.1, 0.2], runs: 3 })).toThrow(RunsMismatchError);
  });
});

describe('microBatches (finite-difference mode accumulates; exact mode refuses)', () => {
  const fx = loadFixture('two_layer_grad_norm_reg.json');
  const ex = fx.expected;
  const lambda = fx.hyperparameters.rho;
  const setup = () => {
    const { W, a } = twoLayerVars(fx.params_before);
    const X = tf.tensor(fx.inputs.X as number[][]);
    const y = tf.tensor(fx.inputs.y as number[]);
    const loss = (ctx: Pick<StepContext, 'chunk' | 'chunks'>) => twoLayerLoss(W, a, sliceChunk(X, ctx), sliceChunk(y, ctx));
    return { W, a, loss, dispose: () => tf.dispose([W, a, X, y]) };
  };
  const flatGrads = (g: tf.NamedTensorMap, W: tf.Variable, a: tf.Variable) => [...g[W.name]!.dataSync(), ...g[a.name]!.dataSync()];

  it('two_layer_grad_norm_reg.json: one global perturbation over 2 and 3 micro-batches = full batch', () => {
    const exact = [...(ex.grad_objective.W as number[][]).flat(), ...(ex.grad_objective.a as number[])];
    const perExample = [
      ...(ex.per_example_variant_grad_objective.W as number[][]).flat(),
      ...(ex.per_example_variant_grad_objective.a as number[]),
    ];
    const p = setup();
    const full = new GradientNormRegularizer(tf.train.sgd(0.1), { lambda, mode: 'finite-difference', r: 0.001 });
    const ref = full.computeGradients((ctx) => p.loss(ctx), [p.W, p.a]);
    const refGrads = flatGrads(ref.grads, p.W, p.a);
    for (const k of [2, 3]) {
      const opt = new GradientNormRegularizer(tf.train.sgd(0.1), {
        lambda,
        mode: 'finite-difference',
        r: 0.001,
        microBatches: k,
      });
      const calls: StepContext[] = [];
      const got = opt.computeGradients((ctx) => (calls.push(ctx), p.loss(ctx)), [p.W, p.a]);
      expect(calls.map((c) => `${c.pass}${c.chunk}/${c.chunks}`)).toEqual([
        ...Array.from({ length: k }, (_, i) => `first${i}/${k}`),
        ...Array.from({ length: k }, (_, i) => `second${i}/${k}`),
      ]);
      expectClose(got.value, ex.loss, f32Tol(fx), `k=${k} loss (mean of first-pass micro-batch losses)`);
      const g = flatGrads(got.grads, p.W, p.a);
      // Same finite difference as the full batch; λ/r = 100 amplifies the float32 summation-order noise.
      expectClose(g, refGrads, { atol: 5e-5, rtol: 1e-4 }, `k=${k} vs full-batch finite difference`);
      // ... hence the golden exact ∇(L + λ‖∇L‖) of the whole batch to finite-difference accuracy,
      const err = (e: number[]) => Math.max(...g.map((x, i) => Math.abs(x - e[i]!)));
      expect(err(exact)).toBeLessThan(5e-4);
      // ... and not the mean of per-micro-batch penalties (which is what mSharpness would give).
      expect(err(perExample)).toBeGreaterThan(10 * err(exact));
      tf.dispose([got.value, ...Object.values(got.grads)]);
      opt.dispose();
    }
    tf.dispose([ref.value, ...Object.values(ref.grads)]);
    full.dispose();
    p.dispose();
  });

  it('λ = 0: one accumulated pass (plain micro-batched gradient)', () => {
    const p = setup();
    const opt = new GradientNormRegularizer(tf.train.sgd(0.1), { lambda: 0, mode: 'finite-difference', microBatches: 3 });
    const calls: StepContext[] = [];
    const got = opt.computeGradients((ctx) => (calls.push(ctx), p.loss(ctx)), [p.W, p.a]);
    expect(calls).toEqual([0, 1, 2].map((chunk) => ({ pass: 'first', chunk, chunks: 3 })));
    expectClose(got.value, ex.loss, f32Tol(fx), 'loss');
    expectClose(
      flatGrads(got.grads, p.W, p.a),
      [...(ex.grad_loss.W as number[][]).flat(), ...(ex.grad_loss.a as number[])],
      f32Tol(fx),
      'grad_loss',
    );
    tf.dispose([got.value, ...Object.values(got.grads)]);
    opt.dispose();
    p.dispose();
  });

  it('numTensors unchanged over 100 micro-batched steps', () => {
    const p = setup();
    const opt = new GradientNormRegularizer(tf.train.momentum(0.01, 0.9), {
      lambda,
      mode: 'finite-difference',
      microBatches: 2,
      weightDecay: 1e-3,
    });
    opt.minimize((ctx) => p.loss(ctx), false, [p.W, p.a]);
    const n0 = tf.memory().numTensors;
    for (let s = 1; s < 100; s++) disposeLoss(opt.minimize((ctx) => p.loss(ctx), true, [p.W, p.a]));
    expect(tf.memory().numTensors).toBe(n0);
    opt.dispose();
    p.dispose();
  });

  it('exact mode with microBatches > 1 throws InvalidOptionError; bad values are typed; config keeps it', () => {
    let err: unknown;
    try {
      new GradientNormRegularizer(tf.train.sgd(0.1), { mode: 'exact', microBatches: 2 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).option).toBe('microBatches');
    expect((err as Error).message).toMatch(/finite-difference/);
    expect(() => new GradientNormRegularizer(tf.train.sgd(0.1), { microBatches: 0, mode: 'finite-difference' })).toThrow(
      InvalidOptionError,
    );
    const opt = new GradientNormRegularizer(tf.train.sgd(0.1), { mode: 'finite-difference', microBatches: 4 });
    const config = opt.getConfig();
    const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap['GradientNormRegularizer']!;
    const copy = fromConfig(cls, JSON.parse(JSON.stringify(config))) as GradientNormRegularizer;
    expect(copy.microBatches).toBe(4);
    expect(copy.getConfig()).toEqual(config);
    opt.dispose();
    copy.dispose();
  });
});
