import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { bits, useCpu } from '../test/helpers.js';
import { NonFiniteGradientError } from './errors.js';
import type { StepContext } from './loss-gradients.js';
import { accumulatedGradients, perturbedGradients } from './perturbed-gradients.js';

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
      { groups: 1, microBatches: 1 },
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
        { groups: 1, microBatches: 1 },
        true,
        (g) => g.map((x) => (x == null ? null : tf.mul(x, 1))),
      ),
    ).toThrow(NonFiniteGradientError);
    expect(calls).toBe(1);
    expect(bits(w)).toEqual(before);
    expect(tf.memory().numTensors).toBe(n0);
    w.dispose();
  });

  it('accumulatedGradients: one call per micro-batch of the group, loss and gradients averaged', () => {
    const w = tf.variable(tf.tensor1d([0.5, -2]), true, 'pg_acc');
    const data = [1, 2, 3, 4, 5, 6, 7, 8];
    const calls: StepContext[] = [];
    // Chunk c of 4 holds data[2c], data[2c+1]; its mean loss is mean_x (x·w0 + w1)², so the average over
    // group 1's chunks (2 and 3) is the mean over x = 5..8.
    const f = (ctx: StepContext) => {
      calls.push(ctx);
      const xs = tf.tensor1d(data.slice(2 * ctx.chunk, 2 * ctx.chunk + 2));
      return tf.mean(tf.square(tf.add(tf.mul(xs, tf.slice(w, [0], [1])), tf.slice(w, [1], [1])))) as tf.Scalar;
    };
    const n0 = tf.memory().numTensors;
    const r = accumulatedGradients(f, [w], 'second', 1, { groups: 2, microBatches: 2 });
    expect(calls).toEqual([
      { pass: 'second', chunk: 2, chunks: 4 },
      { pass: 'second', chunk: 3, chunks: 4 },
    ]);
    const xs = [5, 6, 7, 8];
    const res = xs.map((x) => Math.fround(x * 0.5 - 2));
    expect(r.value.dataSync()[0]).toBeCloseTo(res.reduce((s, e) => s + e * e, 0) / 4, 5);
    const g = r.grads[0]!.dataSync();
    expect(g[0]).toBeCloseTo(res.reduce((s, e, i) => s + 2 * e * xs[i]!, 0) / 4, 5);
    expect(g[1]).toBeCloseTo(res.reduce((s, e) => s + 2 * e, 0) / 4, 5);
    tf.dispose([r.value, ...(r.grads as tf.Tensor[])]);
    expect(tf.memory().numTensors).toBe(n0);
    w.dispose();
  });
});
