import { describe, expect, it } from 'vitest';
import { resolveClassificationConfig } from './config.js';
import { classificationReport, rankTrend, summarizeByRho } from './report.js';
import type { RunResult } from './train.js';

const run = (rho: number, seed: number, rank3: number, testError: number): RunResult => ({
  rho,
  seed,
  steps: 10,
  status: 'ok',
  divergedAt: null,
  final: { testError, trainLoss: 0.5, featureRank: { '3': rank3, '4': 20, '5': 5 }, knnError: 0.3, activeRelus: null },
});

describe('classification report', () => {
  const config = { ...resolveClassificationConfig('cifar10', { rhos: [0, 0.6], seeds: 3 }), iterations: 10 };
  const runs = [run(0, 0, 100, 0.2), run(0, 1, 120, 0.3), run(0, 2, 90, 0.1), run(0.6, 0, 60, 0.2), run(0.6, 1, 70, 0.2), run(0.6, 2, 200, 0.2)];

  it('summarizes by ρ with the median over seeds and checks the rank trend', () => {
    const s = summarizeByRho(config, runs);
    expect(s.map((x) => x.featureRank['3'])).toEqual([100, 70]);
    expect(s[0]!.testError).toBe(0.2);
    expect(rankTrend(s)).toEqual({ rank0: 100, rankMax: 70, rhoMax: 0.6, lower: true });
    expect(rankTrend(summarizeByRho({ ...config, rhos: [0.6] }, runs))).toBeNull();
  });

  it('the report quotes the command, the table, the trend and the paper\'s Fig. 1 numbers', () => {
    const md = classificationReport(config, runs, { backend: 'wasm', command: 'samrank-repro cifar10', notes: ['a note'] });
    expect(md).toContain('samrank-repro cifar10');
    expect(md).toMatch(/\| 0\.6 \| 20\.00 \| 0\.5000 \| 70 \| 20 \| 5 \| 30\.00 \|/);
    expect(md).toMatch(/block-3 rank at the largest ρ \(0\.6\) is 70, at ρ = 0 it is 100: lower/);
    expect(md).toMatch(/\| 0\.6 \| 12\.39 \| 2616 \| 67\.06 \|/);
    expect(md).toContain('- a note');
  });

  it('leaves diverged runs out of the medians, counts them, and reports them', () => {
    const diverged: RunResult = { rho: 0.6, seed: 3, steps: 10, status: 'diverged', divergedAt: 4, final: null };
    const allDiverged = { ...config, rhos: [0, 0.6, 1.2] };
    const s = summarizeByRho(allDiverged, [...runs, diverged, { ...diverged, rho: 1.2 }]);
    expect(s.map((x) => [x.seeds, x.diverged])).toEqual([[3, 0], [3, 1], [0, 1]]);
    expect(s[1]!.featureRank['3']).toBe(70);
    expect(Number.isNaN(s[2]!.featureRank['3'])).toBe(true);
    // ρ = 1.2 has no rank: the trend compares the largest ρ that has one.
    expect(rankTrend(s)).toEqual({ rank0: 100, rankMax: 70, rhoMax: 0.6, lower: true });
    const md = classificationReport(allDiverged, [...runs, diverged, { ...diverged, rho: 1.2 }], { backend: 'wasm', notes: [] });
    expect(md).toMatch(/\| 1\.2 \| – \| – \| – \| – \| – \| – \|/);
    expect(md).toContain('**Diverged** (loss or gradient NaN / ±Infinity; excluded from the medians): ρ 0.6 seed 3 at step 4; ρ 1.2 seed 3 at step 4.');
  });
});
