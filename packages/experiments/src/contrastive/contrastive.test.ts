import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExperimentConfigError } from '../errors.js';
import { contrastiveConfigSchema, resolveContrastiveConfig, runSetting, sweptValues } from './config.js';
import { contrastiveDefinition } from './definition.js';
import { type ContrastiveData, type PairSplit, buildDualEncoder, createContrastiveJob, trainBatchIndices } from './job.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('contrastive config', () => {
  it('presets: smoke trains two ρ values, small three seeds, paper the setting of docs/paper-notes.md §12.1', () => {
    const smoke = resolveContrastiveConfig({}, {});
    expect(smoke.preset).toBe('smoke');
    expect(smoke.rhos.length).toBeGreaterThanOrEqual(2);
    expect(smoke.sweep).toBe('rho');
    const small = resolveContrastiveConfig({ preset: 'small' }, {});
    expect(small.seeds).toEqual([0, 1, 2]);
    const paper = resolveContrastiveConfig({ preset: 'paper' }, {});
    expect(paper).toMatchObject({
      data: 'coco',
      rhos: [0, 0.1, 0.2, 0.25, 0.3],
      lr: 1e-4,
      batchSize: 128,
      epochs: 25,
      maxTokens: 32,
      embedDim: 768,
    });
    expect(paper.image).toMatchObject({ imageSize: 384, hiddenSize: 192, depth: 12, heads: 3, resnetRoot: 64 });
    expect(paper.analysisLayers).toEqual([2, 4, 6, 8, 10, 12]);
    for (const c of [smoke, small, paper]) expect(contrastiveConfigSchema.safeParse(c).success).toBe(true);
  });

  it('one bottleneck width keeps the ρ sweep; several sweep h at one ρ (0 unless given)', () => {
    const one = resolveContrastiveConfig({}, { bottleneck: [8] });
    expect(one.sweep).toBe('rho');
    expect(sweptValues(one)).toEqual(one.rhos);
    expect(runSetting(one, one.rhos[1]!)).toEqual({ rho: one.rhos[1], bottleneck: 8 });
    const many = resolveContrastiveConfig({ preset: 'paper' }, { bottleneck: [100, 200] });
    expect(many).toMatchObject({ sweep: 'bottleneck', rhos: [0] });
    expect(sweptValues(many)).toEqual([100, 200]);
    expect(runSetting(many, 200)).toEqual({ rho: 0, bottleneck: 200 });
    expect(contrastiveDefinition.parameter(many)).toEqual({ symbol: 'h', name: 'bottleneck' });
    expect(() => resolveContrastiveConfig({}, { bottleneck: [4, 8], rho: [0, 0.1] })).toThrow(ExperimentConfigError);
    expect(() => resolveContrastiveConfig({}, { trainExamples: 10 })).toThrow(/smaller than one batch/);
    expect(() => resolveContrastiveConfig({ preset: 'huge' }, {})).toThrow(/unknown preset/);
  });
});

describe('contrastive batches', () => {
  it('each epoch visits every training image once, in an order and with captions fixed by the seed', () => {
    const perEpoch = 5;
    const seen = new Set<number>();
    for (let s = 0; s < perEpoch; s++) for (const i of trainBatchIndices(3, s, perEpoch, 20, 4, 5).images) seen.add(i);
    expect(seen.size).toBe(20);
    const a = trainBatchIndices(3, 7, perEpoch, 20, 4, 5);
    expect(trainBatchIndices(3, 7, perEpoch, 20, 4, 5)).toEqual(a);
    expect(trainBatchIndices(4, 7, perEpoch, 20, 4, 5).images).not.toEqual(a.images);
    expect(Array.from(a.captions).every((c) => c >= 0 && c < 5)).toBe(true);
    // Epochs reshuffle.
    expect(trainBatchIndices(3, 0, perEpoch, 20, 4, 5).images).not.toEqual(trainBatchIndices(3, 5, perEpoch, 20, 4, 5).images);
  });
});

/** Tiny pairs whose caption tokens name the image's class, so a few steps of training must lower the loss. */
function tinyData(count: number, size: number): ContrastiveData {
  const split = (n: number, perImage: number, offset: number): PairSplit => {
    const label = (i: number) => (i + offset) % 4;
    const tokens = new Int32Array(n * perImage * 6);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < perImage; k++) tokens.set([2, 5 + label(i), 9 + k, 3, 0, 0], (i * perImage + k) * 6);
    }
    return {
      count: n,
      captionsPerImage: perImage,
      tokens,
      images: (indices) => {
        const out = new Float32Array(indices.length * size * size);
        for (let k = 0; k < indices.length; k++) {
          for (let p = 0; p < size * size; p++) out[k * size * size + p] = ((p * (label(indices[k]!) + 1)) % 7) / 7;
        }
        return out;
      },
    };
  };
  return {
    train: split(count, 2, 0),
    test: split(16, 1, 1),
    imageShape: [size, size, 1],
    vocabSize: 12,
    padId: 0,
    stepsPerEpoch: count / 8,
    pretrained: new Map(),
  };
}

function tinyConfig(overrides: Record<string, unknown> = {}) {
  const base = resolveContrastiveConfig({ iterations: 6 }, {});
  return {
    ...base,
    image: { ...base.image, imageSize: 8, patchSize: 4, hiddenSize: 8, depth: 2, heads: 2, mlpDim: 16 },
    text: { hiddenSize: 8, depth: 1, heads: 2, intermediateSize: 16 },
    maxTokens: 6,
    embedDim: 6,
    batchSize: 8,
    evalBatches: 2,
    evalBatchSize: 8,
    rankExamples: 16,
    analysisLayers: [1, 2],
    ...overrides,
  };
}

describe('contrastive job', () => {
  it('SAM through both towers: no tensor leaks per step, the loss falls, a resumed run continues bit-identically', async () => {
    const config = tinyConfig({ lr: 1e-2 });
    const data = tinyData(32, 8);
    const job = await createContrastiveJob(config, data, [{ rho: 0.05, seed: 1 }]);
    const first = job.evaluate(0, [true])[0]!;
    expect(first.analysis).not.toBeNull();
    expect(Object.keys(first.analysis!.layers)).toHaveLength(14);
    await job.step(0);
    const before = tf.memory().numTensors;
    await job.step(1);
    await job.step(2);
    expect(tf.memory().numTensors).toBe(before);
    const saved = await job.save();
    const resumed = await createContrastiveJob(config, data, [{ rho: 0.05, seed: 1 }], saved);
    for (const s of [3, 4, 5]) {
      await job.step(s);
      await resumed.step(s);
    }
    const a = job.evaluate(6, [true])[0]!;
    const b = resumed.evaluate(6, [true])[0]!;
    expect(b).toEqual(a);
    expect(a.trainLoss).toBeLessThan(first.trainLoss);
    expect(a.imagewiseError).toBeGreaterThanOrEqual(0);
    expect(a.imagewiseError).toBeLessThanOrEqual(100);
    expect(a.imageRank).toBeGreaterThanOrEqual(1);
    expect(a.imageRank).toBeLessThanOrEqual(6);
    const mid = job.evaluate(3, [true])[0]!;
    expect(mid.analysis).toBeNull();
    job.dispose();
    resumed.dispose();
  });

  it('--freeze-text leaves the text tower and its head unchanged; a bottleneck of h caps the embedding rank at h', async () => {
    const config = tinyConfig({ freezeText: true, bottlenecks: [2] });
    const data = tinyData(32, 8);
    const job = await createContrastiveJob(config, data, [{ rho: 0.1, seed: 2 }]);
    const start = await job.save();
    for (let s = 0; s < 3; s++) await job.step(s);
    const end = await job.save();
    for (const [name, p] of Object.entries(end.model.params)) {
      const same = p.base64 === start.model.params[name]!.base64;
      expect(same).toBe(name.startsWith('text'));
    }
    expect(Object.keys(end.model.params)).toContain('image_head.bottleneck.kernel');
    const e = job.evaluate(3, [true])[0]!;
    // Normalised embeddings of a rank-2 head lie on a 2-D cone: centred, they still span at most 3 directions.
    expect(e.imageRank).toBeLessThanOrEqual(3);
    job.dispose();
  });

  it('non-finite weights: the evaluation reports the run diverged (null) and a step reports it (index 0), without a throw', async () => {
    const config = tinyConfig();
    const data = {
      ...tinyData(32, 8),
      pretrained: new Map([['text_head.bias', { shape: [6], values: new Float32Array(6).fill(Number.NaN) }]]),
    };
    const job = await createContrastiveJob(config, data, [{ rho: 0.05, seed: 0 }]);
    expect(job.evaluate(0, [true])).toEqual([null]);
    expect(await job.step(0)).toEqual([0]);
    job.dispose();
  });

  it('a checkpoint of another model is refused with a clear error', async () => {
    const config = tinyConfig();
    const data = tinyData(32, 8);
    const job = await createContrastiveJob(config, data, [{ rho: 0, seed: 0 }]);
    const saved = await job.save();
    job.dispose();
    const other = tinyConfig({ embedDim: 5 });
    await expect(createContrastiveJob(other, data, [{ rho: 0, seed: 0 }], saved)).rejects.toThrow(/does not fit this run's model/);
    expect(buildDualEncoder(other, data, null).embedDim).toBe(5);
  });
});
