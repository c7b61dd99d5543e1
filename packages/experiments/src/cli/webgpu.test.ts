/**
 * `--backend webgpu` on a machine where WebGPU cannot run (no `webgpu` package, no Vulkan loader, or only a CPU
 * Vulkan driver that Dawn refuses): the CLI exits 2 with one line that says why, before touching the output folder.
 * Runs the built bin in a child process (turbo builds before tests; `npm run build` first when calling vitest
 * directly).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(pkgDir, 'bin', 'samrank-repro.js');

describe('samrank-repro --backend webgpu without a WebGPU adapter', () => {
  it('exits 2 with one line naming the reason', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'samrank-webgpu-')), 'run');
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
