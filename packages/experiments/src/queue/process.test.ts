/**
 * The job queue as a lab meets it: worker processes of the built bin (turbo builds before tests; run `npm run
 * build` first when calling vitest directly) on a real Redis started by the test, killed with SIGKILL or
 * stopped with Ctrl-C mid-job, and the outputs compared byte for byte with the local command's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/temp-dir.js';
import { HAS_OPENSSL, HAS_REDIS, NO_REDIS_MESSAGE, type TestRedis, makeTlsFiles, startRedis } from '../../test/redis-server.js';

if (!HAS_REDIS) console.warn(NO_REDIS_MESSAGE);

const pkgDir = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(pkgDir, 'bin', 'samrank-repro.js');
/** The must-show sweep (--seeds is a count in this CLI: seeds 1, 2, 3), on the default backend. */
const TEACHER_STUDENT = ['teacher-student', '--preset', 'smoke', '--seeds', '3'];
/** Four jobs (2 seeds × 2 ρ, a job per run). */
const CLASSIFICATION = ['cifar10', '--preset', 'smoke', '--synthetic', '--seeds', '2'];
/** Short lock and stall check, so a killed worker's job is taken over within seconds. */
const WORKER = ['worker', '--stall-timeout', '3'];

interface Child {
  proc: ChildProcess;
  code: Promise<number | null>;
  stderr(): string;
}

const children: Child[] = [];

function start(args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1', ...env } });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  proc.stdout!.on('data', () => {});
  const child = { proc, code: new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code))), stderr: () => err };
  children.push(child);
  return child;
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Steps in the job checkpoint of job 0 under `store` (-1 before the first). */
function checkpointStep(store: string): number {
  try {
    for (const sweep of readdirSync(store)) {
      const payload = readFileSync(join(store, sweep, 'job-0.json'), 'utf8').split('\n')[1]!;
      return JSON.parse(payload).progress.step as number;
    }
  } catch {
    // not written yet, or being replaced
  }
  return -1;
}

/** Starts `n` workers on `url` and waits until each serves the queue. */
async function workers(url: string, n: number): Promise<Child[]> {
  const list = Array.from({ length: n }, () => start([...WORKER, '--queue', url]));
  await waitFor(() => list.every((w) => /: serving queue jobs-wasm/.test(w.stderr())), 'the workers to start');
  return list;
}

async function stopAll(list: Child[]): Promise<void> {
  for (const w of list) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGTERM');
  await Promise.all(list.map((w) => w.code));
}

function outputs(dir: string) {
  return { results: readFileSync(join(dir, 'results.json'), 'utf8'), history: readFileSync(join(dir, 'history.jsonl'), 'utf8') };
}

async function localRun(args: string[]): Promise<{ results: string; history: string }> {
  const dir = tempDir('samrank-qlocal-');
  const run = start([...args, '--out', dir]);
  expect(await run.code, run.stderr()).toBe(0);
  return outputs(dir);
}

describe.skipIf(!HAS_REDIS)('job queue with worker processes (real Redis)', () => {
  let redis: TestRedis;
  let teacherStudent: { results: string; history: string };

  beforeAll(async () => {
    if (!existsSync(join(pkgDir, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` first');
    redis = await startRedis();
    teacherStudent = await localRun(TEACHER_STUDENT);
  }, 120_000);
  afterEach(async () => {
    await stopAll(children.splice(0));
    await redis.client().flushall();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('must-show: teacher-student smoke, 3 seeds, two workers, the one training killed with kill -9 a few seconds in: the same runs as the local command', async () => {
    const [a, b] = await workers(redis.url, 2);
    const dir = tempDir('samrank-qkill-');
    const submit = start([...TEACHER_STUDENT, '--queue', redis.url, '--out', dir]);
    await waitFor(() => /: starting$/m.test(a!.stderr() + b!.stderr()), 'a worker to take the job');
    const [holder, other] = /: starting$/m.test(a!.stderr()) ? [a!, b!] : [b!, a!];
    await waitFor(() => checkpointStep(join(dir, 'queue-checkpoints')) >= 150, 'the job to checkpoint step 150');
    holder.proc.kill('SIGKILL');
    expect(await submit.code, submit.stderr()).toBe(0);
    expect(submit.stderr()).toMatch(/job 1\/1 \(15 runs\): its worker stopped answering \(stalled\)/);
    const resumed = Number(/: resuming from step (\d+)$/m.exec(other.stderr())?.[1] ?? -1);
    expect(resumed, other.stderr()).toBeGreaterThanOrEqual(150);
    expect(outputs(dir)).toEqual(teacherStudent);
    expect(readdirSync(dir).sort()).toEqual(['figures', 'history.jsonl', 'report.md', 'results.json']);
  }, 90_000);

  it('Ctrl-C of a worker checkpoints its job and hands it back; another worker finishes it, identically', async () => {
    const [a, b] = await workers(redis.url, 2);
    const dir = tempDir('samrank-qint-');
    const submit = start([...TEACHER_STUDENT, '--queue', redis.url, '--out', dir]);
    await waitFor(() => /: starting$/m.test(a!.stderr() + b!.stderr()), 'a worker to take the job');
    const [holder, other] = /: starting$/m.test(a!.stderr()) ? [a!, b!] : [b!, a!];
    await waitFor(() => checkpointStep(join(dir, 'queue-checkpoints')) >= 100, 'the job to checkpoint step 100');
    holder.proc.kill('SIGINT');
    expect(await holder.code).toBe(0);
    expect(holder.stderr()).toMatch(/job 1\/1: stopped at step (\d+), checkpointed and handed back to the queue\n.*: stopped\n$/);
    const stoppedAt = Number(/stopped at step (\d+)/.exec(holder.stderr())![1]);
    expect(await submit.code, submit.stderr()).toBe(0);
    expect(other.stderr()).toContain(`: resuming from step ${stoppedAt}\n`);
    expect(outputs(dir)).toEqual(teacherStudent);
  }, 90_000);

  it('a sweep of four jobs over two worker processes equals the local run', async () => {
    const local = await localRun(CLASSIFICATION);
    const pool = await workers(redis.url, 2);
    const dir = tempDir('samrank-qcls-');
    const submit = start([...CLASSIFICATION, '--queue', redis.url, '--out', dir]);
    expect(await submit.code, submit.stderr()).toBe(0);
    expect(outputs(dir)).toEqual(local);
    const done = pool.map((w) => (w.stderr().match(/: done in /g) ?? []).length);
    expect(done[0]! + done[1]!).toBe(4);
  }, 90_000);
});

describe.skipIf(!HAS_REDIS || !HAS_OPENSSL)('job queue over TLS (rediss://) with a password', () => {
  let redis: TestRedis;
  let ca: string;

  beforeAll(async () => {
    const files = makeTlsFiles(tempDir('samrank-tls-'));
    ca = files.ca;
    redis = await startRedis({ password: 'tls-Secret-42', tls: files });
  }, 60_000);
  afterEach(async () => {
    await stopAll(children.splice(0));
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('a worker and a sweep over TLS; an untrusted certificate is one line, exit 2', async () => {
    const trust = { NODE_EXTRA_CA_CERTS: ca };
    expect(redis.url).toMatch(/^rediss:/);
    const worker = start([...WORKER, '--backend', 'cpu', '--queue', redis.url], trust);
    await waitFor(
      () => /: serving queue jobs-cpu of rediss:\/\/\*\*\*@127\.0\.0\.1:\d+\/0 on cpu/.test(worker.stderr()),
      'the worker to start',
    );
    const dir = tempDir('samrank-qtls-');
    const args = ['teacher-student', '--preset', 'smoke', '--seeds', '1', '--rho', '0,0.4', '--iterations', '200', '--backend', 'cpu'];
    const submit = start([...args, '--queue', redis.url, '--out', dir], trust);
    expect(await submit.code, submit.stderr()).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')).runs).toHaveLength(2);
    for (const text of [submit.stderr(), worker.stderr()]) expect(text).not.toContain('tls-Secret-42');
    const untrusted = start(['status', '--queue', redis.url]);
    expect(await untrusted.code).toBe(2);
    expect(untrusted.stderr()).toMatch(
      /^samrank-repro: cannot use Redis at rediss:\/\/\*\*\*@127\.0\.0\.1:\d+\/0: self-signed certificate in certificate chain\n$/,
    );
  }, 90_000);
});
