import { describe, expect, it } from 'vitest';
import { ExperimentConfigError } from '../errors.js';
import { KNN_DATASET, PRESETS, RHO_GRIDS, resolveClassificationConfig } from './config.js';
import { microBatchNote } from './definition.js';
import { bnPasses, sweepRuns } from './job.js';

describe('classification config', () => {
  it('paper preset = docs/paper-notes.md §7.1: width 64, 200 epochs, batch 256, ranks on 10,240 every 1,000 steps', () => {
    const c = resolveClassificationConfig('cifar100', { preset: 'paper' });
    expect([c.width, c.epochs, c.batchSize, c.rankExamples, c.evalEvery, c.evalExamples, c.trainLossBatches]).toEqual([
      64, 200, 256, 10_240, 1000, 10_000, 7,
    ]);
    expect([c.lr, c.momentum, c.weightDecay, c.schedule, c.samEpsilon, c.bnMode]).toEqual([0.05, 0, 0, 'constant', 1e-7, 'both']);
    expect(c.rhos).toEqual([0, 0.1, 0.2, 0.4, 0.6]);
    expect(c.knnDataset).toBe('cifar10');
    expect(c.trainSubset).toBeNull();
  });

  it('sota setting and the ρ grids of docs/paper-notes.md §7.2–7.3', () => {
    const c = resolveClassificationConfig('cifar100', { setting: 'sota' });
    expect([c.lr, c.momentum, c.weightDecay, c.schedule]).toEqual([0.1, 0.9, 5e-4, 'piecewise_05epochs']);
    expect(c.rhos).toEqual([0, 0.2, 0.6, 0.9, 1.2]);
    expect(RHO_GRIDS.cifar10.sota).toEqual([0, 0.1, 0.4, 0.6, 0.8]);
    expect(RHO_GRIDS['tiny-imagenet']).toEqual({ minimal: [0, 0.1, 0.4, 0.5, 0.6], sota: [0, 0.1, 0.4, 0.6, 0.7] });
    expect(KNN_DATASET).toEqual({ cifar10: 'cifar100', cifar100: 'cifar10', 'tiny-imagenet': 'cifar10', 'fashion-mnist': 'fashion-mnist' });
  });

  it('flags override the preset; Fashion-MNIST takes 1-channel input; rank subset ≤ train subset', () => {
    const c = resolveClassificationConfig('fashion-mnist', {
      preset: 'small',
      width: 16,
      rhos: [0, 0.5],
      seeds: 2,
      seed: 3,
      trainSubset: 256,
      model: 'resnet18',
      bnMode: 'first',
    });
    expect([c.width, c.inChannels, c.model, c.bnMode, c.trainSubset, c.rankExamples]).toEqual([16, 1, 'resnet18', 'first', 256, 256]);
    expect(c.rhos).toEqual([0, 0.5]);
    expect(c.seeds).toEqual([3, 4]);
    expect(PRESETS.smoke.rhos).toEqual([0, 0.4]);
    // small defaults to the sota setting (plain SGD at lr 0.05 does not train far enough in a CPU budget).
    expect(c.setting).toBe('sota');
    expect(resolveClassificationConfig('fashion-mnist', { preset: 'small', setting: 'minimal' }).lr).toBe(0.05);
    expect(resolveClassificationConfig('cifar10', { preset: 'smoke' }).rhos).toEqual([0, 0.4]);
  });

  it('small preset = the committed docs/results/fashion-mnist-small run: 512 images, 25 epochs of 64, scaled ρ grid', () => {
    const c = resolveClassificationConfig('fashion-mnist', { preset: 'small' });
    expect([
      c.width,
      c.epochs,
      c.batchSize,
      c.trainSubset,
      c.evalExamples,
      c.rankExamples,
      c.knnTrain,
      c.knnTest,
      c.evalEvery,
      c.trainLossBatches,
    ]).toEqual([8, 25, 64, 512, 500, 512, 512, 500, 50, 8]);
    expect([c.setting, c.lr, c.momentum, c.weightDecay, c.schedule]).toEqual(['sota', 0.1, 0.9, 5e-4, 'piecewise_05epochs']);
    expect(c.seeds).toEqual([0, 1, 2]);
    // CIFAR-10's sota grid scaled by √(width / 64): the same relative perturbation ρ/‖w‖ at width 8.
    const scaled = RHO_GRIDS['fashion-mnist'].sota.map((r) => r * Math.sqrt(8 / 64));
    expect(c.rhos).toEqual([0, 0.035, 0.14, 0.21, 0.28]);
    c.rhos.forEach((r, i) => expect(Math.abs(r - scaled[i]!)).toBeLessThan(0.005));
    // The paper preset keeps the unscaled grid.
    expect(resolveClassificationConfig('fashion-mnist', { preset: 'paper', setting: 'sota' }).rhos).toEqual([0, 0.1, 0.4, 0.6, 0.8]);
  });

  it('micro-batches: 4 in the paper preset on wasm and cpu (heap), 1 on backends where the batch fits and elsewhere; they must divide the batch', () => {
    expect(resolveClassificationConfig('cifar100', { preset: 'paper' }).microBatches).toBe(4);
    expect(resolveClassificationConfig('cifar100', { preset: 'paper', backend: 'cpu' }).microBatches).toBe(4);
    expect(resolveClassificationConfig('cifar100', { preset: 'paper', backend: 'tensorflow' }).microBatches).toBe(1);
    expect(resolveClassificationConfig('cifar100', { preset: 'paper', backend: 'webgpu' }).microBatches).toBe(1);
    // The report says what micro-batching changes: ghost batches of 64 and 8 running-statistics updates per step.
    const note = microBatchNote(resolveClassificationConfig('cifar100', { preset: 'paper' })).join('\n');
    expect(note).toMatch(
      /4 micro-batches of 64 \(ghost batches\).*move 8 times per SAM step.*weigh 0\.570 per step instead of the paper's 0\.190/,
    );
    expect(microBatchNote(resolveClassificationConfig('cifar100', { preset: 'paper', bnStats: 'pass' })).join('\n')).toMatch(
      /move once per pass with the statistics of the whole batch/,
    );
    expect(microBatchNote(resolveClassificationConfig('cifar100', { preset: 'paper', backend: 'webgpu' }))).toEqual([]);
    expect(resolveClassificationConfig('cifar100', { preset: 'smoke' }).microBatches).toBe(1);
    expect(resolveClassificationConfig('cifar100', { preset: 'smoke', microBatches: 2 }).microBatches).toBe(2);
    expect(() => resolveClassificationConfig('cifar100', { preset: 'smoke', microBatches: 3 })).toThrow(
      /--micro-batches 3 must divide the batch size 32/,
    );
    expect(() => resolveClassificationConfig('cifar100', { microBatches: 0 })).toThrow(ExperimentConfigError);
  });

  it('rejects bad values with ExperimentConfigError', () => {
    expect(() => resolveClassificationConfig('cifar10', { preset: 'huge' as never })).toThrow(/unknown preset huge/);
    expect(() => resolveClassificationConfig('cifar10', { width: 0 })).toThrow(ExperimentConfigError);
    expect(() => resolveClassificationConfig('cifar10', { trainSubset: 100, batchSize: 256 })).toThrow(/smaller than one batch/);
    expect(() => resolveClassificationConfig('cifar10', { rhos: [] })).toThrow(/ρ values/);
  });

  it('runs are seeds × ρ; BatchNorm modes map to the SAM passes', () => {
    expect(sweepRuns({ seeds: [0, 1], rhos: [0, 0.4] })).toEqual([
      { seed: 0, rho: 0 },
      { seed: 0, rho: 0.4 },
      { seed: 1, rho: 0 },
      { seed: 1, rho: 0.4 },
    ]);
    expect(bnPasses('both')).toEqual({ first: 'train', second: 'train' });
    expect(bnPasses('first')).toEqual({ first: 'train', second: 'train-frozen' });
    expect(bnPasses('frozen')).toEqual({ first: 'eval', second: 'eval' });
  });
});
