import '@tensorflow/tfjs-layers';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../../test/cli-io.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-cls-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cli = (args: string[], interruptAtStart = false) => runCliCaptured(args, { interruptAtStart });

describe('samrank-repro classification subcommands', () => {
  it('--help lists the four experiments and their flags', async () => {
    const r = await cli(['--help']);
    for (const name of ['cifar10', 'cifar100', 'tiny-imagenet', 'fashion-mnist']) expect(r.stdout).toContain(name);
    const h = await cli(['cifar100', '--help']);
    for (const flag of [
      '--setting',
      '--model',
      '--width',
      '--epochs',
      '--batch-size',
      '--micro-batches',
      '--train-subset',
      '--eval-examples',
      '--eval-every',
      '--bn-mode',
      '--rho',
      '--seeds',
      '--out',
      '--backend',
      '--resume',
      '--force',
      '--json',
      '--preset',
      '--data-dir',
      '--download',
      '--synthetic',
    ]) {
      expect(h.stdout).toContain(flag);
    }
  });

  it('bad values exit 2 with a reason', async () => {
    expect((await cli(['cifar10', '--setting', 'fast'])).stderr).toMatch(/expected one of minimal, sota/);
    expect((await cli(['cifar10', '--model', 'vgg'])).code).toBe(2);
    const r = await cli(['cifar10', '--train-subset', '10', '--batch-size', '32']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/smaller than one batch of 32/);
    expect((await cli(['cifar10', '--resume'])).stderr).toMatch(/--resume needs --out/);
  });

  it.each([
    ['tiny-imagenet', '--synthetic'],
    ['cifar100', '--synthetic'],
    ['fashion-mnist', '(real data when installed)'],
  ])('%s --preset smoke %s runs end to end', async (name, ...extra) => {
    const out = join(tmp, name);
    const r = await cli([
      name,
      '--preset',
      'smoke',
      '--backend',
      'wasm',
      '--out',
      out,
      '--json',
      ...extra.filter((a) => a.startsWith('--')),
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as {
      runs: { rho: number; final: { rank3: number } }[];
      config: { data: string };
      sources: { location: string; sha256?: string }[];
    };
    expect(json.runs.map((x) => x.rho)).toEqual([0, 0.4]);
    expect(json.runs[1]!.final.rank3).toBeGreaterThan(0);
    for (const f of ['results.json', 'history.jsonl', 'report.md', 'figures/curves.png', 'figures/final-vs-rho.svg'])
      expect(existsSync(join(out, f))).toBe(true);
    if (name === 'fashion-mnist' && existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz')) {
      expect(json.config.data).toBe('real');
      expect(json.sources[0]!.location).toMatch(/fashion-mnist/);
      // SHA-256 over the gunzipped contents of the four verified files (the same for the official download).
      expect(json.sources[0]!.sha256).toBe('c3ca91aaadb71d5c91f4473b00cf9a24212a7af421fb65099d6aff4a9b3f408a');
    } else expect(json.sources[0]!.location).toBe('generated');
  });

  it('Ctrl-C saves a checkpoint (exit 130); --resume finishes the run', async () => {
    const out = join(tmp, 'interrupted');
    const first = await cli(['cifar10', '--preset', 'smoke', '--synthetic', '--backend', 'wasm', '--out', out], true);
    expect(first.code).toBe(130);
    expect(first.stderr).toMatch(/interrupted at step 0 of job 1\/2; state saved to/);
    expect(first.stderr).toMatch(/resume with: samrank-repro cifar10 --resume --out/);
    expect(existsSync(join(out, 'checkpoint.json'))).toBe(true);
    const second = await cli(['cifar10', '--resume', '--out', out, '--backend', 'wasm']);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/rank3/);
    expect(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).runs).toHaveLength(2);
    expect((await cli(['cifar10', '--resume', '--out', out, '--backend', 'wasm'])).stderr).toMatch(/already holds a finished run/);
  });

  it('--preset small is accepted (the CPU-sized preset: width 8, sota setting)', async () => {
    const out = join(tmp, 'small');
    const r = await cli([
      'fashion-mnist',
      '--preset',
      'small',
      '--synthetic',
      '--rho',
      '0',
      '--iterations',
      '1',
      '--train-subset',
      '128',
      '--eval-examples',
      '32',
      '--backend',
      'wasm',
      '--out',
      out,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { preset: string; config: { width: number; setting: string; iterations: number } };
    expect(json).toMatchObject({ preset: 'small', config: { width: 8, setting: 'sota', iterations: 1 } });
  });

  it('a diverging ρ is reported and the sweep goes on (exit 0, not 1)', async () => {
    const out = join(tmp, 'diverged');
    const r = await cli(['cifar10', '--preset', 'smoke', '--synthetic', '--rho', '1e30,0', '--backend', 'wasm', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^1e\+30\s+–\s+–\s+–\s+–\s+–\s+–\s+0\/1$/m);
    expect(r.stdout).toMatch(/^0\s.*\s1\/1$/m);
    expect(r.stdout).toContain('diverged (non-finite loss or features): rho 1e+30 seed 0 at step 1');
    const runs = (JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { runs: { status: string }[] }).runs;
    expect(runs.map((x) => x.status)).toEqual(['diverged', 'ok']);
  });

  it('a missing data set exits 2 with one line naming it and the --download hint, no stack', async () => {
    const empty = join(tmp, 'no-data');
    const r = await cli([
      'cifar10',
      '--preset',
      'small',
      '--rho',
      '0',
      '--data-dir',
      empty,
      '--backend',
      'wasm',
      '--out',
      join(tmp, 'nd-out'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^samrank-repro: DatasetNotFoundError: CIFAR-10 not found .*--download/m);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    // A run that fails before producing anything leaves no folder behind.
    expect(existsSync(join(tmp, 'nd-out'))).toBe(false);
  });
});
