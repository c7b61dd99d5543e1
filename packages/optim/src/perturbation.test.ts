import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useCpu } from '../test/helpers.js';
import { addWeightDecay, broadcastPerRun, jointNormPerRun, samPerturbation, sumSquaresPerRun } from './perturbation.js';

beforeAll(useCpu);

const spec = (rho: tf.Tensor, extra: Partial<Parameters<typeof samPerturbation>[2]> = {}) => ({
  rho,
  normalize: true,
  epsilon: tf.scalar(0),
  epsilonIsZero: true,
  adaptiveEta: null,
  runs: undefined,
  ...extra,
});

describe('per-run reductions', () => {
  it('sum of squares keeps axis 0 with runs, reduces everything without', () => {
    const g = tf.tensor3d([
      [
        [1, 2],
        [3, 4],
      ],
      [
        [0, 1],
        [1, 0],
      ],
    ]);
    expect(Array.from(sumSquaresPerRun(g, undefined).dataSync())).toEqual([32]);
    expect(Array.from(sumSquaresPerRun(g, 2).dataSync())).toEqual([30, 2]);
    expect(Array.from(sumSquaresPerRun(tf.tensor1d([3, -2]), 2).dataSync())).toEqual([9, 4]);
  });

  it('joint norm over several tensors, null skipped, per run', () => {
    const n = jointNormPerRun([tf.tensor2d([[3], [0]]), null, tf.tensor1d([4, 2])], 2);
    expect(Array.from(n.dataSync())).toEqual([5, 2]);
    expect(jointNormPerRun([tf.tensor1d([3]), tf.tensor1d([4])], undefined).dataSync()[0]).toBe(5);
    expect(broadcastPerRun(tf.tensor1d([1, 2]), 3).shape).toEqual([2, 1, 1]);
  });
});

describe('samPerturbation', () => {
  it('normalized over all tensors jointly: ε = ρ g / ‖g‖', () => {
    const eps = samPerturbation([tf.tensor1d([3]), tf.tensor1d([4])], [tf.tensor1d([0]), tf.tensor1d([0])], spec(tf.scalar(0.5)));
    expect(eps.map((e) => e!.dataSync()[0])).toEqual([0.3, 0.4].map(Math.fround));
  });

  it('per-run ρ and norms; a zero-gradient run gets 0 (epsilon 0)', () => {
    const g = tf.tensor2d([
      [3, 4],
      [0, 0],
      [0, 2],
    ]);
    const [e] = samPerturbation([g], [tf.zerosLike(g)], spec(tf.tensor1d([1, 1, 0.5]), { runs: 3 }));
    expect(Array.from(e!.dataSync())).toEqual([0.6, 0.8, 0, 0, 0, 0.5].map(Math.fround));
  });

  it('unnormalized ε = ρ g, and ASAM ε = ρ T² g / ‖T g‖', () => {
    const [u] = samPerturbation([tf.tensor1d([3, 4])], [tf.tensor1d([0, 0])], spec(tf.scalar(0.1), { normalize: false }));
    expect(Array.from(u!.dataSync())).toEqual([3, 4].map((x) => Math.fround(Math.fround(0.1) * x)));
    const w = [2, -1];
    const g = [1, 1];
    const [a] = samPerturbation([tf.tensor1d(g)], [tf.tensor1d(w)], spec(tf.scalar(1), { adaptiveEta: tf.scalar(0) }));
    const n = Math.hypot(2, 1);
    expect(Array.from(a!.dataSync())).toEqual([(4 * 1) / n, (1 * 1) / n].map(Math.fround));
  });

  it('null gradients give null ε; weight decay adds wd·w', () => {
    const eps = samPerturbation([null, tf.tensor1d([1])], [tf.tensor1d([5]), tf.tensor1d([0])], spec(tf.scalar(1)));
    expect(eps[0]).toBeNull();
    const d = addWeightDecay([tf.tensor1d([1, 1]), null], [tf.tensor1d([2, -4]), tf.tensor1d([1])], tf.scalar(0.5));
    expect(Array.from(d[0]!.dataSync())).toEqual([2, -1]);
    expect(d[1]).toBeNull();
  });
});
