import { describe, expect, it } from 'vitest';
import type { Metric } from '../runner/definition.js';
import { buildResults, reportMarkdown } from '../runner/outputs.js';
import type { RunResult } from '../runner/results.js';
import { resolveTeacherStudentConfig } from './config.js';
import { teacherStudentDefinition } from './definition.js';
import { paperNumbers } from './report.js';

const final = (rank: number, active: number) => ({
  trainLoss: 1e-4,
  testLoss: 0.01,
  featureRank: rank,
  activeUnits: active,
  weightNorm: 6,
});

describe('teacher-student report', () => {
  it("sets the notebook's numbers beside ours, with ranges over seeds and diverged runs counted", () => {
    const config = resolveTeacherStudentConfig({ rhos: [0, 0.6], seeds: 3 });
    const runs: RunResult[] = [
      { rho: 0, seed: 1, status: 'ok', divergedAt: null, final: final(19, 70) },
      { rho: 0.6, seed: 1, status: 'ok', divergedAt: null, final: final(4, 10) },
      { rho: 0, seed: 2, status: 'ok', divergedAt: null, final: final(17, 80) },
      { rho: 0.6, seed: 2, status: 'diverged', divergedAt: 570, final: null },
      { rho: 0, seed: 3, status: 'ok', divergedAt: null, final: final(18, 60) },
      { rho: 0.6, seed: 3, status: 'ok', divergedAt: null, final: final(6, 20) },
    ];
    const metrics = teacherStudentDefinition.metrics(config) as Metric<unknown>[];
    const results = buildResults({
      definition: teacherStudentDefinition,
      config,
      backend: 'wasm',
      command: ['teacher-student'],
      notes: [],
      sources: [],
      runs,
      metrics,
    });
    const md = reportMarkdown(teacherStudentDefinition, results, [{ name: 'curves' }]);
    expect(md).toMatch(/^# Teacher-student \(relu, SAM\)/);
    expect(md).toMatch(
      /\| 0 \| 0\/3 \| 1\.0e-4 \| \*\*3\.8e-6\*\* \| 0\.0100 \| \*\*0\.0147\*\* \| 18 \(17–19\) \| \*\*19\*\* \| 70 \(60–80\) \| \*\*77\*\* \| 6\.00 \| \*\*6\.25\*\* \|/,
    );
    expect(md).toMatch(/\| 0\.6 \| 1\/3 \| .* \| 5 \(4–6\) \| \*\*4\*\* \|/);
    expect(md).toMatch(/\| 2 \| 0\.6 \| diverged at step 570 \|/);
    // Two seeds finished at ρ = 0.6: too few for a paired verdict, and the report says so.
    expect(md).toMatch(/- feature rank \(99\.99 %\): only 2 seeds per ρ paired with ρ = 0 — too few for a verdict\./);
    expect(md).toMatch(/\| feature rank \(99\.99 %\) \| 0\.6 \| 2 \| -13\.5 \(-15 to -12\) \| -13\.5 \| 0\.500 \| unclear \|/);
    expect(md).toMatch(/\*\*Diverged\*\* .*ρ 0\.6 seed 2 at step 570/);
  });

  it("has the notebook's numbers for the paper's settings only", () => {
    expect(paperNumbers({ activation: 'relu', method: 'sam' })!.get(0.6)).toEqual({
      featureRank: 4,
      activeUnits: 10,
      weightNorm: 9.23,
      testLoss: 0.0083,
      trainLoss: 1.8e-3,
    });
    expect(paperNumbers({ activation: 'relu', method: 'gradnorm' })!.get(0.38)!.featureRank).toBe(6);
    expect(paperNumbers({ activation: 'tanh', method: 'gradnorm' })).toBeUndefined();
  });
});
