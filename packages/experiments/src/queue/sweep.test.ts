import { describe, expect, it } from 'vitest';
import { counterConfig, counterExperiment } from '../../test/counter-experiment.js';
import { buildResults, reportMarkdown } from '../runner/outputs.js';
import type { Metric } from '../runner/definition.js';
import { runSweep } from '../runner/sweep.js';
import { localArgs } from './cli.js';
import { type FinishedJob, assembleSweep } from './collect.js';
import { CODE_VERSION, type JobResult, type SweepRecord, canonicalJson, jobIdOf, sweepIdOf } from './sweep.js';
import { parseFailures } from './worker.js';

describe('sweep identity', () => {
  it('canonical JSON does not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: Number.NaN }], c: 'z' } })).toBe('{"a":{"c":"z","d":[1,{"x":null,"y":2}]},"b":1}');
  });

  it('the same sweep always gets the same id; any change of experiment, config, backend or version another', () => {
    const base = { experiment: 'counter', backend: 'wasm', version: '1.0.0', config: counterConfig() };
    const id = sweepIdOf(base);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(sweepIdOf({ ...base, config: JSON.parse(JSON.stringify(counterConfig())) })).toBe(id);
    const others = [
      { ...base, experiment: 'other' },
      { ...base, backend: 'cpu' },
      { ...base, version: '1.0.1' },
      { ...base, config: counterConfig({ seeds: [1, 3] }) },
      { ...base, config: counterConfig({ steps: 11 }) },
    ].map(sweepIdOf);
    expect(new Set([id, ...others]).size).toBe(6);
    // BullMQ refuses integer-like custom ids and ids with ':'.
    expect(jobIdOf(id, 3)).toBe(`${id}-3`);
  });

  it('the recorded command is the local one: queue flags removed', () => {
    expect(
      localArgs([
        'teacher-student',
        '--queue',
        'redis://:pw@h:1/0',
        '--seeds',
        '3',
        '--detach',
        '--attempts',
        '5',
        '--retry-delay=2',
        '--store',
        '/s',
        '--backend',
        'cpu',
      ]),
    ).toEqual(['teacher-student', '--seeds', '3', '--backend', 'cpu']);
    // A bare --queue (URL from the environment) does not swallow the next flag.
    expect(localArgs(['cifar10', '--queue', '--preset', 'smoke', '--queue=redis://h'])).toEqual(['cifar10', '--preset', 'smoke']);
  });

  it('reads the test-only failure hook', () => {
    expect([...parseFailures('1:2, 3:always@40')]).toEqual([
      [1, { times: 2, step: 0 }],
      [3, { times: Number.POSITIVE_INFINITY, step: 40 }],
    ]);
    expect(parseFailures(undefined).size).toBe(0);
    expect(() => parseFailures('x')).toThrow(/SAMRANK_TEST_FAIL_JOB/);
  });
});

describe('assembling a sweep from its jobs', () => {
  const config = counterConfig({ rhos: [0, 1], seeds: [1, 2] });
  const record: SweepRecord = {
    format: 1,
    id: sweepIdOf({ experiment: 'counter', backend: 'cpu', version: CODE_VERSION, config }),
    experiment: 'counter',
    version: CODE_VERSION,
    backend: 'cpu',
    queue: 'jobs-cpu',
    config,
    command: ['counter'],
    options: {},
    jobs: 4,
    store: '/tmp/store',
    attempts: 3,
    retryDelayMs: 0,
    submitted: new Date(0).toISOString(),
  };

  async function jobResults(): Promise<JobResult[]> {
    const { runJob } = await import('../runner/sweep.js');
    const out: JobResult[] = [];
    for (let j = 0; j < 4; j++) {
      const o = await runJob({ definition: counterExperiment, config, prepared: null, job: j });
      if (!o.completed) throw new Error('unfinished');
      out.push({
        runs: o.runs,
        history: o.history,
        config,
        notes: ['counted, not trained'],
        sources: [{ name: 'none', location: 'generated' }],
        progress: { field: 'step', label: 'step' },
        backend: 'cpu',
        worker: 'w',
        resumedFrom: 0,
        started: 1000 + j,
        finished: 3000 + j,
      });
    }
    return out;
  }

  it('gives the local sweep: runs and history in job order, whatever order the jobs finished in', async () => {
    const local = await runSweep({ definition: counterExperiment, config, prepared: null });
    if (!local.completed) throw new Error('unfinished');
    const results = await jobResults();
    const jobs: FinishedJob[] = [3, 1, 0, 2].map((index) => ({ index, state: 'completed', result: results[index]! }));
    const sweep = assembleSweep(counterExperiment, record, jobs, (s) => s);
    expect(sweep.runs).toEqual(local.runs);
    expect(sweep.history).toEqual(local.history);
    expect(sweep).toMatchObject({ backend: 'cpu', notes: ['counted, not trained'], failedJobs: 0, wallSeconds: 2.003 });
  });

  it('records the runs of a failed job as failed, with the (scrubbed) error, in the summary and the report', async () => {
    const results = await jobResults();
    const jobs: FinishedJob[] = [0, 1, 3].map((index) => ({ index, state: 'completed' as const, result: results[index]! }));
    jobs.push({ index: 2, state: 'failed', error: 'boom at redis://:pw@h\nstack' });
    const sweep = assembleSweep(counterExperiment, record, jobs, (s) => s.replace('redis://:pw@h', 'redis://***@h'));
    expect(sweep.failedJobs).toBe(1);
    expect(sweep.runs[2]).toEqual({ rho: 0, seed: 2, status: 'failed', divergedAt: null, final: null, error: 'boom at redis://***@h' });
    expect(sweep.history.some((h) => h.seed === 2 && h.rho === 0)).toBe(false);
    const metrics = counterExperiment.metrics(config) as Metric<unknown>[];
    const built = buildResults({
      definition: counterExperiment,
      config,
      backend: 'cpu',
      command: null,
      notes: [],
      sources: [],
      runs: sweep.runs,
      metrics,
    });
    expect(built.summary.find((s) => s.rho === 0)).toMatchObject({ finished: 1, diverged: 0, failed: 1 });
    expect(built.summary.find((s) => s.rho === 1)).not.toHaveProperty('failed');
    const report = reportMarkdown(counterExperiment, built, []);
    expect(report).toContain(
      '**Failed** (the job training them failed after its retries; no result, excluded from the medians): ρ 0 seed 2 (boom at redis://***@h).',
    );
    expect(report).toMatch(/\| 2 \| 0 \| failed \(job error\) \|/);
    expect(report).toMatch(/\| ρ \| failed \| value/);
  });

  it('refuses jobs trained on different data', async () => {
    const results = await jobResults();
    results[1] = { ...results[1]!, sources: [{ name: 'none', location: 'x', sha256: 'ab' }] };
    const jobs: FinishedJob[] = results.map((result, index) => ({ index, state: 'completed' as const, result }));
    expect(() => assembleSweep(counterExperiment, record, jobs, (s) => s)).toThrow(/different data or settings/);
  });
});
