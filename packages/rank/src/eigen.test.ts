import { helperTasksRun } from '@samrank/core/threads';
import { describe, expect, it } from 'vitest';
import { symmetricEigenvalues, tridiagHelperReady, tridiagonalEigenvalues, tridiagonalize } from './eigen.js';
import { setRankThreads } from './rank-threads.js';
import { createRng } from '../test/test-matrices.js';
import { knownSpectrum, orthonormalColumns } from '../test/test-matrices.js';
import { waitForHelper } from '../test/threads.js';

/** Q diag(l) Qᵀ for a random orthogonal Q: eigenvalues exactly l. */
function withEigenvalues(l: readonly number[], seed: number): Float64Array {
  const n = l.length;
  const Q = orthonormalColumns(n, n, seed);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let v = 0;
      for (let k = 0; k < n; k++) v += Q[i * n + k]! * l[k]! * Q[j * n + k]!;
      A[i * n + j] = v;
    }
  return A;
}

function maxRelErr(actual: ArrayLike<number>, expected: readonly number[]): number {
  const scale = Math.max(...expected.map(Math.abs));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / scale);
  return worst;
}

describe('symmetricEigenvalues', () => {
  it('recovers prescribed spectra (mixed signs, clusters, zeros) to ~1e-13 of the largest', () => {
    for (const [n, seed] of [
      [7, 1],
      [64, 2],
      [131, 3],
    ] as const) {
      const l = Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0 : (i % 3 === 0 ? -1 : 1) * 0.93 ** i * (1 + (i % 4))));
      const got = symmetricEigenvalues(withEigenvalues(l, seed), n);
      const want = [...l].sort((a, b) => b - a);
      expect(maxRelErr(got, want)).toBeLessThan(1e-12);
    }
  });

  it('gives the squared singular values of U·diag(s)·Vᵀ from its Gram to ~1e-10 relative', () => {
    const s = [5, 3, 2, 1, 0.5, 0.25, 0.1];
    const n = 40;
    const d = 12;
    const x = knownSpectrum(n, d, s, 21);
    const G = new Float64Array(d * d);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) {
        let v = 0;
        for (let r = 0; r < n; r++) v += x[r * d + i]! * x[r * d + j]!;
        G[i * d + j] = v;
      }
    const got = symmetricEigenvalues(G, d);
    for (let i = 0; i < s.length; i++) expect(Math.abs(got[i]! - s[i]! ** 2) / s[i]! ** 2).toBeLessThan(1e-10);
    for (let i = s.length; i < d; i++) expect(Math.abs(got[i]!)).toBeLessThan(1e-13 * s[0]! ** 2);
  });

  it('reads only the upper triangle and leaves the input unchanged', () => {
    const A = Float64Array.from([2, 1, 0, 99, 2, 1, 99, 99, 2]);
    const copy = A.slice();
    const got = symmetricEigenvalues(A, 3);
    expect(A).toEqual(copy);
    expect(maxRelErr(got, [2 + Math.SQRT2, 2, 2 - Math.SQRT2])).toBeLessThan(1e-15);
  });

  it('handles n = 1, 2 and diagonal / already tridiagonal input', () => {
    expect(Array.from(symmetricEigenvalues(Float64Array.of(-3), 1))).toEqual([-3]);
    expect(maxRelErr(symmetricEigenvalues(Float64Array.of(1, 2, 2, 1), 2), [3, -1])).toBeLessThan(1e-15);
    const diag = new Float64Array(16);
    [4, -1, 0, 9].forEach((v, i) => (diag[i * 4 + i] = v));
    expect(Array.from(symmetricEigenvalues(diag, 4))).toEqual([9, 4, 0, -1]);
  });

  it('tridiagonalize preserves the trace and the Frobenius norm', () => {
    const n = 33;
    const A = withEigenvalues(
      Array.from({ length: n }, (_, i) => Math.sin(i + 1)),
      4,
    );
    const { diag, off } = tridiagonalize(A, n);
    let trace = 0;
    let fro = 0;
    for (let i = 0; i < n; i++) {
      trace += A[i * n + i]!;
      for (let j = 0; j < n; j++) fro += A[i * n + j]! ** 2;
    }
    expect(diag.reduce((a, b) => a + b, 0)).toBeCloseTo(trace, 12);
    let tfro = 0;
    for (let i = 0; i < n; i++) tfro += diag[i]! ** 2 + 2 * off[i]! ** 2;
    expect(tfro).toBeCloseTo(fro, 11);
    expect(off[n - 1]).toBe(0);
    // The Wilkinson matrix W7+ has a known largest eigenvalue.
    const w = tridiagonalEigenvalues(Float64Array.from([3, 2, 1, 0, 1, 2, 3]), Float64Array.from([1, 1, 1, 1, 1, 1, 0]));
    expect(Math.max(...w)).toBeCloseTo(3.7615572, 6);
  });
});

describe('tridiagonalization on two threads', () => {
  it('splits large trailing blocks with the helper, bit-identical to one thread', async () => {
    const n = 1000;
    const rng = createRng(77);
    const A = new Float64Array(n * n);
    let trace = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) A[i * n + j] = rng.normal() + (i === j ? 0.05 * i : 0);
      trace += A[i * n + i]!;
    }
    setRankThreads(2);
    await waitForHelper(tridiagHelperReady);
    const tasksBefore = helperTasksRun();
    const two = symmetricEigenvalues(A, n);
    expect(helperTasksRun()).toBeGreaterThan(tasksBefore);
    setRankThreads(1);
    const one = symmetricEigenvalues(A, n);
    setRankThreads(2);
    expect(two).toEqual(one);
    expect(two.reduce((s, v) => s + v, 0)).toBeCloseTo(trace, 8);
  });
});
