import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClassificationOverrides, resolveClassificationConfig } from './config.js';
import { selectBackend } from '../cli/backend.js';
import { type RunOptions, runExperiment } from '../runner/run.js';
import { classificationDefinition } from './definition.js';
import { curvesAxis } from '../runner/definition.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-cls-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  // The training kernels (wasm + @samrank/models' conv backprop) make a ResNet step ~25× faster than stock cpu.
  await selectBackend('wasm');
});

type Options = Omit<RunOptions, 'definition'> & { config: ReturnType<typeof resolveClassificationConfig> };
/** Runs a classification sweep through the runner (the CLI's path without the argument parsing). */
const runClassificationExperiment = (o: Options & { shouldStop?: () => boolean }) =>
  runExperiment({
    ...o,
    definition: classificationDefinition(o.config.dataset),
    ...(o.shouldStop ? { hooks: { shouldStop: o.shouldStop } } : {}),
  });
const results = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Record<string, unknown>;

describe('classification smoke run', () => {
  it('cifar10 --preset smoke on generated data writes results, history, report and figures', async () => {
    const config = resolveClassificationConfig('cifar10', { preset: 'smoke', data: 'synthetic' });
    const outDir = join(tmp, 'c10');
    const before = tf.memory().numTensors;
    const outcome = await runClassificationExperiment({ config, outDir, backend: 'wasm', command: ['cifar10', '--preset', 'smoke'] });
    expect(outcome.status).toBe('completed');
    expect(tf.memory().numTensors).toBe(before);
    const r = results(outDir) as { runs: { rho: number; final: { testError: number; rank3: number; knnError: number } }[] };
    expect(r.runs.map((x) => x.rho)).toEqual([0, 0.4]);
    for (const run of r.runs) {
      expect(run.final.testError).toBeGreaterThanOrEqual(0);
      expect(run.final.rank3).toBeGreaterThan(0);
      expect(run.final.knnError).toBeGreaterThanOrEqual(0);
    }
    const history = readFileSync(join(outDir, 'history.jsonl'), 'utf8').trim().split('\n');
    expect(history.length).toBe(2 * 3);
    // The curves are drawn against epochs (as the paper's), a field derived from the step on every line.
    const axis = curvesAxis(classificationDefinition('cifar10').progress(config, { stepsPerEpoch: 4 } as never));
    expect(axis).toEqual({ field: 'epoch', label: 'epoch' });
    const lines = history.map((l) => JSON.parse(l) as { step: number; epoch: number });
    expect(lines.every((h) => h.epoch < h.step || h.step === 0)).toBe(true);
    expect(Math.max(...lines.map((h) => h.epoch))).toBe(config.epochs);
    expect(readFileSync(join(outDir, 'report.md'), 'utf8')).toMatch(/Fig\. 1/);
    for (const f of ['curves', 'final-vs-rho', 'train-vs-test-rank', 'rank-thresholds'])
      expect(existsSync(join(outDir, 'figures', `${f}.svg`)), f).toBe(true);
    // Figs. 9 and 10: ranks of every block on both splits at three thresholds, from one spectrum each.
    type Rank = { block: number; split: string; threshold: number; rank: number };
    for (const run of r.runs as unknown as { final: Record<string, number> & { ranks: Rank[] } }[]) {
      const { ranks } = run.final;
      expect(ranks).toHaveLength(3 * 2 * 3);
      expect(ranks.find((x) => x.block === 3 && x.split === 'train' && x.threshold === 0.99)!.rank).toBe(run.final.rank3);
      expect(ranks.find((x) => x.block === 4 && x.split === 'test' && x.threshold === 0.999)!.rank).toBe(run.final['rank4.test.99.9']);
      for (const b of [3, 4, 5]) {
        for (const split of ['train', 'test']) {
          const [r95, r99, r999] = [0.95, 0.99, 0.999].map(
            (t) => ranks.find((x) => x.block === b && x.split === split && x.threshold === t)!.rank,
          );
          expect(r95! <= r99! && r99! <= r999!, `block ${b} ${split}`).toBe(true);
        }
      }
    }
    // The normalised spectra in the history recompute those ranks at any threshold up to 99.9 %.
    const last = JSON.parse(history[history.length - 1]!) as Record<string, number> & { series: Record<string, number[]> };
    for (const split of ['train', 'test']) {
      const head = last.series[`spectrum3.${split}`]!;
      // The original rule: the fewest components whose share of the variance exceeds the threshold.
      const rankAt = (t: number) => {
        let acc = 0;
        return head.findIndex((v) => (acc += v) > t) + 1;
      };
      expect(rankAt(0.95)).toBe(last[`rank3.${split}.95`]);
      expect(rankAt(0.99)).toBe(split === 'train' ? last.rank3 : last['rank3.test.99']);
      expect(head.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1.001);
    }
    expect(existsSync(join(outDir, 'checkpoint.json'))).toBe(false);
  });

  it('micro-batched steps (one SAM perturbation per batch) match whole-batch steps when BatchNorm is frozen', async () => {
    // Frozen BatchNorm uses running statistics, so examples are independent and accumulation must equal the full batch
    // (one step: with ρ = 0.4 on this width-4 net, float32 rounding differences grow chaotically over later steps).
    const base: ClassificationOverrides = { preset: 'smoke', data: 'synthetic', bnMode: 'frozen', rhos: [0, 0.4], iterations: 1 };
    const whole = join(tmp, 'mb1');
    const split = join(tmp, 'mb4');
    await runClassificationExperiment({
      config: resolveClassificationConfig('cifar10', base),
      outDir: whole,
      backend: 'wasm',
      figures: false,
    });
    await runClassificationExperiment({
      config: resolveClassificationConfig('cifar10', { ...base, microBatches: 4 }),
      outDir: split,
      backend: 'wasm',
      figures: false,
    });
    type Final = { runs: { status: string; final: { trainLoss: number; testError: number } }[]; config: { microBatches: number } };
    const a = results(whole) as unknown as Final;
    const b = results(split) as unknown as Final;
    expect([a.config.microBatches, b.config.microBatches]).toEqual([1, 4]);
    expect(b.runs.map((r) => r.status)).toEqual(['ok', 'ok']);
    for (const i of [0, 1]) {
      expect(b.runs[i]!.final.trainLoss).toBeCloseTo(a.runs[i]!.final.trainLoss, 5);
      expect(b.runs[i]!.final.testError).toBe(a.runs[i]!.final.testError);
    }
  });

  it('resume after a stop gives the same results.json as an uninterrupted run', async () => {
    const config = resolveClassificationConfig('fashion-mnist', { preset: 'smoke', data: 'synthetic', model: 'resnet18', setting: 'sota' });
    const full = join(tmp, 'full');
    await runClassificationExperiment({ config, outDir: full, backend: 'wasm', figures: false });
    const cut = join(tmp, 'cut');
    let steps = 0;
    const first = await runClassificationExperiment({
      config,
      outDir: cut,
      backend: 'wasm',
      figures: false,
      shouldStop: () => ++steps === 5,
    });
    expect(first.status).toBe('interrupted');
    expect(existsSync(join(cut, 'checkpoint.json'))).toBe(true);
    const second = await runClassificationExperiment({ config, outDir: cut, backend: 'wasm', figures: false, resume: true });
    expect(second.status).toBe('completed');
    expect(results(cut)).toEqual(results(full));
    expect(readFileSync(join(cut, 'history.jsonl'), 'utf8')).toBe(readFileSync(join(full, 'history.jsonl'), 'utf8'));
    const r = results(full) as { runs: { final: { activeRelus4: number } }[] };
    expect(r.runs[0]!.final.activeRelus4).toBeGreaterThan(0);
  });

  it('a run whose loss or features turn NaN/Inf is marked diverged and the sweep goes on', async () => {
    // ρ = 1e30 overflows the perturbed loss at the first SAM step (SAM refuses the update); lr = 1e8 keeps
    // gradients finite for a step but overflows BatchNorm's running statistics, so the next evaluation's
    // features are NaN. Neither may end the sweep.
    const before = tf.memory().numTensors;
    const huge = resolveClassificationConfig('cifar10', { preset: 'smoke', data: 'synthetic', rhos: [1e30, 0] });
    const a = await runClassificationExperiment({ config: huge, outDir: join(tmp, 'div-rho'), backend: 'wasm', figures: false });
    const b = await runClassificationExperiment({
      config: { ...resolveClassificationConfig('cifar10', { preset: 'smoke', data: 'synthetic', rhos: [0] }), lr: 1e8 },
      outDir: join(tmp, 'div-lr'),
      backend: 'wasm',
      figures: false,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(a.status).toBe('completed');
    const ra = results(join(tmp, 'div-rho')) as {
      runs: { rho: number; status: string; divergedAt: number | null; final: { rank3: number } | null }[];
    };
    expect(ra.runs.map((r) => [r.rho, r.status, r.divergedAt])).toEqual([
      [1e30, 'diverged', 1],
      [0, 'ok', null],
    ]);
    expect(ra.runs[0]!.final).toBeNull();
    expect(ra.runs[1]!.final!.rank3).toBeGreaterThan(0);
    expect(readFileSync(join(tmp, 'div-rho', 'report.md'), 'utf8')).toMatch(/\*\*Diverged\*\*.*ρ 1e\+30 seed 0 at step 1/);
    expect(b.status).toBe('completed');
    const rb = results(join(tmp, 'div-lr')) as { runs: { status: string; divergedAt: number }[] };
    expect(rb.runs).toEqual([expect.objectContaining({ status: 'diverged', divergedAt: 2, final: null })]);
    // The history keeps the evaluations made before the divergence.
    expect(
      readFileSync(join(tmp, 'div-lr', 'history.jsonl'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(1);
  });
});
