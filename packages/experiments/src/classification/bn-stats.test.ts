import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { checkpointFromJSON } from '@samrank/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../cli/backend.js';
import { resolveClassificationConfig } from './config.js';
import { classificationDefinition } from './definition.js';

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('running statistics under micro-batching', () => {
  /** The first BatchNorm's running mean after one SAM step that updates BatchNorm in the first pass only. */
  async function firstBnAfterOneStep(microBatches: number, bnStats: 'micro-batch' | 'pass'): Promise<number[]> {
    const def = classificationDefinition('cifar10');
    const config = resolveClassificationConfig('cifar10', {
      preset: 'smoke',
      data: 'synthetic',
      bnMode: 'first',
      microBatches,
      bnStats,
      rhos: [0.1],
    });
    const { prepared, config: resolved } = await def.prepare(config, () => {}, {});
    const job = await def.createJob(resolved, prepared, [{ rho: 0.1, seed: 0 }]);
    const before = tf.memory().numTensors;
    await job.step(0);
    expect(tf.memory().numTensors).toBe(before);
    const saved = await job.save();
    job.dispose();
    return Array.from(checkpointFromJSON(saved.model).bnState['layer1.0.bn1']!.mean.values);
  }

  it('--bn-stats pass moves them once per pass, from the whole batch: the first layer matches an unsplit batch', async () => {
    const whole = await firstBnAfterOneStep(1, 'micro-batch');
    const perPass = await firstBnAfterOneStep(4, 'pass');
    const perMicro = await firstBnAfterOneStep(4, 'micro-batch');
    perPass.forEach((v, i) => expect(v).toBeCloseTo(whole[i]!, 6));
    // One update per micro-batch compounds the momentum: not the whole batch's update.
    expect(perMicro.some((v, i) => Math.abs(v - whole[i]!) > 1e-4)).toBe(true);
  });
});
