import { describe, expect, it } from 'vitest';
import { type CounterConfig, counterConfig, counterExperiment, counterLog } from '../../test/counter-experiment.js';
import { type SweepProgress, runSweep } from './sweep.js';

const sweep = (config: CounterConfig, extra: Partial<Parameters<typeof runSweep>[0]> = {}) =>
  runSweep({ definition: counterExperiment, config, prepared: null, ...extra });

describe('runSweep', () => {
  it('trains every job, evaluates at the definition steps and takes the last evaluation as final', async () => {
    const config = counterConfig({ rhos: [0, 1], seeds: [1, 2], steps: 7, evalEvery: 3 });
    const out = await sweep(config);
    expect(out.completed).toBe(true);
    if (!out.completed) return;
    // Runs in job order: seeds outer, ρ inner.
    expect(out.runs.map((r) => [r.seed, r.rho])).toEqual([
      [1, 0],
      [1, 1],
      [2, 0],
      [2, 1],
    ]);
    // Evaluations at 0, 3, 6 and 7 (the end), per run.
    expect(out.history.filter((h) => h.rho === 1 && h.seed === 2).map((h) => h.step)).toEqual([0, 3, 6, 7]);
    expect(out.history[0]).toEqual({ step: 0, rho: 0, seed: 1, value: 0, twice: 0, thrice: 0, series: { pair: [0, 1] } });
    const last = out.runs[3]!;
    expect(last).toMatchObject({ rho: 1, seed: 2, status: 'ok', divergedAt: null });
    expect(last.final!.value).toBeCloseTo(7 * 1.002, 12);
    expect(last.final!.twice).toBeCloseTo(14 * 1.002, 12);
  });

  it('batched and one-run jobs give the same runs (the history interleaves the runs of a batch)', async () => {
    const a = await sweep(counterConfig({ batched: true }));
    const b = await sweep(counterConfig({ batched: false }));
    if (!a.completed || !b.completed) throw new Error('not completed');
    expect(a.runs).toEqual(b.runs);
    const key = (h: { rho: number; seed: number; step?: number | null }) => `${h.seed}/${h.rho}/${String(h.step).padStart(3, '0')}`;
    expect([...a.history].sort((x, y) => key(x).localeCompare(key(y)))).toEqual(
      [...b.history].sort((x, y) => key(x).localeCompare(key(y))),
    );
  });

  it('a run that diverges in a step is marked at steps completed, retired, and the others go on', async () => {
    counterLog.retired.length = 0;
    const config = counterConfig({ batched: true, divergeRho: 1, divergeStep: 4 });
    const out = await sweep(config);
    if (!out.completed) throw new Error('not completed');
    const bad = out.runs.filter((r) => r.rho === 1);
    expect(bad.map((r) => [r.status, r.divergedAt, r.final])).toEqual([
      ['diverged', 5, null],
      ['diverged', 5, null],
    ]);
    expect(counterLog.retired).toEqual([[1, 3]]);
    // No records after the divergence; the healthy runs finish all evaluations.
    expect(out.history.filter((h) => h.rho === 1).map((h) => h.step)).toEqual([0, 0, 3, 3]);
    for (const r of out.runs.filter((x) => x.rho === 0)) {
      expect(r.status).toBe('ok');
      expect(r.final!.value).toBeCloseTo(10 * (r.seed / 1000), 12);
    }
  });

  it('a metric that finds a run non-finite marks it diverged at that evaluation; a one-run job then stops', async () => {
    const config = counterConfig({ divergeRho: 1, divergeStep: 3, divergeWhere: 'eval' });
    const out = await sweep(config);
    if (!out.completed) throw new Error('not completed');
    expect(out.runs.filter((r) => r.rho === 1).map((r) => [r.status, r.divergedAt])).toEqual([
      ['diverged', 3],
      ['diverged', 3],
    ]);
    expect(out.history.filter((h) => h.rho === 1).map((h) => h.step)).toEqual([0, 0]);
  });

  it('stopping saves the progress and resuming from it gives the same runs and history', async () => {
    const config = counterConfig({ steps: 9, evalEvery: 2 });
    const full = await sweep(config);
    for (const stopAt of [1, 4, 13, 25]) {
      let polls = 0;
      const saved: SweepProgress[] = [];
      const cut = await sweep(config, {
        hooks: { shouldStop: () => ++polls === stopAt },
        save: async (p) => void saved.push(structuredClone(p)),
      });
      expect(cut.completed).toBe(false);
      if (cut.completed) return;
      expect(saved.at(-1)).toEqual(cut.progress);
      const rest = await sweep(config, { resume: JSON.parse(JSON.stringify(cut.progress)) });
      expect(rest).toEqual(full);
    }
  });

  it('saves after every evaluation that is not a job end, and between jobs', async () => {
    const saved: SweepProgress[] = [];
    await sweep(counterConfig({ rhos: [0], seeds: [1, 2], steps: 4, evalEvery: 2 }), {
      save: async (p) => void saved.push(structuredClone(p)),
    });
    expect(saved.map((p) => (p.current ? `job ${p.current.job} step ${p.current.step}` : `between, ${p.completed.length} done`))).toEqual([
      'job 0 step 0',
      'job 0 step 2',
      'between, 1 done',
      'job 1 step 0',
      'job 1 step 2',
    ]);
  });

  it('disposes every job, also when a step throws', async () => {
    const before = counterLog.disposed;
    const created = counterLog.created;
    await sweep(counterConfig());
    expect(counterLog.disposed - before).toBe(counterLog.created - created);
    const broken = {
      ...counterExperiment,
      createJob: () => ({
        ...counterExperiment.createJob(counterConfig(), null, [{ rho: 0, seed: 1 }]),
        step: () => {
          throw new Error('boom');
        },
      }),
    };
    const d = counterLog.disposed;
    await expect(runSweep({ definition: broken as typeof counterExperiment, config: counterConfig(), prepared: null })).rejects.toThrow(
      'boom',
    );
    expect(counterLog.disposed).toBe(d + 1);
  });
});
