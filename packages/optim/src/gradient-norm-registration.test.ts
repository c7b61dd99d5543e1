/**
 * Exact mode needs @samrank/backend's double-backprop gradients (optim cannot register them itself): a typed error
 * at the step that names the fix when they are missing or were replaced; finite-difference mode needs none.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerDoubleBackpropGradients } from '@samrank/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useCpu } from '../test/helpers.js';
import { DoubleBackpropGradientsError, OptimError } from './errors.js';
import { GradientNormRegularizer } from './gradient-norm-regularizer.js';

const MARKER = Symbol.for('samrank.doubleBackpropGradients');
const registry = globalThis as Record<symbol, unknown>;

/** One regularizer step on a tiny tanh net; returns the error it threw (weights unchanged), or null. */
function step(mode: 'exact' | 'finite-difference'): unknown {
  const w = tf.variable(tf.tensor1d([0.3, -0.2, 0.5]));
  const x = tf.tensor2d([
    [1, 2, 3],
    [0.5, -1, 2],
  ]);
  const loss = () => tf.mean(tf.square(tf.tanh(tf.sum(tf.mul(x, w), 1)))) as tf.Scalar;
  const opt = new GradientNormRegularizer(tf.train.sgd(0.1), { mode, lambda: 0.1 });
  const before = Array.from(w.dataSync());
  try {
    opt.minimize(loss, false, [w]);
    expect(Array.from(w.dataSync())).not.toEqual(before);
    return null;
  } catch (err) {
    expect(Array.from(w.dataSync())).toEqual(before);
    return err;
  } finally {
    opt.dispose();
    tf.dispose([w, x]);
  }
}

describe('exact mode and the double-backprop gradient registrations', () => {
  let saved: unknown;
  beforeAll(async () => {
    await useCpu();
    saved = registry[MARKER];
    delete registry[MARKER];
  });
  afterAll(() => {
    if (saved !== undefined) registry[MARKER] = saved;
  });

  it('without them the first exact step throws a typed error naming the fix; construction does not', () => {
    expect(() => new GradientNormRegularizer(tf.train.sgd(0.1)).dispose()).not.toThrow();
    const err = step('exact');
    expect(err).toBeInstanceOf(DoubleBackpropGradientsError);
    expect(err).toBeInstanceOf(OptimError);
    expect((err as Error).message).toContain("import { registerDoubleBackpropGradients } from '@samrank/backend'");
    expect((err as Error).message).toContain('setupBackend()');
    expect((err as Error).message).not.toContain('\n');
  });

  it('finite-difference mode does not need them', () => {
    expect(step('finite-difference')).toBeNull();
  });

  it('after registerDoubleBackpropGradients() exact steps run; a stock gradient registered over one is named', () => {
    registerDoubleBackpropGradients();
    expect(step('exact')).toBeNull();
    tf.registerGradient({ ...tf.getGradient('Tanh')! });
    const err = step('exact');
    expect(err).toBeInstanceOf(DoubleBackpropGradientsError);
    expect((err as DoubleBackpropGradientsError).kernels).toEqual(['Tanh']);
    expect((err as Error).message).toMatch(/gradients of Tanh were replaced/);
    registerDoubleBackpropGradients();
    expect(step('exact')).toBeNull();
  });
});
