/**
 * Golden fixtures live in the repository's `fixtures/` folder (see fixtures/README.md for what each file
 * holds, where it came from, and how `scripts/fixtures/golden.py` regenerates and checks it). Tests read
 * them from there and nowhere else, so a fresh clone tests on its own.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const fixturesDir = join(repoRoot, 'fixtures');

/** Absolute path of `fixtures/<name>` (`name` may contain a subfolder, e.g. `vision/vit.npz`). */
export function fixturePath(name: string): string {
  const file = join(fixturesDir, name);
  if (!existsSync(file)) {
    throw new Error(`fixture ${name} not found at ${file}; fixtures/index.json lists the committed ones`);
  }
  return file;
}

export function loadFixture<T = any>(name: string): T {
  return JSON.parse(readFileSync(fixturePath(name), 'utf8')) as T;
}

/** Elementwise |a - e| <= atol + rtol * |e|; returns the worst violation ratio (<= 1 means pass). */
export function worstViolation(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): number {
  if (actual.length !== expected.length) {
    throw new Error(`length mismatch: actual ${actual.length}, expected ${expected.length}`);
  }
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    const v = Math.abs(a - e) / (atol + rtol * Math.abs(e));
    if (!(v <= worst)) worst = Number.isNaN(v) ? Infinity : v;
  }
  return worst;
}

/** Flattens nested number arrays (fixtures store tensors as nested lists). */
export function flat(x: unknown): number[] {
  if (typeof x === 'number') return [x];
  if (Array.isArray(x)) return x.flatMap(flat);
  throw new Error(`not a numeric array: ${JSON.stringify(x)?.slice(0, 80)}`);
}
