/**
 * The job queue against a real Redis (started by the test on 127.0.0.1 and a free port; skipped with a message
 * when redis-server is not installed): the CLI in-process with the counter experiment (a job per run, four
 * jobs), BullMQ workers in-process. Worker processes and kill -9 are in queue/process.test.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/temp-dir.js';
import { runCliCaptured } from '../../test/cli-io.js';
import { counterExperiment } from '../../test/counter-experiment.js';
import { HAS_REDIS, NO_REDIS_MESSAGE, type TestRedis, freePort, startRedis } from '../../test/redis-server.js';
import { KEY_PREFIX, queueNameOf } from './sweep.js';
import { parseQueueUrl } from './url.js';
import { type QueueWorker, startWorker } from './worker.js';

if (!HAS_REDIS) console.warn(NO_REDIS_MESSAGE);

const PASSWORD = 'q-test-Pa55word';
const experiments = [counterExperiment];
const SWEEP = ['counter', '--backend', 'cpu'];

const made: string[] = [];
const tmp = (name: string) => {
  const dir = tempDir(`samrank-queue-${name}-`);
  made.push(dir);
  return dir;
};
const cli = (...args: string[]) => runCliCaptured(args, { experiments });

/** In-process workers on `url`; their log lines are collected. */
async function workers(url: string, n: number, options: { failures?: string } = {}) {
  const logs: string[] = [];
  const started: QueueWorker[] = [];
  for (let i = 0; i < n; i++) {
    started.push(
      await startWorker({
        url: parseQueueUrl(url),
        backend: 'cpu',
        activeBackend: 'cpu',
        experiments,
        stallSeconds: 3,
        failures: options.failures ?? '',
        log: (line) => logs.push(`w${i} ${line}`),
      }),
    );
  }
  return { logs, stop: () => Promise.all(started.map((w) => w.stop())) };
}

function outputs(dir: string) {
  return { results: readFileSync(join(dir, 'results.json'), 'utf8'), history: readFileSync(join(dir, 'history.jsonl'), 'utf8') };
}

describe.skipIf(!HAS_REDIS)('job queue (real Redis, in-process workers)', () => {
  let redis: TestRedis;
  let secured: TestRedis;
  let local: { results: string; history: string };

  beforeAll(async () => {
    [redis, secured] = await Promise.all([startRedis(), startRedis({ password: PASSWORD })]);
    const dir = tmp('local');
    const r = await cli(...SWEEP, '--out', dir);
    expect(r.code, r.stderr).toBe(0);
    local = outputs(dir);
  });
  afterAll(async () => {
    await Promise.all([redis?.stop(), secured?.stop()]);
  });
  beforeEach(async () => {
    await redis.client().flushall();
    await secured.client().flushall();
  });

  it('a sweep over two workers writes what the local run writes; resubmitting it runs nothing again', async () => {
    const w = await workers(redis.url, 2);
    try {
      const dir = tmp('two');
      const r = await cli(...SWEEP, '--queue', redis.url, '--out', dir);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^samrank-repro counter: .* on queued cpu workers -> /);
      expect(r.stderr).toMatch(/sweep [0-9a-f]{16}: 4 jobs in redis:\/\/127\.0\.0\.1:\d+\/0 queue jobs-cpu \(4 new, 0 finished already\)/);
      expect(r.stdout).toMatch(/rho\s+value\s+ok/);
      expect(outputs(dir)).toEqual(local);
      expect(JSON.parse(outputs(dir).results).command).toEqual(SWEEP);
      // Nothing but a local run's outputs is left in the folder.
      expect(readdirSync(dir).sort()).toEqual(['figures', 'history.jsonl', 'report.md', 'results.json']);
      expect(w.logs.filter((l) => /: starting$/.test(l))).toHaveLength(4);

      const again = tmp('again');
      const r2 = await cli(...SWEEP, '--queue', redis.url, '--out', again);
      expect(r2.code, r2.stderr).toBe(0);
      expect(r2.stderr).toMatch(/\(0 new, 4 finished already\)/);
      expect(outputs(again)).toEqual(local);
      expect(w.logs.filter((l) => /: starting$/.test(l))).toHaveLength(4);

      // Another sweep (other seeds) is another set of jobs.
      const other = await cli(...SWEEP, '--seeds', '1', '--queue', redis.url, '--out', tmp('other'));
      expect(other.code, other.stderr).toBe(0);
      expect(other.stderr).toMatch(/\(2 new, 0 finished already\)/);
    } finally {
      await w.stop();
    }
  }, 60_000);

  it('a job that throws twice is retried and succeeds; one that throws mid-job resumes from its checkpoint', async () => {
    const w = await workers(redis.url, 2, { failures: '1:2,3:1@5' });
    try {
      const dir = tmp('retry');
      const r = await cli(...SWEEP, '--queue', redis.url, '--out', dir, '--retry-delay', '0');
      expect(r.code, r.stderr).toBe(0);
      expect(outputs(dir)).toEqual(local);
      expect(
        w.logs.filter((l) => /job 2\/4: attempt \d\/3 failed: injected failure \(SAMRANK_TEST_FAIL_JOB\) in attempt/.test(l)),
      ).toHaveLength(2);
      // Job 4 failed at step 6 of its first attempt and its second attempt continued from the checkpoint there.
      expect(w.logs.some((l) => /job 4\/4: attempt 1\/3 failed: injected failure \(SAMRANK_TEST_FAIL_JOB\) at step 6/.test(l))).toBe(true);
      expect(w.logs.some((l) => /job 4\/4 \(counter\): resuming from step 6 \(attempt 2\/3\)/.test(l))).toBe(true);
      const queue = new Queue(queueNameOf('cpu'), { connection: { host: '127.0.0.1', port: redis.port }, prefix: KEY_PREFIX });
      try {
        const jobs = await queue.getJobs(['completed']);
        // attemptsMade counts the successful attempt too.
        expect(jobs.map((j) => j.attemptsMade).sort()).toEqual([1, 1, 2, 3]);
      } finally {
        await queue.close();
      }
    } finally {
      await w.stop();
    }
  }, 60_000);

  it('a job that always throws ends as failed: its runs are marked failed with the error, the rest finish; resubmitting retries it', async () => {
    const w = await workers(redis.url, 2, { failures: '2:always' });
    const dir = tmp('failed');
    try {
      const r = await cli(...SWEEP, '--queue', redis.url, '--out', dir, '--retry-delay', '0', '--attempts', '2');
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/job 3\/4 \(rho 0 seed 2\): failed after 2 attempts: injected failure/);
      expect(r.stdout).toMatch(
        /1 failed run; .*\nfailed \(job error after its retries\): rho 0 seed 2: injected failure \(SAMRANK_TEST_FAIL_JOB\) in attempt 2\n/,
      );
      const results = JSON.parse(outputs(dir).results);
      const reference = JSON.parse(local.results);
      expect(results.runs[2]).toEqual({
        rho: 0,
        seed: 2,
        status: 'failed',
        divergedAt: null,
        final: null,
        error: 'injected failure (SAMRANK_TEST_FAIL_JOB) in attempt 2',
      });
      expect(results.runs.filter((_: unknown, i: number) => i !== 2)).toEqual(reference.runs.filter((_: unknown, i: number) => i !== 2));
      expect(results.summary[0]).toMatchObject({ rho: 0, finished: 1, diverged: 0, failed: 1 });
      const kept = local.history.split('\n').filter((l) => l && !/"rho":0,"seed":2,/.test(l));
      expect(outputs(dir).history.split('\n').filter(Boolean)).toEqual(kept);
      expect(readFileSync(join(dir, 'report.md'), 'utf8')).toMatch(/\*\*Failed\*\* .*ρ 0 seed 2 \(injected failure/);
    } finally {
      await w.stop();
    }
    // Resubmitted (the cause fixed): only the failed job runs again, and the sweep is whole.
    const fixed = await workers(redis.url, 1);
    try {
      const again = tmp('fixed');
      const r = await cli(...SWEEP, '--queue', redis.url, '--out', again, '--retry-delay', '0');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/\(0 new, 3 finished already, 1 failed before and retried\)/);
      expect(outputs(again)).toEqual(local);
      expect(fixed.logs.filter((l) => /: starting$/.test(l))).toEqual([expect.stringMatching(/job 3\/4 \(counter\): starting$/)]);
    } finally {
      await fixed.stop();
    }
  }, 60_000);

  it('--detach returns after submitting; status lists the jobs; collect writes the same outputs', async () => {
    const dir = tmp('detach');
    const r = await cli(...SWEEP, '--queue', redis.url, '--out', dir, '--detach');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(`collect with: samrank-repro collect --queue redis://127\\.0\\.0\\.1:${redis.port}/0 --out ${dir}\\n$`),
    );
    expect(readdirSync(dir).sort()).toEqual(['queue-sweep.json']);
    const sweep = JSON.parse(readFileSync(join(dir, 'queue-sweep.json'), 'utf8')).sweep as string;

    const status = await cli('status', '--queue', redis.url);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^sweep ${sweep}  counter: rho 0,1, seeds 1,2; backend cpu; submitted .*; 4 waiting\\n`));
    expect(status.stdout).toContain('  job 3/4 [rho 0 seed 2]: waiting\n');

    const w = await workers(redis.url, 2);
    try {
      const c = await cli('collect', '--queue', redis.url, '--out', dir);
      expect(c.code, c.stderr).toBe(0);
      expect(outputs(dir)).toEqual(local);
      expect(readdirSync(dir).sort()).toEqual(['figures', 'history.jsonl', 'report.md', 'results.json']);
      // Collecting into a folder with outputs needs --force; into a new one, --sweep.
      const twice = await cli('collect', '--queue', redis.url, '--out', dir, '--sweep', sweep);
      expect(twice.code).toBe(2);
      expect(twice.stderr).toMatch(/already holds a finished run; choose another --out, or --force/);
      const elsewhere = tmp('elsewhere');
      const c2 = await cli('collect', '--queue', redis.url, '--out', elsewhere, '--sweep', sweep);
      expect(c2.code, c2.stderr).toBe(0);
      expect(outputs(elsewhere)).toEqual(local);
      const done = await cli('status', '--queue', redis.url, '--sweep', sweep);
      expect(done.stdout).toMatch(/; 4 completed\n/);
    } finally {
      await w.stop();
    }
  }, 60_000);

  it('with a password: works, and the password is in no output, no file and no Redis record', async () => {
    const w = await workers(secured.url, 1);
    try {
      const dir = tmp('secret');
      const r = await cli(...SWEEP, '--queue', secured.url, '--out', dir);
      expect(r.code, r.stderr).toBe(0);
      expect(outputs(dir)).toEqual(local);
      expect(r.stderr).toMatch(/4 jobs in redis:\/\/\*\*\*@127\.0\.0\.1:\d+\/0/);
      for (const text of [
        r.stdout,
        r.stderr,
        ...w.logs,
        readFileSync(join(dir, 'results.json'), 'utf8'),
        readFileSync(join(dir, 'report.md'), 'utf8'),
      ]) {
        expect(text).not.toContain(PASSWORD);
      }
      const client = secured.client();
      for (const key of await client.keys('*')) {
        const type = await client.type(key);
        const dump = type === 'string' ? await client.get(key) : type === 'hash' ? JSON.stringify(await client.hgetall(key)) : '';
        expect(dump ?? '', key).not.toContain(PASSWORD);
      }
    } finally {
      await w.stop();
    }
  }, 60_000);

  it('Redis unreachable, a wrong or a missing password: one line, exit 2, fast, nothing enqueued, no folder', async () => {
    const port = await freePort();
    const cases: [string, RegExp][] = [
      [
        `redis://127.0.0.1:${port}`,
        new RegExp(
          `^samrank-repro: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}/0: connection refused \\(is redis-server running there\\?\\)\\n$`,
        ),
      ],
      [
        `redis://:wrong-${PASSWORD}@127.0.0.1:${secured.port}/0`,
        /^samrank-repro: Redis at redis:\/\/\*\*\*@127\.0\.0\.1:\d+\/0 refused the password \(check the user and password in --queue\)\n$/,
      ],
      [
        `redis://127.0.0.1:${secured.port}`,
        /^samrank-repro: Redis at redis:\/\/127\.0\.0\.1:\d+\/0 needs a password: --queue redis:\/\/:PASSWORD@host:port\n$/,
      ],
    ];
    for (const [url, message] of cases) {
      const dir = join(tmp('refused'), 'out');
      const t0 = performance.now();
      const r = await cli(...SWEEP, '--queue', url, '--out', dir);
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(r.code, url).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain(PASSWORD);
      expect(existsSync(dir)).toBe(false);
      for (const cmd of [['worker', '--backend', 'cpu'], ['status'], ['collect', '--out', dir, '--sweep', '0123456789abcdef']]) {
        const other = await cli(...cmd, '--queue', url);
        expect(other.code, cmd[0]).toBe(2);
        expect(other.stderr).toMatch(message);
      }
    }
    expect(await secured.client().keys('*')).toEqual([]);
  }, 60_000);

  it('queue flags need --queue; a bare --queue reads SAMRANK_QUEUE_URL; collect needs to know its sweep', async () => {
    const detach = await cli(...SWEEP, '--detach');
    expect(detach.code).toBe(2);
    expect(detach.stderr).toBe('samrank-repro: --detach needs --queue\n');
    const saved = process.env.SAMRANK_QUEUE_URL;
    delete process.env.SAMRANK_QUEUE_URL;
    try {
      const bare = await cli('status', '--queue');
      expect(bare.code).toBe(2);
      expect(bare.stderr).toBe('samrank-repro: --queue needs a URL, or $SAMRANK_QUEUE_URL set\n');
      process.env.SAMRANK_QUEUE_URL = secured.url;
      const fromEnv = await cli('status', '--queue');
      expect(fromEnv.code, fromEnv.stderr).toBe(0);
      expect(fromEnv.stdout).toMatch(/^no sweeps in redis:\/\/\*\*\*@127\.0\.0\.1:\d+\/0\n$/);
    } finally {
      if (saved === undefined) delete process.env.SAMRANK_QUEUE_URL;
      else process.env.SAMRANK_QUEUE_URL = saved;
    }
    const nothing = await cli('collect', '--queue', redis.url, '--out', tmp('empty'));
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/names no queued sweep \(no queue-sweep\.json\); pass --sweep ID/);
    const unknown = await cli('collect', '--queue', redis.url, '--out', tmp('unknown'), '--sweep', '0123456789abcdef');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no sweep 0123456789abcdef in redis:\/\/127\.0\.0\.1:\d+\/0/);
    const auto = await cli('counter', '--queue', redis.url, '--backend', 'auto');
    expect(auto.code).toBe(2);
    expect(auto.stderr).toMatch(/--backend auto may pick a different backend on each worker/);
  }, 60_000);
});
