/**
 * Ctrl-C / kill and --resume through the built CLI in a child process (turbo builds before tests; run
 * `npm run build` first when calling vitest directly).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(pkgDir, 'bin', 'samrank-repro.js');
const ARGS = ['teacher-student', '--preset', 'smoke', '--seeds', '1', '--rho', '0,0.4', '--iterations', '600', '--backend', 'cpu'];

interface Child {
  code: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  stderr(): string;
}

function start(args: string[]): Child {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });
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

function checkpointIteration(dir: string): number {
  try {
    return JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')).state.iteration as number;
  } catch {
    return -1;
  }
}

let reference = '';

beforeAll(async () => {
  if (!existsSync(join(pkgDir, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` first');
  const dir = mkdtempSync(join(tmpdir(), 'samrank-ref-'));
  const run = start([...ARGS, '--out', dir]);
  expect(await run.code, run.stderr()).toBe(0);
  reference = readFileSync(join(dir, 'results.json'), 'utf8');
}, 120_000);

describe('interrupt and --resume', () => {
  it('SIGINT saves a checkpoint (exit 130) and --resume finishes with the same results.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samrank-int-'));
    const run = start([...ARGS, '--out', dir]);
    await waitFor(() => checkpointIteration(dir) >= 60);
    run.kill('SIGINT');
    expect(await run.code).toBe(130);
    expect(run.stderr()).toMatch(/interrupted at iteration \d+; state saved to .*checkpoint\.json/);
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
    const dir = mkdtempSync(join(tmpdir(), 'samrank-kill-'));
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
    const dir = mkdtempSync(join(tmpdir(), 'samrank-be-'));
    const run = start([...ARGS, '--out', dir]);
    await waitFor(() => checkpointIteration(dir) >= 0);
    run.kill('SIGKILL');
    await run.code;
    const resumed = start(['teacher-student', '--resume', '--out', dir, '--backend', 'wasm']);
    expect(await resumed.code).toBe(2);
    expect(resumed.stderr()).toMatch(/checkpoint was written on backend cpu, not wasm/);
  }, 120_000);
});
