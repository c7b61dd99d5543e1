import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { bits, useCpu } from '../test/helpers.js';
import { NonFiniteGradientError } from './errors.js';
import { perturbedGradients } from './perturbed-gradients.js';

beforeAll(useCpu);

describe('perturbedGradients', () => {
  it('evaluates the second pass at w + ε, restores w bit-identically and combines first/second gradients', () => {
    const w = tf.variable(tf.tensor1d([0.1, 0.7, -0.3]), true, 'pg_w');
    const before = bits(w);
    const seen: number[][] = [];
    // L = Σ w³ / 3 → g = w²
    const f = () => {
      seen.push(Array.from(w.dataSync()));
      return tf.sum(tf.div(tf.pow(w, 3), 3)) as tf.Scalar;
    };
    const shift = tf.scalar(0.5);
    const r = perturbedGradients(
      f,
      [w],
      1,
      true,
      (g) => g.map((x) => (x == null ? null : tf.mul(x, shift))),
      (g1, g2) => g1.map((x, i) => tf.sub(g2[i]!, x!)),
    );
    expect(bits(w)).toEqual(before);
    const w0 = [0.1, 0.7, -0.3].map(Math.fround);
    const wp = w0.map((x) => x + 0.5 * x * x);
    seen[1]!.forEach((x, i) => expect(x).toBeCloseTo(wp[i]!, 6));
    Array.from(r.grads[0]!.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(wp[i]! ** 2 - w0[i]! ** 2, 6));
    tf.dispose([r.value, ...(r.grads as tf.Tensor[]), w, shift]);
  });

  it('reports a non-finite first-pass gradient before perturbing, without leaks', () => {
    const w = tf.variable(tf.tensor1d([-1, 4]), true, 'pg_bad');
    const before = bits(w);
    const n0 = tf.memory().numTensors;
    let calls = 0;
    expect(() =>
      perturbedGradients(
        () => (calls++, tf.sum(tf.sqrt(w)) as tf.Scalar),
        [w],
        1,
        true,
        (g) => g.map((x) => (x == null ? null : tf.mul(x, 1))),
      ),
    ).toThrow(NonFiniteGradientError);
    expect(calls).toBe(1);
    expect(bits(w)).toEqual(before);
    expect(tf.memory().numTensors).toBe(n0);
    w.dispose();
  });
});
