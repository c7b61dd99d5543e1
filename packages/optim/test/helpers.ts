/**
 * Test support for @samrank/optim: cpu backend set-up (with tfjs-layers' gradient registrations), the
 * fixtures' two models written with tfjs ops, and fixture comparison.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { expect } from 'vitest';
import { flat, loadFixture, worstViolation } from '../../../test-utils/fixtures.js';
import { SAM, type SAMOptions } from '../src/sam.js';

export { flat, loadFixture };

/** Selects the cpu backend (call in beforeAll). */
export async function useCpu(): Promise<void> {
  tf.enableProdMode();
  await tf.setBackend('cpu');
  await tf.ready();
}

/** Disposes the loss `minimize(…, true)` returned. */
export const disposeLoss = (l: tf.Scalar | null): void => l?.dispose();

/** float32 tolerances of a fixture file. */
export interface Tol {
  atol: number;
  rtol: number;
}

export function f32Tol(fixture: { tolerances: { float32: Tol } }): Tol {
  return fixture.tolerances.float32;
}

/** Asserts |actual − expected| ≤ atol + rtol·|expected| elementwise, naming `label` on failure. */
export function expectClose(actual: tf.Tensor | number | ArrayLike<number>, expected: unknown, tol: Tol, label: string): void {
  const a = actual instanceof tf.Tensor ? Array.from(actual.dataSync()) : typeof actual === 'number' ? [actual] : Array.from(actual);
  const e = flat(expected);
  const v = worstViolation(a, e, tol.atol, tol.rtol);
  expect(v, `${label}: worst |a-e|/(atol+rtol|e|) = ${v}`).toBeLessThanOrEqual(1);
}

/** Two-layer ReLU net without biases: f(x) = a · relu(W x); loss = mean (f − y)² (no ½). */
export function twoLayerLoss(W: tf.Tensor, a: tf.Tensor, X: tf.Tensor, y: tf.Tensor): tf.Scalar {
  const h = tf.relu(tf.matMul(X, W, false, true));
  const f = tf.sum(tf.mul(h, a), 1);
  return tf.mean(tf.square(tf.sub(f, y)));
}

/**
 * Independent-runs version: W [R, m, d], a [R, m], X [n, d] shared by all runs (or [R, n, d]), y [n] or
 * [R, n]. Returns the per-run losses [R].
 */
export function twoLayerRunLosses(W: tf.Tensor, a: tf.Tensor, X: tf.Tensor, y: tf.Tensor): tf.Tensor {
  const h = tf.relu(tf.matMul(X.rank === 2 ? tf.expandDims(X, 0) : X, W, false, true)); // [R, n, m]
  const f = tf.sum(tf.mul(h, tf.expandDims(a, 1)), 2); // [R, n]
  return tf.mean(tf.square(tf.sub(f, y)), 1);
}

/**
 * Asserts that each separately trained run's W is within `maxAbs` (max |diff|) of run r of the batched
 * W [R, m, d], then disposes the single runs (variables and optimizer).
 */
export function expectSinglesMatchRuns(
  W: tf.Tensor,
  singles: ReadonlyArray<{ W: tf.Variable; a: tf.Variable; opt: tf.Optimizer }>,
  maxAbs: number,
): void {
  singles.forEach((s, r) => {
    const wr = tf.gather(W, r);
    expect(tf.max(tf.abs(tf.sub(wr, s.W))).dataSync()[0]).toBeLessThan(maxAbs);
    tf.dispose([wr, s.W, s.a]);
    s.opt.dispose();
  });
}

/** Creates the variables W, a of a two-layer fixture with unique names. */
let counter = 0;
export function twoLayerVars(params: { W: unknown; a: unknown }): { W: tf.Variable; a: tf.Variable } {
  counter++;
  return {
    W: tf.variable(tf.tensor(params.W as number[][]), true, `W_${counter}`),
    a: tf.variable(tf.tensor(params.a as number[]), true, `a_${counter}`),
  };
}

/** Conv net of the conv fixtures: conv3x3 'same' + bias → relu → global average pool → dense + bias; mean CE. */
export interface ConvVars {
  conv_kernel: tf.Variable;
  conv_bias: tf.Variable;
  dense_kernel: tf.Variable;
  dense_bias: tf.Variable;
}

export const convKeys = ['conv_kernel', 'conv_bias', 'dense_kernel', 'dense_bias'] as const;

export function convVars(params: Record<string, unknown>): ConvVars {
  counter++;
  const mk = (k: string) => tf.variable(tf.tensor(params[k] as number[]), true, `${k}_${counter}`);
  return {
    conv_kernel: mk('conv_kernel'),
    conv_bias: mk('conv_bias'),
    dense_kernel: mk('dense_kernel'),
    dense_bias: mk('dense_bias'),
  };
}

export function convLoss(v: ConvVars, X: tf.Tensor4D, labelsOneHot: tf.Tensor2D): tf.Scalar {
  const z = tf.add(tf.conv2d(X, v.conv_kernel as tf.Tensor4D, 1, 'same'), v.conv_bias);
  const pooled = tf.mean(tf.relu(z), [1, 2]);
  const logits = tf.add(tf.matMul(pooled, v.dense_kernel as tf.Tensor2D), v.dense_bias);
  // Written as logSumExp − picked logit (not tf.losses.softmaxCrossEntropy) so it also double-differentiates.
  return tf.mean(tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, labelsOneHot), 1)));
}

/** Float32 bit patterns of a tensor's values (for bit-identity assertions). */
export function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array(new Float32Array(t.dataSync()).buffer));
}

/** The base optimizer a SAM step fixture was made with: heavy-ball momentum when it has any, plain SGD otherwise. */
function fixtureBaseOptimizer(hp: { lr: number; momentum: number }): tf.Optimizer {
  return hp.momentum > 0 ? tf.train.momentum(hp.lr, hp.momentum) : tf.train.sgd(hp.lr);
}

/** The momentum buffers of a `tf.train.momentum` optimizer, one a variable in `minimize`'s order. */
export function momentumSlots(base: tf.Optimizer): tf.Variable[] {
  return (base as unknown as { accumulations: Array<{ variable: tf.Variable }> }).accumulations.map((s) => s.variable);
}

/**
 * Checks a fixture step's `params_after` and, where the fixture has them, its `momentum_buffers_after` (the
 * base optimizer's slots, in the order of `vars`' keys, which is `minimize`'s variable order).
 */
export function expectParamsAndMomentumAfter(
  ex: { params_after: Record<string, unknown>; momentum_buffers_after?: Record<string, unknown> },
  vars: Record<string, tf.Variable>,
  base: tf.Optimizer,
  tol: Tol,
  label: (k: string) => string,
): void {
  for (const [k, v] of Object.entries(vars)) expectClose(v, ex.params_after[k], tol, label(`params_after.${k}`));
  const buffers = ex.momentum_buffers_after;
  if (buffers) {
    const slots = momentumSlots(base);
    Object.keys(vars).forEach((k, i) => expectClose(slots[i]!, buffers[k], tol, label(`momentum_buffers_after.${k}`)));
  }
}

/**
 * Loads a two-layer SAM step fixture: its variables, float32 tolerances and a SAM configured from its
 * hyperparameters (`extra` adds options such as `microBatches`).
 */
export function twoLayerSamFixture(file: string, extra: Partial<SAMOptions> = {}) {
  const fx = loadFixture(file);
  const hp = fx.hyperparameters;
  const { W, a } = twoLayerVars(fx.params_before);
  const base = fixtureBaseOptimizer(hp);
  const sam = new SAM(base, {
    rho: hp.rho,
    normalize: hp.sam_normalized,
    epsilon: hp.sam_stabilizer ?? 1e-12,
    weightDecay: hp.weight_decay,
    ...extra,
  });
  return { fx, hp, tol: f32Tol(fx), W, a, base, sam };
}

/** As `twoLayerSamFixture`, for a conv-net SAM step fixture (`vars` in `convKeys` order). */
export function convSamFixture(file: string, extra: Partial<SAMOptions> = {}) {
  const fx = loadFixture(file);
  const hp = fx.hyperparameters;
  const v = convVars(fx.params_before);
  const base = fixtureBaseOptimizer(hp);
  const sam = new SAM(base, {
    rho: hp.rho,
    epsilon: hp.sam_stabilizer,
    weightDecay: hp.weight_decay,
    ...extra,
  });
  return { fx, hp, tol: f32Tol(fx), v, vars: convKeys.map((k) => v[k]), base, sam };
}
