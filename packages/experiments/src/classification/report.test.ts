import { describe, expect, it } from 'vitest';
import type { Metric } from '../runner/definition.js';
import { buildResults, reportMarkdown } from '../runner/outputs.js';
import type { RunResult } from '../runner/results.js';
import { resolveClassificationConfig } from './config.js';
import { classificationDefinition } from './definition.js';

const run = (rho: number, seed: number, rank3: number, testError: number): RunResult => ({
  rho,
  seed,
  status: 'ok',
  divergedAt: null,
  final: { testError, trainLoss: 0.5, rank3, rank4: 20, rank5: 5, knnError: 0.3 },
});

function report(rhos: number[], runs: RunResult[]) {
  const def = classificationDefinition('cifar10');
  const config = { ...resolveClassificationConfig('cifar10', { rhos, seeds: 3 }), iterations: 10 };
  const metrics = def.metrics(config) as Metric<unknown>[];
  const results = buildResults({
    definition: def,
    config,
    backend: 'wasm',
    command: ['cifar10'],
    notes: ['a note'],
    sources: [],
    runs,
    metrics,
  });
  return reportMarkdown(def, results, []);
}

describe('classification report', () => {
  const runs = [
    run(0, 0, 100, 0.2),
    run(0, 1, 120, 0.3),
    run(0, 2, 90, 0.1),
    run(0.6, 0, 60, 0.2),
    run(0.6, 1, 70, 0.2),
    run(0.6, 2, 200, 0.2),
  ];

  it("quotes the command, the median table with ranges, the block-3 trend and the paper's Fig. 1 numbers", () => {
    const md = report([0, 0.6], runs);
    expect(md).toContain('Command: `samrank-repro cifar10`');
    expect(md).toMatch(
      /\| 0\.6 \| 20\.00 \| \*\*12\.39\*\* \| 0\.5000 \| 70 \(60–200\) \| \*\*2616\*\* \| 20 \| 5 \| 30\.00 \| \*\*67\.06\*\* \|/,
    );
    // Seeds 0–2 give rank differences −40, −50, +110: no clear effect.
    expect(md).toMatch(/\| feature rank, block 3 \| 0\.6 \| 3 \| -40 \(-50 to 110\) | 6\.67 \| 1\.000 \| unclear \|/);
    expect(md).toMatch(
      /- feature rank, block 3: no clear difference from ρ = 0 at any ρ — the paper reports it lower than at ρ = 0: \*\*no clear effect\*\* in these runs\./,
    );
    expect(md).toContain('- a note');
  });

  it("prints the paper's grid as its own table when the run used another grid", () => {
    const md = report([0, 0.3], [run(0, 0, 100, 0.2), run(0.3, 0, 110, 0.2)]);
    expect(md).toMatch(/## The paper's numbers/);
    expect(md).toMatch(/\| 0\.6 \| 12\.39 \| 2616 \| 67\.06 \|/);
    expect(md).toMatch(/only 1 seed per ρ paired with ρ = 0 — too few for a verdict/);
  });

  it('leaves diverged runs out of the medians, counts them, and reports them', () => {
    const diverged: RunResult = { rho: 0.6, seed: 3, status: 'diverged', divergedAt: 4, final: null };
    const md = report([0, 0.6, 1.2], [...runs, diverged, { ...diverged, rho: 1.2 }]);
    expect(md).toMatch(/\| 1\.2 \| 1\/1 \| – \| – \| – \| – \| – \| – \|/);
    expect(md).toMatch(/\| 0\.6 \| 1\/4 \| 20\.00 \|/);
    expect(md).toContain(
      '**Diverged** (non-finite loss, gradient or features; excluded from the medians): ρ 0.6 seed 3 at step 4; ρ 1.2 seed 3 at step 4.',
    );
    // ρ = 1.2 has no finished run: no pairs, no verdict there.
    expect(md).toMatch(/\| feature rank, block 3 \| 1\.2 \| 0 \| – \(– to –\) \| – \| 1\.000 \| unclear \|/);
  });
});
