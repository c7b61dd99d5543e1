import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import type { ImageSet } from '@samrank/data';
import { checkpointToJSON, disposeState, saveCheckpoint } from '@samrank/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveClassificationConfig } from './config.js';
import { collectFeatures } from './evaluation.js';
import type { RunState } from '../runner/run-state.js';
import { buildModel, checkRunState } from './job.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

describe('the classification network comes from the model registry', () => {
  it('config.model names the registered model; a checkpoint fits only the model it was saved from', async () => {
    for (const name of ['preact-resnet18', 'resnet18'] as const) {
      const config = resolveClassificationConfig('cifar100', { preset: 'smoke', data: 'synthetic', model: name });
      const model = buildModel(config, 100);
      expect(model.name).toBe(name);
      expect(model.paramSpecs.find((s) => s.name === 'linear.weight')!.shape).toEqual([8 * config.width, 100]);
      const { params, state } = model.init(0);
      const saved: RunState = { model: checkpointToJSON(await saveCheckpoint(params, state)) as RunState['model'], optimizer: [] };
      expect(checkRunState(config, 100, saved)).toBeNull();
      const other = resolveClassificationConfig('cifar100', {
        preset: 'smoke',
        data: 'synthetic',
        model: name === 'resnet18' ? 'preact-resnet18' : 'resnet18',
      });
      expect(checkRunState(other, 100, saved)).toMatch(/parameter|BatchNorm/);
      disposeState(params, state);
    }
  });

  it('collectFeatures reads block taps (output: false) equal to the same taps of a full pass, batch by batch', () => {
    const config = resolveClassificationConfig('cifar10', { preset: 'smoke', data: 'synthetic' });
    const model = buildModel(config, 10);
    const { params, state } = model.init(1);
    const count = 5;
    const images = tf.randomNormal([count, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    const set = { count } as ImageSet;
    const batch = (start: number, n: number) => {
      const size = Math.min(n, count - start);
      return { x: tf.slice(images, [start, 0, 0, 0], [size, 32, 32, 3]), y: tf.zeros([size]) as tf.Tensor1D };
    };
    const before = tf.memory().numTensors;
    const features = collectFeatures({ model, batchSize: 2 }, params, state, set, [3, 5], batch);
    expect(tf.memory().numTensors).toBe(before);
    const full = model.apply(params, state, images, { training: false, taps: ['block3', 'block5'] });
    for (const b of [3, 5]) {
      const m = features.get(b)!;
      expect([m.rows, m.cols]).toEqual(full.taps[`block${b}`]!.shape);
      const want = full.taps[`block${b}`]!.dataSync();
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(m.data[i]! - want[i]!));
      expect(worst, `block ${b}`).toBeLessThan(1e-4);
    }
    tf.dispose([images, full.output!, ...Object.values(full.taps)]);
    disposeState(params, state);
  });
});
