import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelConfigError } from './errors.js';
import { squaredLoss } from './losses.js';
import { microBatchGrads, microBatches, sliceBatch, valueAndGrads } from './microbatch.js';
import { mlp } from './mlp.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

describe('micro-batches', () => {
  it('splits into balanced contiguous slices', () => {
    expect(microBatches(128, 64)).toEqual([{ start: 0, size: 64 }, { start: 64, size: 64 }]);
    expect(microBatches(100, 64)).toEqual([{ start: 0, size: 50 }, { start: 50, size: 50 }]);
    expect(microBatches(10, 4)).toEqual([{ start: 0, size: 4 }, { start: 4, size: 3 }, { start: 7, size: 3 }]);
    expect(microBatches(5, 8)).toEqual([{ start: 0, size: 5 }]);
    expect(() => microBatches(0, 4)).toThrow(ModelConfigError);
    expect(() => microBatches(4, 1.5)).toThrow(ModelConfigError);
  });

  it('accumulated gradients equal the full batch for a model without batch statistics', () => {
    const net = mlp({ inputDim: 3, hiddenDims: [6], outputDim: 1, activation: 'tanh' });
    const p = net.init(0);
    const x = tf.randomNormal([10, 3], 0, 1, 'float32', 1) as tf.Tensor2D;
    const y = tf.randomNormal([10], 0, 1, 'float32', 2) as tf.Tensor1D;
    const full = valueAndGrads(p, () => squaredLoss(net.apply(p, x), y));
    const before = tf.memory().numTensors;
    const micro = microBatchGrads(p, 10, 4, (s, n) => squaredLoss(net.apply(p, sliceBatch(x, s, n)), sliceBatch(y, s, n)));
    // Only the result (loss + one gradient per parameter) is new.
    expect(tf.memory().numTensors - before).toBe(1 + Object.keys(p).length);
    expect(micro.value.dataSync()[0]).toBeCloseTo(full.value.dataSync()[0]!, 5);
    for (const k of Object.keys(p)) {
      Array.from(micro.grads[k]!.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(full.grads[k]!.dataSync()[i]!, 5));
    }
  });

  it('gives unreached parameters a zero gradient, keyed by record name', () => {
    const a = tf.variable(tf.scalar(2));
    const b = tf.variable(tf.tensor1d([1, 2]));
    const r = valueAndGrads({ a, b }, () => tf.square(a));
    expect(r.grads['a']!.dataSync()[0]).toBe(4);
    expect(Array.from(r.grads['b']!.dataSync())).toEqual([0, 0]);
  });
});
