import { helperTasksRun } from '@samrank/core/threads';
import { afterEach, describe, expect, it } from 'vitest';
import { BAND } from './band.js';
import { setTwoStageFrom, symmetricEigenvalues, tridiagHelperReady, tridiagonalize } from './eigen.js';
import { setRankThreads } from './rank-threads.js';
import { createRng, orthonormalColumns } from '../test/test-matrices.js';
import { waitForHelper } from '../test/threads.js';

/** Upper triangle (row-major n × n) of Q diag(l) Qᵀ for a random orthogonal Q: eigenvalues exactly l. */
function withEigenvalues(l: readonly number[], seed: number): Float64Array {
  const n = l.length;
  const Q = orthonormalColumns(n, n, seed);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) {
      let v = 0;
      for (let k = 0; k < n; k++) v += Q[i * n + k]! * l[k]! * Q[j * n + k]!;
      A[i * n + j] = v;
    }
  return A;
}

function randomSymmetric(n: number, seed: number): Float64Array {
  const rng = createRng(seed);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) A[i * n + j] = rng.normal() + (i === j ? 0.01 * i : 0);
  return A;
}

/** Largest |a − b| over the largest |b|. */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  }
  return worst / scale;
}

function bothWays(A: Float64Array, n: number): { one: Float64Array; two: Float64Array } {
  setTwoStageFrom(Number.POSITIVE_INFINITY);
  const one = symmetricEigenvalues(A, n);
  setTwoStageFrom(1);
  const two = symmetricEigenvalues(A, n);
  return { one, two };
}

afterEach(() => {
  setTwoStageFrom(2560);
  setRankThreads(2);
});

describe('two-stage reduction (dense → band → tridiagonal)', () => {
  it('gives the eigenvalues of the one-stage reduction to ~1e-14, at sizes around the band and its multiples', () => {
    for (const n of [1, 2, 3, BAND, BAND + 1, BAND + 2, 2 * BAND + 1, 3 * BAND - 1, 100, 301]) {
      const A = randomSymmetric(n, n);
      const { one, two } = bothWays(A, n);
      expect(relDiff(two, one), `n = ${n}`).toBeLessThan(1e-13);
    }
  });

  it('recovers prescribed spectra (mixed signs, clusters, zeros) to ~1e-13 of the largest', () => {
    const n = 150;
    const l = Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0 : (i % 3 === 0 ? -1 : 1) * 0.93 ** i * (1 + (i % 4))));
    setTwoStageFrom(1);
    const got = symmetricEigenvalues(withEigenvalues(l, 5), n);
    expect(
      relDiff(
        got,
        [...l].sort((a, b) => b - a),
      ),
    ).toBeLessThan(1e-12);
  });

  it('handles columns that are already reduced (zero below the band, a diagonal block, a rank-one matrix)', () => {
    const n = 90;
    const blocks = new Float64Array(n * n);
    // Two uncoupled blocks: the panel QR meets columns with nothing to annihilate.
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) if (i < 40 === j < 40) blocks[i * n + j] = 1 / (1 + i + j) + (i === j ? i : 0);
    const diagonal = new Float64Array(n * n);
    for (let i = 0; i < n; i++) diagonal[i * n + i] = n - 2 * i;
    const u = Float64Array.from({ length: n }, (_, i) => Math.sin(i + 1));
    const rankOne = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) rankOne[i * n + j] = u[i]! * u[j]!;
    for (const A of [blocks, diagonal, rankOne]) {
      const { one, two } = bothWays(A, n);
      expect(relDiff(two, one)).toBeLessThan(1e-13);
    }
    setTwoStageFrom(1);
    const r = symmetricEigenvalues(rankOne, n);
    expect(r[0]).toBeCloseTo(
      u.reduce((s, v) => s + v * v, 0),
      10,
    );
    for (let i = 1; i < n; i++) expect(Math.abs(r[i]!)).toBeLessThan(1e-12 * r[0]!);
  });

  it('returns a tridiagonal matrix with the trace and Frobenius norm of the input', () => {
    const n = 120;
    const A = randomSymmetric(n, 9);
    let trace = 0;
    let frob = 0;
    for (let i = 0; i < n; i++)
      for (let j = i; j < n; j++) {
        frob += (i === j ? 1 : 2) * A[i * n + j]! ** 2;
        if (i === j) trace += A[i * n + j]!;
      }
    setTwoStageFrom(1);
    const { diag, off } = tridiagonalize(A, n);
    expect(off[n - 1]).toBe(0);
    const t = diag.reduce((s, v) => s + v, 0);
    const f = diag.reduce((s, v) => s + v * v, 0) + 2 * off.reduce((s, v) => s + v * v, 0);
    expect(Math.abs(t - trace)).toBeLessThan(1e-11 * Math.sqrt(frob));
    expect(Math.abs(f - frob) / frob).toBeLessThan(1e-13);
  });

  it('splits its passes with the helper thread, bit-identical to one thread', async () => {
    const n = 1000;
    const A = randomSymmetric(n, 77);
    setTwoStageFrom(1);
    setRankThreads(2);
    await waitForHelper(tridiagHelperReady);
    const before = helperTasksRun();
    const two = symmetricEigenvalues(A, n);
    expect(helperTasksRun()).toBeGreaterThan(before);
    setRankThreads(1);
    const one = symmetricEigenvalues(A, n);
    expect(two).toEqual(one);
    setTwoStageFrom(Number.POSITIVE_INFINITY);
    expect(relDiff(two, symmetricEigenvalues(A, n))).toBeLessThan(1e-13);
  });
});
