import { describe, expect, it } from 'vitest';
import { resolveTeacherStudentConfig } from './config.js';
import { paperNumbers, spread, summarizeByRho, teacherStudentReport } from './report.js';
import type { RunResult } from './train.js';

const final = (rank: number, active: number) => ({ featureRank: rank, activeUnits: active, trainLoss: 1e-4, testLoss: 0.01, weightNorm: 6 });

describe('teacher-student report', () => {
  it('spread takes the median of the finite values', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(spread([4, 1, NaN, 2, 3])).toEqual({ median: 2.5, min: 1, max: 4, n: 4 });
    expect(spread([]).n).toBe(0);
  });

  it('summarizes per ρ, counts diverged runs and sets the paper numbers beside ours', () => {
    const config = resolveTeacherStudentConfig({ rhos: [0, 0.6], seeds: 3 });
    const runs: RunResult[] = [
      { rho: 0, seed: 1, status: 'ok', divergedAt: null, final: final(19, 70) },
      { rho: 0.6, seed: 1, status: 'ok', divergedAt: null, final: final(4, 10) },
      { rho: 0, seed: 2, status: 'ok', divergedAt: null, final: final(17, 80) },
      { rho: 0.6, seed: 2, status: 'diverged', divergedAt: 570, final: null },
      { rho: 0, seed: 3, status: 'ok', divergedAt: null, final: final(18, 60) },
      { rho: 0.6, seed: 3, status: 'ok', divergedAt: null, final: final(6, 20) },
    ];
    const s = summarizeByRho(config.rhos, runs);
    expect(s[0]!.metrics.featureRank.median).toBe(18);
    expect(s[1]).toMatchObject({ finished: 2, diverged: 1 });
    expect(s[1]!.metrics.activeUnits.median).toBe(15);
    const md = teacherStudentReport(config, runs, { backend: 'wasm', command: 'samrank-repro teacher-student' });
    expect(md).toMatch(/\| 0 \| 0\/3 \| 18 \(17–19\) \| \*\*19\*\* \|/);
    expect(md).toMatch(/\| 0\.6 \| 1\/3 \| 5 \(4–6\) \| \*\*4\*\* \|/);
    expect(md).toMatch(/diverged at 570/);
    expect(md).toMatch(/median feature rank goes 18 → 5/);
    expect(paperNumbers({ activation: 'tanh', method: 'gradnorm' })).toBeUndefined();
  });
});
