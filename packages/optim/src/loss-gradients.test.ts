import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useCpu } from '../test/helpers.js';
import { EmptyVariableListError, NonFiniteGradientError, NonScalarLossError, RunsMismatchError } from './errors.js';
import { assertFinite, lossGradients, resolveVariables } from './loss-gradients.js';

beforeAll(useCpu);
const ctx = { pass: 'first', chunk: 0, chunks: 1 } as const;

describe('resolveVariables', () => {
  it('filters to trainable variables and checks the run axis', () => {
    const a = tf.variable(tf.zeros([2, 3]), true, 'rv_a');
    const b = tf.variable(tf.zeros([2]), false, 'rv_b');
    expect(resolveVariables([a, b], undefined)).toEqual([a]);
    expect(resolveVariables(undefined, undefined)).toContain(a);
    expect(resolveVariables([a], 2)).toEqual([a]);
    expect(() => resolveVariables([a], 3)).toThrow(RunsMismatchError);
    expect(() => resolveVariables([], undefined)).toThrow(EmptyVariableListError);
    expect(() => resolveVariables([b], undefined)).toThrow(EmptyVariableListError);
    tf.dispose([a, b]);
  });
});

describe('lossGradients', () => {
  it('returns gradients in variable order, null for unconnected variables', () => {
    const a = tf.variable(tf.tensor1d([1, 2]), true, 'lg_a');
    const b = tf.variable(tf.tensor1d([3]), true, 'lg_b');
    const r = lossGradients(() => tf.sum(tf.square(a)) as tf.Scalar, ctx, [b, a]);
    expect(r.grads[0]).toBeNull();
    expect(Array.from(r.grads[1]!.dataSync())).toEqual([2, 4]);
    expect(r.value.dataSync()[0]).toBe(5);
    tf.dispose([r.value, r.grads[1]!, a, b]);
  });

  it('a non-scalar loss is a typed error and leaks nothing', () => {
    const a = tf.variable(tf.tensor1d([1, 2]), true, 'lg_c');
    const n0 = tf.memory().numTensors;
    expect(() => lossGradients(() => tf.square(a) as unknown as tf.Scalar, ctx, [a])).toThrow(NonScalarLossError);
    expect(() => lossGradients(() => 3 as unknown as tf.Scalar, ctx, [a])).toThrow(NonScalarLossError);
    expect(tf.memory().numTensors).toBe(n0);
    a.dispose();
  });
});

describe('assertFinite', () => {
  it('passes finite values (including huge ones) and names the variable holding NaN/Inf', () => {
    const a = tf.variable(tf.tensor1d([1]), true, 'af_a');
    const b = tf.variable(tf.tensor1d([1]), true, 'af_b');
    const loss = tf.scalar(1);
    expect(() => assertFinite([tf.tensor1d([1e30, -2e30]), null], [a, b], loss, 'g')).not.toThrow();
    expect(() => assertFinite([tf.tensor1d([3e38, 3e38]), null], [a, b], loss, 'g')).toThrow(/sums past float32/);
    expect(() => assertFinite([tf.tensor1d([1]), tf.tensor1d([NaN])], [a, b], loss, 'g')).toThrow(/af_b/);
    expect(() => assertFinite([tf.tensor1d([-Infinity]), tf.tensor1d([0])], [a, b], loss, 'g')).toThrow(NonFiniteGradientError);
    expect(() => assertFinite([tf.tensor1d([0])], [a], tf.scalar(NaN), 'g')).toThrow(/loss is NaN/);
  });
});
