/**
 * Temporary folders for the CLI and queue tests, removed when the test file finishes, so a test run leaves
 * nothing under the OS temp dir (SAMRANK_KEEP_TEST_DIRS=1 keeps them to inspect a failure).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

afterAll(() => {
  if (process.env['SAMRANK_KEEP_TEST_DIRS'] === '1') return;
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder `<tmp>/<prefix>XXXXXX`. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
