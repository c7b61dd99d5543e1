/**
 * The CLI as a user meets it, in child processes of the built bin (turbo builds before tests; run
 * `npm run build` first when calling vitest directly): Ctrl-C and kill -9 with --resume, two runs racing for one
 * folder, and a kill -9 while results are being written.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/temp-dir.js';

const pkgDir = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(pkgDir, 'bin', 'samrank-repro.js');
const ARGS = ['teacher-student', '--preset', 'smoke', '--seeds', '1', '--rho', '0,0.4', '--iterations', '600', '--backend', 'cpu'];

interface Child {
  code: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  stderr(): string;
}

function start(args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1', ...env } });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  child.stdout.on('data', () => {});
  return {
    code: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    kill: (signal) => child.kill(signal),
    stderr: () => err,
  };
}

async function waitFor(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('timed out waiting for the child run');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Steps completed in the checkpoint of `dir` (the payload is its second line), or -1 before the first one. */
function checkpointIteration(dir: string): number {
  try {
    const payload = readFileSync(join(dir, 'checkpoint.json'), 'utf8').split('\n')[1]!;
    return JSON.parse(payload).current.step as number;
  } catch {
    return -1;
  }
}

let reference = '';

beforeAll(async () => {
  if (!existsSync(join(pkgDir, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` first');
  const dir = tempDir('samrank-ref-');
  const run = start([...ARGS, '--out', dir]);
  expect(await run.code, run.stderr()).toBe(0);
  reference = readFileSync(join(dir, 'results.json'), 'utf8');
}, 120_000);

describe('interrupt and --resume', () => {
  it('SIGINT saves a checkpoint (exit 130) and --resume finishes with the same results.json', async () => {
    const dir = tempDir('samrank-int-');
    const run = start([...ARGS, '--out', dir]);
    await waitFor(() => checkpointIteration(dir) >= 60);
    run.kill('SIGINT');
    expect(await run.code).toBe(130);
    expect(run.stderr()).toMatch(/interrupted at step \d+; state saved to .*checkpoint\.json/);
    expect(run.stderr()).toMatch(/resume with: samrank-repro teacher-student --resume --out /);
    const stoppedAt = checkpointIteration(dir);
    expect(stoppedAt).toBeGreaterThan(0);
    expect(stoppedAt).toBeLessThan(600);
    expect(existsSync(join(dir, 'results.json'))).toBe(false);

    const resumed = start(['teacher-student', '--resume', '--out', dir, '--backend', 'cpu']);
    expect(await resumed.code, resumed.stderr()).toBe(0);
    expect(readFileSync(join(dir, 'results.json'), 'utf8')).toBe(reference);
    expect(existsSync(join(dir, 'checkpoint.json'))).toBe(false);
  }, 120_000);

  it('after SIGKILL, --resume continues from the last periodic checkpoint to the same results.json', async () => {
    const dir = tempDir('samrank-kill-');
    const run = start([...ARGS, '--out', dir]);
    await waitFor(() => checkpointIteration(dir) >= 150);
    run.kill('SIGKILL');
    await run.code;
    expect(existsSync(join(dir, 'results.json'))).toBe(false);
    const resumed = start(['teacher-student', '--resume', '--out', dir, '--backend', 'cpu']);
    expect(await resumed.code, resumed.stderr()).toBe(0);
    expect(readFileSync(join(dir, 'results.json'), 'utf8')).toBe(reference);
  }, 120_000);

  it('refuses to resume on another backend', async () => {
    const dir = tempDir('samrank-be-');
    const run = start([...ARGS, '--out', dir]);
    await waitFor(() => checkpointIteration(dir) >= 0);
    run.kill('SIGKILL');
    await run.code;
    const resumed = start(['teacher-student', '--resume', '--out', dir, '--backend', 'wasm']);
    expect(await resumed.code).toBe(2);
    expect(resumed.stderr()).toMatch(/checkpoint was written on backend cpu, not wasm/);
  }, 120_000);

  it('two runs into one folder: exactly one runs, the other exits 2 naming the holder', async () => {
    const dir = tempDir('samrank-race-');
    const first = start([...ARGS, '--out', dir]);
    await waitFor(() => existsSync(join(dir, '.samrank-lock')));
    const second = start([...ARGS, '--out', dir]);
    expect(await second.code).toBe(2);
    expect(second.stderr()).toMatch(/^samrank-repro: .* is in use by another run \(pid \d+ on .*, started .*\)\n$/);
    expect(await first.code, first.stderr()).toBe(0);
    expect(readFileSync(join(dir, 'results.json'), 'utf8')).toBe(reference);
    // And a third run into the finished folder is refused, not overwriting it.
    const third = start([...ARGS, '--out', dir]);
    expect(await third.code).toBe(2);
    expect(third.stderr()).toMatch(/already holds a finished run; choose another --out, or --force to replace it/);
  }, 120_000);

  it('kill -9 while the outputs are written leaves no torn file; --resume then finishes identically', async () => {
    const dir = tempDir('samrank-torn-');
    // Every atomic write pauses between fsync and rename: the kill lands inside one of them.
    const run = start([...ARGS, '--out', dir], { SAMRANK_TEST_WRITE_PAUSE_MS: '400' });
    await waitFor(() => readdirSync(dir).some((f) => f.endsWith('.tmp')) && checkpointIteration(dir) >= 0);
    run.kill('SIGKILL');
    await run.code;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')))
      expect(() => JSON.parse(readFileSync(join(dir, f), 'utf8').split('\n')[1] ?? '{}')).not.toThrow();
    const resumed = start(['teacher-student', '--resume', '--out', dir, '--backend', 'cpu']);
    expect(await resumed.code, resumed.stderr()).toBe(0);
    expect(readFileSync(join(dir, 'results.json'), 'utf8')).toBe(reference);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 120_000);
});
