import '@tensorflow/tfjs-layers';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/temp-dir.js';
import { runCliCaptured } from '../../test/cli-io.js';
import { counterExperiment } from '../../test/counter-experiment.js';
import { reproducingArgs } from './program.js';

const cli = (...args: string[]) => runCliCaptured(args);
const tmp = tempDir('samrank-cli-');
let n = 0;
const fresh = () => join(tmp, `out-${n++}`);

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
    for (const flag of [
      '--activation',
      '--method',
      '--rho',
      '--seeds',
      '--seed',
      '--iterations',
      '--preset',
      '--out',
      '--backend',
      '--threads',
      '--resume',
      '--force',
      '--json',
    ]) {
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
    [
      ['teacher-student', '--activation', 'gelu'],
      /option '--activation <name>' argument 'gelu' is invalid\. expected one of relu, tanh, abs\./,
    ],
    [['teacher-student', '--method', 'adam'], /expected one of sam, gradnorm/],
    [['teacher-student', '--rho', '0,abc'], /'abc' is not a finite number ≥ 0/],
    [['teacher-student', '--rho', '0,-0.1'], /'-0.1' is not a finite number ≥ 0/],
    [['teacher-student', '--rho', '0.1,0.1'], /values must be distinct/],
    [['teacher-student', '--seeds', '0'], /expected a whole number ≥ 1 and ≤ 1000/],
    [['teacher-student', '--seeds', '100000'], /expected a whole number ≥ 1 and ≤ 1000/],
    [['teacher-student', '--iterations', '2.5'], /expected a whole number ≥ 1/],
    [['teacher-student', '--preset', 'huge'], /expected one of paper, smoke/],
    [['teacher-student', '--preset', 'small'], /expected one of paper, smoke/],
    [['teacher-student', '--backend', 'tpu'], /expected one of wasm, cpu/],
    [['teacher-student', '--frobnicate'], /unknown option '--frobnicate'/],
    [['teacher-student', '--resume'], /--resume needs --out DIR/],
    [
      ['teacher-student', '--resume', '--out', 'x', '--rho', '0'],
      /--resume takes its settings from the checkpoint; pass only --out \(and --backend, --threads, --json\)/,
    ],
    [['teacher-student', '--resume', '--out', 'x', '--force'], /--resume takes its settings from the checkpoint/],
    [['teacher-student', '--threads', '0'], /expected a whole number ≥ 1/],
    [['teacher-student', '--threads', '2', '--backend', 'cpu'], /--threads 2 applies to the wasm backend only, not 'cpu'/],
    [
      ['teacher-student', '--iterations', '9007199254740991', '--backend', 'cpu', '--out', join(tmpdir(), 'samrank-huge')],
      /this sweep needs about .* GiB, more than the .* GiB this machine can give it/,
    ],
    [['teacher-student', '--out', '/proc/x', '--backend', 'cpu'], /--out \/proc\/x: \/proc is a virtual file system/],
    [['teacher-student', '--out', '/sys/x', '--backend', 'cpu'], /--out \/sys\/x: \/sys is a virtual file system/],
  ])('%j exits 2 with a one-line reason', async (args, message) => {
    const t0 = Date.now();
    const r = await cli(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('--out naming a file, or a path through one, exits 2 with one line and creates nothing', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'keep me');
    for (const out of [file, join(file, 'sub')]) {
      const r = await cli('teacher-student', '--preset', 'smoke', '--backend', 'cpu', '--out', out);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/is a file, not a folder/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    expect(existsSync(join(tmpdir(), 'samrank-huge'))).toBe(false);
  });

  it('--resume on a folder without a checkpoint exits 2 and says so', async () => {
    const dir = tempDir('samrank-cli-');
    const r = await cli('teacher-student', '--resume', '--out', dir, '--backend', 'cpu');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no checkpoint to resume: .*checkpoint\.json does not exist/);
  });

  it('runs the smoke preset end to end, writes every output and records the reproducing command', async () => {
    const dir = fresh();
    const r = await cli(
      'teacher-student',
      '--preset',
      'smoke',
      '--seeds',
      '1',
      '--iterations',
      '300',
      '--rho',
      '0,0.4',
      '--backend',
      'cpu',
      '--out',
      dir,
    );
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/rho\s+train\s+test\s+rank\s+active\s+norm\s+ok/);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    expect(results).toMatchObject({
      experiment: 'teacher-student',
      preset: 'smoke',
      backend: 'cpu',
      config: { activation: 'relu', method: 'sam' },
    });
    expect(results.command).toEqual([
      'teacher-student',
      '--preset',
      'smoke',
      '--seeds',
      '1',
      '--iterations',
      '300',
      '--rho',
      '0,0.4',
      '--backend',
      'cpu',
    ]);
    expect(results.runs).toHaveLength(2);
    for (const run of results.runs) {
      expect(run.status).toBe('ok');
      expect(Object.keys(run.final)).toEqual(['trainLoss', 'testLoss', 'featureRank', 'activeUnits', 'weightNorm']);
    }
    const history = readFileSync(join(dir, 'history.jsonl'), 'utf8').trim().split('\n');
    expect(history).toHaveLength(2 * 70);
    expect(Object.keys(JSON.parse(history[0]!))).toEqual([
      'iteration',
      'rho',
      'seed',
      'trainLoss',
      'testLoss',
      'featureRank',
      'activeUnits',
      'weightNorm',
    ]);
    expect(readdirSync(join(dir, 'figures')).sort()).toEqual(['curves.png', 'curves.svg', 'final-vs-rho.png', 'final-vs-rho.svg']);
    expect(readdirSync(dir).sort()).toEqual(['figures', 'history.jsonl', 'report.md', 'results.json']);
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toMatch(/\| ρ \| train loss \| paper \| test loss \| paper \| feature rank/);
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain(
      'Command: `samrank-repro teacher-student --preset smoke --seeds 1 --iterations 300 --rho 0,0.4 --backend cpu`',
    );
  });

  it('--json prints one JSON line with the results', async () => {
    const dir = fresh();
    const r = await cli(
      'teacher-student',
      '--preset',
      'smoke',
      '--seeds',
      '1',
      '--iterations',
      '100',
      '--rho',
      '0',
      '--backend',
      'cpu',
      '--out',
      dir,
      '--json',
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ experiment: 'teacher-student', outDir: dir, runs: [{ rho: 0, seed: 1, status: 'ok' }] });
  });

  it('a long seed list is summarised in the banner', async () => {
    const r = await runCliCaptured(['counter', '--seeds', '40', '--backend', 'cpu', '--out', fresh()], {
      experiments: [counterExperiment],
    });
    expect(r.code).toBe(0);
    const banner = r.stderr.split('\n')[0]!;
    expect(banner).toMatch(/^samrank-repro counter: rho 0,1, seeds 1,2,3,…,39,40 \(40 values\) on cpu -> /);
    expect(banner.length).toBeLessThan(300);
  });

  it('an unexpected failure is one line (the stack only with SAMRANK_DEBUG)', async () => {
    const broken = { ...counterExperiment, prepare: async () => Promise.reject(new TypeError('a bug')) };
    const r = await runCliCaptured(['counter', '--backend', 'cpu', '--out', fresh()], { experiments: [broken] });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\nsamrank-repro: TypeError: a bug \(run with SAMRANK_DEBUG=1 for the stack\)\n$/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('reproducingArgs drops where and how the run is written', () => {
    expect(reproducingArgs(['teacher-student', '--out', 'd', '--rho', '0', '--json', '--force', '--out=e'])).toEqual([
      'teacher-student',
      '--rho',
      '0',
    ]);
  });
});
