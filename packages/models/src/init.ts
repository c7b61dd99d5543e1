import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '@samrank/core';
import { ModelConfigError } from './errors.js';
import type { BatchNormSpec, BnState, ParamSpec, Params } from './types.js';

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Initial values of one parameter. Each parameter draws from its own stream, forked from `seed` by the
 * parameter's name, so a value depends only on (seed, name, shape): adding a layer or changing the width of
 * another one leaves it alone, and results are identical on every backend.
 */
export function initialValues(spec: ParamSpec, seed: number): Float32Array {
  const n = sizeOf(spec.shape);
  const out = new Float32Array(n);
  const init = spec.init;
  switch (init.kind) {
    case 'zeros':
      return out;
    case 'ones':
      return out.fill(1);
    case 'normal': {
      const rng = createRng(seed).fork(spec.name);
      for (let i = 0; i < n; i++) out[i] = init.std * rng.normal();
      return out;
    }
    case 'uniform': {
      const rng = createRng(seed).fork(spec.name);
      for (let i = 0; i < n; i++) out[i] = init.bound * (2 * rng.next() - 1);
      return out;
    }
    case 'kaimingNormalFanOut': {
      // Conv kernels are HWIO: fan_out = kh * kw * out_channels; ReLU gain sqrt(2) (PyTorch kaiming_normal_).
      const [kh, kw, , cout] = spec.shape as [number, number, number, number];
      const std = Math.sqrt(2 / (kh * kw * cout));
      const rng = createRng(seed).fork(spec.name);
      for (let i = 0; i < n; i++) out[i] = std * rng.normal();
      return out;
    }
    case 'custom':
      throw new ModelConfigError(`parameter '${spec.name}' is initialised by its model's init(): ${init.description}`);
  }
}

/** Creates one trainable `tf.Variable` per spec, in spec order. */
export function createParams(specs: readonly ParamSpec[], seed: number): Params {
  const params: Params = {};
  for (const spec of specs) {
    const initial = tf.tensor(initialValues(spec, seed), spec.shape as number[], 'float32');
    // No variable name: tfjs names are process-global, and two models of the same kind must coexist.
    params[spec.name] = tf.variable(initial, true);
    initial.dispose();
  }
  return params;
}

/** Fresh BatchNorm running statistics (mean 0, variance 1), as PyTorch initialises them. */
export function createBnState(specs: readonly BatchNormSpec[]): BnState {
  const state: BnState = {};
  for (const { name, channels } of specs) {
    state[name] = { mean: tf.zeros([channels]), variance: tf.ones([channels]) };
  }
  return state;
}

/** Total number of scalars in a list of parameter specs. */
export function countParams(specs: readonly ParamSpec[]): number {
  return specs.reduce((acc, s) => acc + sizeOf(s.shape), 0);
}

/** Disposes every tensor of a parameter record and/or a model state (BatchNorm statistics). */
export function disposeState(params?: Record<string, tf.Tensor> | null, state?: BnState | null): void {
  if (params) for (const t of Object.values(params)) t.dispose();
  if (state)
    for (const s of Object.values(state)) {
      s.mean.dispose();
      s.variance.dispose();
    }
}
