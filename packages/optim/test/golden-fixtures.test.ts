/**
 * The golden fixtures every package tests against are only as good as their expected values. This runs
 * the project's float64 PyTorch/numpy generator (scripts/fixtures/golden.py) in check mode, which derives
 * every expected value again from each fixture's inputs and definitions, wherever python3-torch is
 * installed; elsewhere it is skipped and says why.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixturesDir, repoRoot } from '../../../test-utils/fixtures.js';

const script = join(repoRoot, 'scripts', 'fixtures', 'golden.py');

// Debian's python3-torch is in the system interpreter, which a pyenv/venv python3 may shadow on PATH.
const candidates = ['python3', '/usr/bin/python3'];
const python = candidates.find((exe) => spawnSync(exe, ['-c', 'import numpy, torch'], { stdio: 'ignore', timeout: 120_000 }).status === 0);
const skipReason = `no python3 with numpy and torch (tried ${candidates.join(', ')}); apt-get install python3-numpy python3-torch to run it`;
if (!python) console.warn(`golden fixture check skipped: ${skipReason}`);

describe('golden fixtures', () => {
  it.skipIf(!python)(
    python
      ? 'scripts/fixtures/golden.py --check recomputes every expected value within its float64 tolerance'
      : `golden.py --check skipped: ${skipReason}`,
    () => {
      const run = spawnSync(python!, [script, '--check'], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
      const output = `${run.stdout}${run.stderr}`;
      expect(run.status, output).toBe(0);
      const files = readdirSync(fixturesDir).filter((f) => f.endsWith('.json') && f !== 'index.json');
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) expect(output, output).toMatch(new RegExp(`^ok +${file.replace('.', '\\.')}:`, 'm'));
      expect(output).toMatch(/^ok +index\.json:/m);
      expect(output).toContain('all fixtures match');
    },
    300_000,
  );
});
