import { describe, expect, it } from 'vitest';
import { jacobiSingularValues } from './jacobi.js';
import { knownSpectrum } from '../test/test-matrices.js';

function columns(x: Float64Array, n: number, d: number): Float64Array {
  const cols = new Float64Array(n * d);
  for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) cols[c * n + r] = x[r * d + c]!;
  return cols;
}

describe('jacobiSingularValues', () => {
  it('recovers s of U·diag(s)·Vᵀ to ~1e-13 relative, including tiny values', () => {
    const s = [1, 0.5, 1e-3, 1e-6, 1e-9];
    const n = 30;
    const d = 8;
    const x = knownSpectrum(n, d, s, 31);
    const got = jacobiSingularValues(columns(x, n, d), d, n);
    for (let i = 0; i < s.length; i++) expect(Math.abs(got[i]! - s[i]!)).toBeLessThan(1e-14 + 1e-12 * s[i]!);
    for (let i = s.length; i < d; i++) expect(got[i]!).toBeLessThan(1e-14);
  });

  it('agrees whichever side is rotated (columns of X or of Xᵀ)', () => {
    const n = 9;
    const d = 14;
    const x = knownSpectrum(n, d, [3, 2, 2, 0.7, 0.1], 32);
    const fromRows = jacobiSingularValues(x.slice(), n, d);
    const fromCols = jacobiSingularValues(columns(x, n, d), d, n).subarray(0, n);
    for (let i = 0; i < n; i++) expect(fromRows[i]).toBeCloseTo(fromCols[i]!, 13);
  });

  it('returns zeros for a zero matrix', () => {
    expect(Array.from(jacobiSingularValues(new Float64Array(12), 3, 4))).toEqual([0, 0, 0]);
  });
});
