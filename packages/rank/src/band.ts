/**
 * The two-stage reduction of a large symmetric matrix to tridiagonal form (eigenvalues only), after the successive
 * band reduction of Bischof, Lang and Sun and LAPACK's dsytrd_2stage:
 *
 * 1. dense → band of semi-bandwidth {@link BAND}: for each panel of BAND columns, a QR factorization of the part below
 *    the band (Householder, compact WY form Q = I − Y T Yᵀ), then the trailing matrix becomes Qᵀ A Q through two matrix
 *    products (X = A Y T, then A −= Y Wᵀ + W Yᵀ). The one-stage reduction streams the whole trailing matrix through
 *    memory once per column; this reads it about twice per panel, so large matrices stop being bound by memory
 *    bandwidth (wasm/tridiag.wat `symm_rows`, `update_rows`).
 * 2. band → tridiagonal: Givens rotations remove the outermost diagonal one entry at a time and chase the entry each
 *    one creates past the band down to the end (Rutishauser; Schwarz), on a compact copy of the band.
 *
 * Every step is an orthogonal similarity, so the eigenvalues are those of the input up to rounding (backward stable,
 * like the one-stage reduction).
 */
import { runTask } from '@samrank/core';
import { symmRowsTask, updateRowsTask } from './kernel-tasks.js';
import { runInTwo, type RankKernel } from './rank-threads.js';

/** Semi-bandwidth of the first stage: the width of its panels. */
export const BAND = 16;

/** Float64 values per row of the first stage's work arrays: Y, X, X2 (BAND each), U and Z (2·BAND each). */
export const BAND_WORK_PER_ROW = 7 * BAND;

/** Trailing blocks smaller than this many rows are not worth a hand-off to the helper thread (both reductions). */
export const THREAD_MIN_ROWS = 768;

export interface BandKernels {
  symm_rows: (a: number, n: number, i0: number, i1: number, y: number, x: number, nb: number, ld: number) => void;
  update_rows: (a: number, n: number, i0: number, i1: number, u: number, z: number, t2: number, ld: number) => void;
}

/** The row where rows [m0, n) split so that both parts hold as many upper-triangle entries (the first 29.3 % hold half). */
export function balancedSplit(m0: number, n: number): number {
  return m0 + Math.round((n - m0) * (1 - Math.SQRT1_2));
}

/**
 * Stage 1: reduces the n × n symmetric matrix whose upper triangle is stored row-major at byte 0 of the kernel's memory
 * (`A`, a view of it) to semi-bandwidth {@link BAND}, in place; entries past the band are set to zero. `work` is the
 * byte offset of n·{@link BAND_WORK_PER_ROW} float64 of scratch space.
 */
export function reduceToBand(kern: RankKernel<BandKernels>, A: Float64Array, n: number, work: number): void {
  const { memory, exports } = kern;
  const yOff = work;
  const xOff = yOff + n * BAND * 8;
  const x2Off = xOff + n * BAND * 8;
  const uOff = x2Off + n * BAND * 8;
  const zOff = uOff + n * 2 * BAND * 8;
  const Y = new Float64Array(memory.buffer, yOff, n * BAND);
  const X = new Float64Array(memory.buffer, xOff, n * BAND);
  const X2 = new Float64Array(memory.buffer, x2Off, n * BAND);
  const U = new Float64Array(memory.buffer, uOff, n * 2 * BAND);
  const Z = new Float64Array(memory.buffer, zOff, n * 2 * BAND);
  const tau = new Float64Array(BAND);
  const T = new Float64Array(BAND * BAND);
  const M = new Float64Array(BAND * BAND);
  const TtM = new Float64Array(BAND * BAND);
  const w = new Float64Array(BAND);
  for (let k0 = 0; k0 + BAND + 1 < n; k0 += BAND) {
    const j0 = k0 + BAND;
    const m = n - j0;
    // QR of the panel below the band: its column c is row k0 + c of A from column j0 (entry r at A[(k0+c)·n + j0 + r]).
    for (let c = 0; c < BAND; c++) {
      const rowC = (k0 + c) * n + j0;
      let sigma = 0;
      for (let r = c + 1; r < m; r++) sigma += A[rowC + r]! * A[rowC + r]!;
      if (c >= m || sigma === 0) {
        tau[c] = 0;
        continue;
      }
      const alpha = A[rowC + c]!;
      const norm = Math.sqrt(alpha * alpha + sigma);
      const beta = alpha <= 0 ? norm : -norm;
      const t = (beta - alpha) / beta;
      const scale = 1 / (alpha - beta);
      tau[c] = t;
      A[rowC + c] = beta;
      for (let r = c + 1; r < m; r++) {
        A[rowC + r]! *= scale;
      }
      // Apply H_c = I − τ y yᵀ (y = 1, A[rowC + c + 1 ..]) to the panel's later columns.
      for (let c2 = c + 1; c2 < BAND; c2++) {
        const row2 = (k0 + c2) * n + j0;
        let dot = A[row2 + c]!;
        for (let r = c + 1; r < m; r++) dot += A[rowC + r]! * A[row2 + r]!;
        const f = t * dot;
        A[row2 + c]! -= f;
        for (let r = c + 1; r < m; r++) A[row2 + r]! -= f * A[rowC + r]!;
      }
    }
    // Y (transposed: entry c of index j0 + r at Y[(j0 + r)·BAND + c]) from the stored vectors; R stays in the band and
    // everything below it becomes zero.
    for (let c = 0; c < BAND; c++) {
      const rowC = (k0 + c) * n + j0;
      for (let r = 0; r < m; r++) Y[(j0 + r) * BAND + c] = tau[c] === 0 ? 0 : r === c ? 1 : r > c ? A[rowC + r]! : 0;
      if (tau[c] !== 0) A.fill(0, rowC + c + 1, rowC + m);
    }
    // T of Q = H_0 ⋯ H_{BAND−1} = I − Y T Yᵀ (upper triangular): T[c][c] = τ_c, T[0:c, c] = −τ_c T[0:c, 0:c] Yᵀ y_c.
    T.fill(0);
    for (let c = 0; c < BAND; c++) {
      T[c * BAND + c] = tau[c]!;
      if (tau[c] === 0) continue;
      w.fill(0);
      for (let g = j0; g < n; g++) {
        const yc = Y[g * BAND + c]!;
        if (yc === 0) continue;
        for (let s = 0; s < c; s++) w[s]! += Y[g * BAND + s]! * yc;
      }
      for (let s = 0; s < c; s++) {
        let v = 0;
        for (let u = s; u < c; u++) v += T[s * BAND + u]! * w[u]!;
        T[s * BAND + c] = -tau[c]! * v;
      }
    }
    // X = A22·Y over the trailing block (both halves of the upper triangle). Large blocks are cut in two parts of
    // equal work, the second accumulated separately (on the helper when it is up, else here) and added: the same sums
    // on one thread or two.
    X.fill(0, j0 * BAND, n * BAND);
    const symm = { matrix: 0, n, y: yOff, nb: BAND, ld: BAND };
    if (m >= THREAD_MIN_ROWS) {
      const split = balancedSplit(j0, n);
      X2.fill(0, j0 * BAND, n * BAND);
      runInTwo(kern, symmRowsTask({ ...symm, i0: j0, i1: split, x: xOff }), symmRowsTask({ ...symm, i0: split, i1: n, x: x2Off }));
      for (let i = j0 * BAND; i < n * BAND; i++) X[i]! += X2[i]!;
    } else {
      runTask(exports, symmRowsTask({ ...symm, i0: j0, i1: n, x: xOff }));
    }
    // X ← X·T, then M = Tᵀ·(Yᵀ X) and W = X − ½·Y·M (stored in X).
    for (let g = j0; g < n; g++) {
      const o = g * BAND;
      for (let c = BAND - 1; c >= 0; c--) {
        let v = 0;
        for (let s = 0; s <= c; s++) v += X[o + s]! * T[s * BAND + c]!;
        X[o + c] = v;
      }
    }
    M.fill(0);
    for (let g = j0; g < n; g++) {
      const o = g * BAND;
      for (let s = 0; s < BAND; s++) {
        const ys = Y[o + s]!;
        if (ys === 0) continue;
        for (let c = 0; c < BAND; c++) M[s * BAND + c]! += ys * X[o + c]!;
      }
    }
    for (let r = 0; r < BAND; r++)
      for (let c = 0; c < BAND; c++) {
        let v = 0;
        for (let s = 0; s <= r; s++) v += T[s * BAND + r]! * M[s * BAND + c]!;
        TtM[r * BAND + c] = 0.5 * v;
      }
    // U = y₀, w₀, y₁, w₁, … and Z = w₀, y₀, w₁, y₁, … (transposed), so that A22 −= Σ_r U[r] Z[r]ᵀ = Y Wᵀ + W Yᵀ.
    for (let g = j0; g < n; g++) {
      const o = g * BAND;
      const o2 = g * 2 * BAND;
      for (let c = 0; c < BAND; c++) {
        let v = X[o + c]!;
        for (let s = 0; s < BAND; s++) v -= Y[o + s]! * TtM[s * BAND + c]!;
        const y = Y[o + c]!;
        U[o2 + 2 * c] = y;
        U[o2 + 2 * c + 1] = v;
        Z[o2 + 2 * c] = v;
        Z[o2 + 2 * c + 1] = y;
      }
    }
    const update = { matrix: 0, n, u: uOff, z: zOff, t2: 2 * BAND, ld: 2 * BAND };
    if (m >= THREAD_MIN_ROWS) {
      const split = balancedSplit(j0, n);
      runInTwo(kern, updateRowsTask({ ...update, i0: j0, i1: split }), updateRowsTask({ ...update, i0: split, i1: n }));
    } else {
      runTask(exports, updateRowsTask({ ...update, i0: j0, i1: n }));
    }
  }
}

/**
 * Stage 2: the tridiagonal form of the band matrix of semi-bandwidth `band` stored in the upper triangle of `A`
 * (n × n, row-major; entries past the band zero). Works on a compact copy of the band, so `A` is only read.
 */
export function bandToTridiagonal(A: Float64Array, n: number, band: number): { diag: Float64Array; off: Float64Array } {
  // B[i·W + d] = A[i][i + d] for d ≤ band + 1 (one more than the band, for the entry each rotation pushes out).
  const W = band + 2;
  const B = new Float64Array(n * W);
  for (let i = 0; i < n; i++) {
    const dEnd = Math.min(band, n - 1 - i);
    for (let d = 0; d <= dEnd; d++) B[i * W + d] = A[i * n + i + d]!;
  }
  for (let k = band; k >= 2; k--) {
    // Remove diagonal k: entry (j, j + k) for each j, by a rotation of rows/columns j + k − 1 and j + k, then chase
    // the entry (j + k − 1, j + 2k) that rotation creates, k rows further each time.
    for (let j = 0; j + k < n; j++) {
      let row = j;
      let p = j + k - 1;
      for (;;) {
        const q = p + 1;
        const xq = B[row * W + (q - row)]!;
        if (xq === 0) break;
        const xp = B[row * W + (p - row)]!;
        const r = Math.sqrt(xp * xp + xq * xq);
        const c = xp / r;
        const s = xq / r;
        rotate(B, W, n, p, c, s, Math.max(row + 1, p - k), Math.min(n - 1, q + k));
        B[row * W + (p - row)] = r;
        B[row * W + (q - row)] = 0;
        if (q + k >= n) break;
        row = p;
        p = q + k - 1;
      }
    }
  }
  const diag = new Float64Array(n);
  const off = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    diag[i] = B[i * W]!;
    if (i + 1 < n) off[i] = B[i * W + 1]!;
  }
  return { diag, off };
}

/**
 * The rotation of indices p and q = p + 1 (new p = c·p + s·q, new q = −s·p + c·q) applied on both sides of the band
 * matrix B, over the other indices lo … hi (all that can be non-zero in those rows and columns).
 */
function rotate(B: Float64Array, W: number, n: number, p: number, c: number, s: number, lo: number, hi: number): void {
  const q = p + 1;
  for (let t = lo; t < p; t++) {
    const o = t * W;
    const x = B[o + p - t]!;
    const y = B[o + q - t]!;
    B[o + p - t] = c * x + s * y;
    B[o + q - t] = -s * x + c * y;
  }
  const op = p * W;
  const oq = q * W;
  for (let t = q + 1; t <= hi && t < n; t++) {
    const x = B[op + t - p]!;
    const y = B[oq + t - q]!;
    B[op + t - p] = c * x + s * y;
    B[oq + t - q] = -s * x + c * y;
  }
  const app = B[op]!;
  const aqq = B[oq]!;
  const apq = B[op + 1]!;
  B[op] = c * c * app + 2 * c * s * apq + s * s * aqq;
  B[oq] = s * s * app - 2 * c * s * apq + c * c * aqq;
  B[op + 1] = (c * c - s * s) * apq + c * s * (aqq - app);
}
