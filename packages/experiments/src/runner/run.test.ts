import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CounterConfig, counterConfig, counterExperiment } from '../../test/counter-experiment.js';
import { OutputFolderError, ResourceLimitError, ResumeError, RunFolderLockedError } from '../errors.js';
import { CHECKPOINT_FILE } from './checkpoint.js';
import { LOCK_FILE } from './files.js';
import { type RunOptions, runExperiment } from './run.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-runner-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(tmp, `run-${n++}`);

const run = (outDir: string, config: CounterConfig = counterConfig(), extra: Partial<RunOptions> = {}) =>
  runExperiment({ definition: counterExperiment, config, outDir, backend: 'cpu', figures: false, command: ['counter'], ...extra });

/** Runs until the sweep has polled `stops` times, then stops: leaves a checkpoint behind. */
async function interrupted(outDir: string, config = counterConfig(), stops = 6) {
  let polls = 0;
  const out = await run(outDir, config, { hooks: { shouldStop: () => ++polls === stops } });
  expect(out.status).toBe('interrupted');
  return out;
}

const files = (dir: string) => readdirSync(dir).sort();

describe('runExperiment: outputs and resume', () => {
  it('writes results, history, report and figures; removes the checkpoint and the lock', async () => {
    const dir = fresh();
    const out = await run(dir, counterConfig({ seeds: [1, 2, 3] }), { figures: true });
    expect(out.status).toBe('completed');
    expect(files(dir)).toEqual(['figures', 'history.jsonl', 'report.md', 'results.json']);
    expect(files(join(dir, 'figures'))).toEqual([
      'curves.png',
      'curves.svg',
      'final-vs-rho.png',
      'final-vs-rho.svg',
      'thrice.png',
      'thrice.svg',
    ]);
    // Series probes go to the history only; a table: false metric stays out of report.md's tables.
    const first = JSON.parse(readFileSync(join(dir, 'history.jsonl'), 'utf8').split('\n')[1]!);
    expect(first).toMatchObject({ step: 3, rho: 0, seed: 1, series: { pair: [first.value, first.value + 1] } });
    expect(first.value).toBeCloseTo(0.003, 15);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    expect(results).toMatchObject({
      experiment: 'counter',
      command: ['counter'],
      preset: 'smoke',
      backend: 'cpu',
      notes: ['counted, not trained'],
    });
    expect(results.runs).toHaveLength(6);
    expect(results.summary.map((s: { rho: number; finished: number }) => [s.rho, s.finished])).toEqual([
      [0, 3],
      [1, 3],
    ]);
    expect(
      results.comparisons.map((c: { metric: string; rho: number; n: number; verdict: string }) => [c.metric, c.rho, c.n, c.verdict]),
    ).toEqual([
      ['value', 1, 3, 'higher'],
      ['twice', 1, 3, 'higher'],
      ['thrice', 1, 3, 'higher'],
    ]);
    expect(Object.keys(results.runs[0].final)).toEqual(['value', 'twice', 'thrice']);
    expect(results.runs[0].final.thrice).toBeCloseTo(0.03, 15);
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(report).toContain('Command: `samrank-repro counter`');
    expect(report).toMatch(/\| ρ \| value \| paper \| twice the value \|\n/);
    expect(report).not.toContain('thrice the value |');
    expect(report).toContain('- `figures/thrice.{svg,png}`: three times the value');
    expect(report).toMatch(/\| value \| 1 \| 3 \| 10 \(10 to 10\) \| 10 \| 0\.250 \| higher \|/);
    expect(report).toMatch(
      /- value: higher than at ρ = 0 at every ρ > 0 — the paper reports it higher than at ρ = 0: \*\*reproduced\*\*\./,
    );
  });

  it('a run resumed after a stop writes the same results.json and history.jsonl byte for byte', async () => {
    const whole = fresh();
    await run(whole);
    for (const stops of [1, 7, 30]) {
      const dir = fresh();
      await interrupted(dir, counterConfig(), stops);
      expect(existsSync(join(dir, CHECKPOINT_FILE))).toBe(true);
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
      const resumed = await run(dir, undefined, { resume: true });
      expect(resumed.status).toBe('completed');
      for (const f of ['results.json', 'history.jsonl'])
        expect(readFileSync(join(dir, f), 'utf8')).toBe(readFileSync(join(whole, f), 'utf8'));
      expect(existsSync(join(dir, CHECKPOINT_FILE))).toBe(false);
    }
  });

  it('resume refuses a finished folder, a folder without a checkpoint and another backend', async () => {
    const done = fresh();
    await run(done);
    await expect(run(done, undefined, { resume: true })).rejects.toThrow(/nothing to resume: .* already holds a finished run/);
    const empty = fresh();
    mkdirSync(empty);
    await expect(run(empty, undefined, { resume: true })).rejects.toThrow(/no checkpoint to resume: .*checkpoint\.json does not exist/);
    const missing = fresh();
    await expect(run(missing, undefined, { resume: true })).rejects.toThrow(/no checkpoint to resume: .*checkpoint\.json does not exist/);
    expect(existsSync(missing)).toBe(false);
    const cut = fresh();
    await interrupted(cut);
    await expect(run(cut, undefined, { resume: true, backend: 'wasm' })).rejects.toThrow(
      /written on backend cpu, not wasm; resume with --backend cpu/,
    );
  });
});

describe('runExperiment: the output folder', () => {
  it('never overwrites a finished or interrupted run unless forced; --force replaces it wholesale', async () => {
    const dir = fresh();
    await run(dir, counterConfig(), { figures: true });
    await expect(run(dir)).rejects.toThrow(OutputFolderError);
    await expect(run(dir)).rejects.toThrow(/already holds a finished run; choose another --out, or --force to replace it/);
    writeFileSync(join(dir, 'figures', 'stale.svg'), 'old');
    writeFileSync(join(dir, 'mine.txt'), 'a file of the user');
    await run(dir, counterConfig({ rhos: [2] }), { force: true });
    expect(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')).config.rhos).toEqual([2]);
    expect(existsSync(join(dir, 'figures'))).toBe(false);
    expect(readFileSync(join(dir, 'mine.txt'), 'utf8')).toBe('a file of the user');
    const cut = fresh();
    await interrupted(cut);
    await expect(run(cut)).rejects.toThrow(/holds an interrupted run; continue it with --resume, or --force to replace it/);
  });

  it('default folders get -2, -3, … when the name is taken', async () => {
    const base = join(fresh(), 'counter-20261206-120000');
    const a = await run(base, counterConfig(), { uniqueFolder: true });
    const b = await run(base, counterConfig(), { uniqueFolder: true });
    expect([a.outDir, b.outDir]).toEqual([base, `${base}-2`]);
  });

  it('refuses a sweep that does not fit in memory before creating anything', async () => {
    const dir = fresh();
    await expect(run(dir, counterConfig({ memory: 2 ** 50 }))).rejects.toThrow(ResourceLimitError);
    await expect(run(dir, counterConfig({ memory: 2 ** 50 }))).rejects.toThrow(/needs about 1048576\.0 GiB, more than the/);
    expect(existsSync(dir)).toBe(false);
  });

  it('a run that fails before writing anything removes the folder it created, and only that', async () => {
    const failing = { ...counterExperiment, prepare: async () => Promise.reject(new Error('no data')) };
    const dir = fresh();
    await expect(runExperiment({ definition: failing, config: counterConfig(), outDir: dir, backend: 'cpu' })).rejects.toThrow('no data');
    expect(existsSync(dir)).toBe(false);
    const mine = fresh();
    mkdirSync(mine);
    await expect(runExperiment({ definition: failing, config: counterConfig(), outDir: mine, backend: 'cpu' })).rejects.toThrow('no data');
    expect(files(mine)).toEqual([]);
  });

  it('a live lock holder keeps the folder; a dead one is taken over with a message; stale temporaries go', async () => {
    const dir = fresh();
    mkdirSync(dir);
    const sleeper = spawn('sleep', ['30']);
    try {
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: sleeper.pid, host: hostname(), started: '2026-12-06T00:00:00.000Z' }));
      await expect(run(dir)).rejects.toThrow(RunFolderLockedError);
      await expect(run(dir)).rejects.toThrow(
        new RegExp(`in use by another run \\(pid ${sleeper.pid} on ${hostname()}, started 2026-12-06T00:00:00\\.000Z\\)`),
      );
    } finally {
      sleeper.kill('SIGKILL');
    }
    await new Promise((r) => sleeper.on('exit', r));
    writeFileSync(join(dir, '.results.json.123.0123456789ab.tmp'), 'torn');
    const lines: string[] = [];
    await run(dir, counterConfig(), { hooks: { log: (l) => lines.push(l) } });
    expect(lines.join('\n')).toMatch(new RegExp(`took over the lock of .* left by pid ${sleeper.pid}`));
    expect(files(dir)).toEqual(['history.jsonl', 'report.md', 'results.json']);
  });

  it('a lock from another host is never taken over', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', started: '2026-12-06T00:00:00.000Z' }));
    await expect(run(dir)).rejects.toThrow(/in use by pid 1 on host elsewhere .*; if that run is gone, delete .*\.samrank-lock/);
  });
});

/** Rewrites the checkpoint of `dir` with `edit` applied to its payload, re-signing it unless `keepSum`. */
function tamper(dir: string, edit: (payload: Record<string, unknown>, header: Record<string, unknown>) => void, keepSum = false): void {
  const file = join(dir, CHECKPOINT_FILE);
  const [head, body] = readFileSync(file, 'utf8').split('\n') as [string, string];
  const header = JSON.parse(head);
  const payload = JSON.parse(body);
  edit(payload, header);
  const text = JSON.stringify(payload);
  if (!keepSum) header.sha256 = createHash('sha256').update(text).digest('hex');
  writeFileSync(file, `${JSON.stringify(header)}\n${text}\n`);
}

describe('damaged checkpoints', () => {
  type Payload = Record<string, any>;
  const cases: [string, (p: Payload, h: Payload) => void, RegExp, boolean?][] = [
    ['a truncated state array', (p) => p.current.state.values.pop(), /does not fit its config: 0 values for 1 runs/],
    ['missing fields', (p) => delete p.current.state, /current\.state: /],
    ['a missing config field', (p) => delete p.config.steps, /config\.steps: /],
    ['a negative step', (p) => (p.current.step = -100), /current\.step: /],
    ['a step past the end', (p) => (p.current.step = 1000), /at step 1000 of a 10-step run/],
    ['NaN weights', (p) => (p.current.state.values[0] = null), /current\.state\.values\.0: /],
    ['a wrong format version', (_p, h) => (h.version = 1), /has checkpoint format version 1; this release reads version 2/],
    ['another experiment', (p) => (p.experiment = 'teacher-student'), /does not fit counter: experiment: /],
    [
      'a run that is not in the sweep',
      (p) => p.history.push({ step: 0, rho: 7, seed: 1, value: 0, twice: 0 }),
      /names ρ 7 seed 1, which is not a run/,
    ],
    ['a wrong number of finished runs', (p) => p.completed.push(p.completed[0]), /finished runs, expected/],
    ['a flipped payload byte', (p) => (p.current.step += 1), /is damaged: its content does not match its checksum/, true],
  ];
  it.each(cases)('%s: ResumeError with one line, nothing written', async (_name, edit, message, keepSum) => {
    const dir = fresh();
    await interrupted(dir, counterConfig(), 12);
    tamper(dir, edit, keepSum);
    const before = readFileSync(join(dir, CHECKPOINT_FILE), 'utf8');
    const error = await run(dir, undefined, { resume: true }).then(
      () => null,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(ResumeError);
    expect(error!.message).toMatch(message);
    expect(error!.message.split('\n')).toHaveLength(1);
    expect(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8')).toBe(before);
    expect(files(dir)).toEqual([CHECKPOINT_FILE]);
  });

  it('a file that is not a checkpoint at all', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, CHECKPOINT_FILE), '{"format":"something else"}\n{}');
    await expect(run(dir, undefined, { resume: true })).rejects.toThrow(/is not a samrank checkpoint \(format something else\)/);
    writeFileSync(join(dir, CHECKPOINT_FILE), '');
    await expect(run(dir, undefined, { resume: true })).rejects.toThrow(/is not a samrank checkpoint/);
  });
});
