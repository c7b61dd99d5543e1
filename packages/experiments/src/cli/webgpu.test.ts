/**
 * `--backend webgpu` on a machine where WebGPU cannot run (no `webgpu` package, no Vulkan loader, or only a CPU
 * Vulkan driver that Dawn refuses): the CLI exits 2 with one line that says why, before touching the output folder.
 * Runs the built bin in a child process (turbo builds before tests; `npm run build` first when calling vitest
 * directly).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/temp-dir.js';

const pkgDir = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(pkgDir, 'bin', 'samrank-repro.js');
const repoRoot = join(pkgDir, '..', '..');

describe('samrank-repro --backend webgpu without a WebGPU adapter', () => {
  it('exits 2 with one line naming the reason', () => {
    const out = join(tempDir('samrank-webgpu-'), 'run');
    const run = spawnSync(process.execPath, [bin, 'teacher-student', '--preset', 'smoke', '--backend', 'webgpu', '--out', out], {
      encoding: 'utf8',
      env: { ...process.env, CI: '1' },
      timeout: 120_000,
    });
    if (run.status === 0) return; // a machine with a GPU that Dawn accepts: webgpu ran
    expect(run.status, run.stderr).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^samrank-repro: backend 'webgpu' is not available: (no WebGPU adapter: Dawn found no Vulkan (loader|device).*|webgpu is not installed \(install @tensorflow\/tfjs-backend-webgpu and webgpu\))$/,
    );
    expect(existsSync(join(out, 'results.json'))).toBe(false);
  }, 150_000);
});

describe('scripts/gpu-check.mjs (the GPU check) up to the adapter', () => {
  it('runs its checks on the cpu backend in a dry run, all passing, and writes gpu.json and gpu.md', () => {
    const out = tempDir('samrank-gpu-check-');
    const run = spawnSync(
      process.execPath,
      [join(repoRoot, 'scripts', 'gpu-check.mjs'), '--backend', 'cpu', '--dry', '--sections', 'checks,rank', '--out', out],
      {
        encoding: 'utf8',
        timeout: 240_000,
      },
    );
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    const results = JSON.parse(readFileSync(join(out, 'gpu.json'), 'utf8'));
    expect(results.backend).toBe('cpu');
    expect(results.checks.length).toBeGreaterThanOrEqual(10);
    expect(results.checks.filter((c: { ok: boolean }) => !c.ok)).toEqual([]);
    expect(results.rank.rank99).toBeGreaterThan(0);
    expect(readFileSync(join(out, 'gpu.md'), 'utf8')).toMatch(/^# GPU check \(dry run/);
  }, 300_000);
});
