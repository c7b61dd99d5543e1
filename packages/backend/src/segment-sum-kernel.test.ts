import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerTrainingKernels } from './register-kernels.js';
import { unsortedSegmentSum } from './segment-sum-kernel.js';

describe('UnsortedSegmentSum on wasm', () => {
  beforeAll(async () => {
    registerTrainingKernels('wasm');
    await tf.setBackend('wasm');
  });

  it('sums rows by segment id, dropping ids out of range (hand case)', () => {
    const x = Float32Array.from([1, 2, 10, 20, 100, 200, 1000, 2000]);
    expect(Array.from(unsortedSegmentSum(x, [2, 0, 2, 5], 3, 2))).toEqual([10, 20, 0, 0, 101, 202]);
    const y = tf.unsortedSegmentSum(tf.tensor2d(x, [4, 2]), tf.tensor1d([2, 0, 2, -1], 'int32'), 3);
    expect(y.shape).toEqual([3, 2]);
    expect(Array.from(y.dataSync())).toEqual([10, 20, 0, 0, 101, 202]);
    const ints = tf.unsortedSegmentSum(tf.tensor1d([3, 4, 5], 'int32'), tf.tensor1d([1, 1, 0], 'int32'), 2);
    expect(ints.dtype).toBe('int32');
    expect(Array.from(ints.dataSync())).toEqual([5, 7]);
    tf.dispose([y, ints]);
  });

  it("gives tf.gather's gradient on wasm: each table row gets the sum of its lookups' gradients", () => {
    const table = tf.tensor2d([0.5, -1, 2, 3, 0.25, 4], [3, 2]);
    const ids = tf.tensor2d([0, 2, 2, 1, 0, 0], [2, 3], 'int32');
    const weights = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 3, 2]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), weights)))(table);
    // Row 0 is looked up at (0,0), (1,1), (1,2); row 1 at (1,0); row 2 at (0,1), (0,2).
    expect(Array.from(g.dataSync())).toEqual([1 + 9 + 11, 2 + 10 + 12, 7, 8, 3 + 5, 4 + 6]);
    tf.dispose([table, ids, weights, g]);
  });
});
