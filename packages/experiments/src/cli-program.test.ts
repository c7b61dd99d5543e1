import '@tensorflow/tfjs-layers';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCliCaptured } from './cli-test-io.js';

const cli = (...args: string[]) => runCliCaptured(args);

describe('samrank-repro argument handling', () => {
  it('--help lists the experiments and exits 0', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/teacher-student/);
    expect(r.stdout).toMatch(/Usage: samrank-repro <experiment> \[options\]/);
  });

  it('teacher-student --help lists its options', async () => {
    const r = await cli('teacher-student', '--help');
    expect(r.code).toBe(0);
    for (const flag of ['--activation', '--method', '--rho', '--seeds', '--seed', '--iterations', '--preset', '--out', '--backend', '--threads', '--resume', '--json']) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('no experiment: usage on stderr, exit 2', async () => {
    const r = await cli();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Usage/);
  });

  it.each([
    [['zzz-no-such-experiment'], /unknown command 'zzz-no-such-experiment'/],
    [['teacher-student', '--activation', 'gelu'], /option '--activation <name>' argument 'gelu' is invalid\. expected one of relu, tanh, abs/],
    [['teacher-student', '--method', 'adam'], /expected one of sam, gradnorm/],
    [['teacher-student', '--rho', '0,abc'], /'abc' is not a finite number ≥ 0/],
    [['teacher-student', '--rho', '0,-0.1'], /'-0.1' is not a finite number ≥ 0/],
    [['teacher-student', '--rho', '0.1,0.1'], /values must be distinct/],
    [['teacher-student', '--seeds', '0'], /expected a whole number ≥ 1/],
    [['teacher-student', '--iterations', '2.5'], /expected a whole number ≥ 1/],
    [['teacher-student', '--preset', 'huge'], /expected one of paper, small, smoke/],
    [['teacher-student', '--preset', 'small'], /teacher-student has no 'small' preset .*use --preset paper or --preset smoke/],
    [['teacher-student', '--preset', 'small', '--resume', '--out', 'x'], /teacher-student has no 'small' preset/],
    [['teacher-student', '--backend', 'tpu'], /expected one of wasm, cpu/],
    [['teacher-student', '--frobnicate'], /unknown option '--frobnicate'/],
    [['teacher-student', '--resume'], /--resume needs --out DIR/],
    [['teacher-student', '--threads', '0'], /expected a whole number ≥ 1/],
    [['teacher-student', '--threads', '2', '--backend', 'cpu'], /--threads 2 applies to the wasm backend only, not 'cpu'/],
  ])('%j exits 2 with a one-line reason', async (args, message) => {
    const r = await cli(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--resume on a folder without a checkpoint exits 2 and says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samrank-cli-'));
    const r = await cli('teacher-student', '--resume', '--out', dir, '--backend', 'cpu');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no checkpoint to resume: .*checkpoint\.json does not exist/);
  });

  it('runs the smoke preset end to end and writes every output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samrank-cli-'));
    const r = await cli('teacher-student', '--preset', 'smoke', '--seeds', '1', '--iterations', '300', '--rho', '0,0.4', '--backend', 'cpu', '--out', dir);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/rho\s+rank\s+active/);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    expect(results).toMatchObject({ experiment: 'teacher-student', preset: 'smoke', backend: 'cpu', activation: 'relu', method: 'sam' });
    expect(results.runs).toHaveLength(2);
    for (const run of results.runs) {
      expect(run.status).toBe('ok');
      expect(Object.keys(run.final).sort()).toEqual(['activeUnits', 'featureRank', 'testLoss', 'trainLoss', 'weightNorm']);
    }
    const history = readFileSync(join(dir, 'history.jsonl'), 'utf8').trim().split('\n');
    expect(history).toHaveLength(2 * 70);
    expect(JSON.parse(history[0]!)).toMatchObject({ iteration: 0, rho: 0, seed: 1 });
    for (const f of ['report.md', 'figures/metrics-vs-iteration.svg', 'figures/metrics-vs-iteration.png', 'figures/final-vs-rho.svg', 'figures/final-vs-rho.png']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    expect(existsSync(join(dir, 'checkpoint.json'))).toBe(false);
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toMatch(/\| ρ \| feature rank/);
  });

  it('--json prints one JSON line with the results', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samrank-cli-'));
    const r = await cli('teacher-student', '--preset', 'smoke', '--seeds', '1', '--iterations', '100', '--rho', '0', '--backend', 'cpu', '--out', dir, '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ experiment: 'teacher-student', outDir: dir, runs: [{ rho: 0, seed: 1, status: 'ok' }] });
  });
});
