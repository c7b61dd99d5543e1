import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createPipeline } from './pipeline.js';
import { syntheticImageDataset } from './synthetic.js';
import { batchToTensors, evalBatches, trainBatches } from './tensors.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

const p = createPipeline(syntheticImageDataset('cifar10', { trainCount: 100, testCount: 30 }), { seed: 3 });

describe('tensors', () => {
  it('batches become NHWC float32 + int32 tensors with the array values', () => {
    const arrays = p.trainBatchArrays(0, 1, 16);
    const { x, y } = batchToTensors(arrays);
    expect(x.shape).toEqual([16, 32, 32, 3]);
    expect(x.dtype).toBe('float32');
    expect(y.dtype).toBe('int32');
    expect(x.dataSync()).toEqual(arrays.x);
    expect(Array.from(y.dataSync())).toEqual(Array.from(arrays.y));
    tf.dispose([x, y]);
  });

  it('no tensor leaks: an epoch of batches inside tf.tidy, eval batches disposed by the caller', () => {
    const before = tf.memory().numTensors;
    let steps = 0;
    for (const batch of trainBatches(p, 0, 16)) {
      tf.tidy(() => tf.sum(tf.add(batch.x, 1))).dispose();
      tf.dispose([batch.x, batch.y]);
      steps++;
    }
    expect(steps).toBe(6);
    tf.tidy(() => {
      const b = batchToTensors(p.trainBatchArrays(1, 0, 16));
      return tf.mean(b.x);
    }).dispose();
    let seen = 0;
    for (const b of evalBatches(p, p.test, 8)) {
      seen += b.x.shape[0];
      tf.dispose([b.x, b.y]);
    }
    expect(seen).toBe(30);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('resuming from a step yields the same batches as the uninterrupted epoch', () => {
    const all = [...trainBatches(p, 2, 16)].map((b) => ({
      step: b.step,
      x: b.x.dataSync().slice(),
      y: b.y.dataSync().slice(),
      t: [b.x, b.y],
    }));
    const resumed = [...trainBatches(p, 2, 16, 4)];
    expect(resumed.map((b) => b.step)).toEqual([4, 5]);
    expect(resumed[0]!.x.dataSync()).toEqual(all[4]!.x);
    expect(resumed[1]!.y.dataSync()).toEqual(all[5]!.y);
    tf.dispose([...all.flatMap((b) => b.t), ...resumed.flatMap((b) => [b.x, b.y])]);
  });
});
