/**
 * Eigenvalues of a real symmetric matrix in float64: Householder reduction to tridiagonal form (in one stage below
 * order 2560, in two from there on: src/band.ts), then the implicit QL algorithm with Wilkinson-type shifts on the
 * tridiagonal matrix. No eigenvectors are formed, which is all a rank or spectrum needs and halves the work of a full
 * decomposition.
 */
import { ensureMemory, runTask } from '@samrank/core';
import { BAND, BAND_WORK_PER_ROW, type BandKernels, balancedSplit, bandToTridiagonal, reduceToBand, THREAD_MIN_ROWS } from './band.js';
import { tridiagStepTask } from './kernel-tasks.js';
import { helperReady, instantiateKernel, runInTwo, type RankKernel } from './rank-threads.js';
import { TRIDIAG_SHARED_WASM_BASE64, TRIDIAG_WASM_BASE64 } from './tridiag-wasm.generated.js';

/** The solver did not converge (only possible with non-finite input). */
export class EigenConvergenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EigenConvergenceError';
  }
}

interface TridiagExports extends BandKernels {
  fused_step: (a: number, n: number, m0: number, i1: number, vp: number, wp: number, v: number, p: number) => void;
}

type TridiagKernel = RankKernel<TridiagExports>;

let kernel: TridiagKernel | null = null;

function getKernel(): TridiagKernel {
  kernel ??= instantiateKernel<TridiagExports>(TRIDIAG_WASM_BASE64, TRIDIAG_SHARED_WASM_BASE64, '@samrank/rank tridiagonalization');
  return kernel;
}

/** @internal Starts the helper thread (it boots in the background) and says whether it is up. */
export function tridiagHelperReady(): boolean {
  return helperReady(getKernel().helper);
}

/** The symmetric matrix `scale·u·uᵀ`, subtracted from the solver's input (a centering correction). */
export interface RankOneTerm {
  u: Float64Array;
  scale: number;
}

/** Upper triangle of `A` −= scale·u·uᵀ, as (scale·uᵢ)·uⱼ per entry. */
function subtractRankOne(A: Float64Array, n: number, { u, scale }: RankOneTerm): void {
  for (let i = 0; i < n; i++) {
    const ui = scale * u[i]!;
    const row = i * n;
    for (let j = i; j < n; j++) A[row + j]! -= ui * u[j]!;
  }
}

/** Bytes of the solver's memory for order n: the matrix at offset 0, two v and three p/w vectors, the two-stage work. */
function solverBytes(n: number): number {
  return (n * n + 5 * n + BAND_WORK_PER_ROW * n) * 8 + 16;
}

/**
 * From this order on, the two-stage reduction (src/band.ts) runs instead of the one-stage one: about where it becomes
 * faster on the benchmark machine (2 threads: 1.28 vs 1.25 s at 2560, 8.6 vs 5.4 s at 4096).
 */
let twoStageFrom = 2560;

/** @internal Sets the order from which the two-stage reduction runs (tests compare both on small matrices). */
export function setTwoStageFrom(n: number): void {
  twoStageFrom = n;
}

/** The last array handed out by {@link solverInput} (a solve of exactly this array skips the copy). */
let input: Float64Array | null = null;

/**
 * @internal A zeroed n × n float64 array in the eigen-solver's own memory, for a caller that forms its matrix there: a
 * solve of it skips the copy into that memory (800 MiB at the paper's 10240 × 10240) and overwrites it. Valid until
 * the next call of this function or the next solve of another matrix.
 */
export function solverInput(n: number): Float64Array {
  const { memory } = getKernel();
  ensureMemory(memory, solverBytes(n));
  input = new Float64Array(memory.buffer, 0, n * n);
  input.fill(0);
  return input;
}

/**
 * Reduces the symmetric `n × n` matrix whose **upper triangle** is stored row-major in `a` (the lower
 * triangle is ignored) to tridiagonal form, on a copy of `a` in WebAssembly memory (`a` itself is left unchanged,
 * unless it is the array {@link solverInput} handed out), minus `minus` when given. Below order 2560, by Householder
 * reflections in the order of LAPACK dsytd2 (lower form mirrored): each step's rank-2 update is deferred and fused
 * with the next step's symmetric matrix-vector product in one f64x2 pass of wasm/tridiag.wat, and large trailing
 * blocks are cut in two parts of equal work, the second on the helper thread. From 2560 on, in two stages
 * (src/band.ts). Returns the diagonal and the off-diagonal (`off[i]` couples i and i+1; `off[n-1] = 0`).
 */
export function tridiagonalize(a: Float64Array, n: number, minus?: RankOneTerm): { diag: Float64Array; off: Float64Array } {
  const diag = new Float64Array(n);
  const off = new Float64Array(n);
  const kern = getKernel();
  const { memory, exports } = kern;
  // Layout in wasm memory (bytes): the matrix, two v and two p/w vectors (current and pending), the second part's p,
  // then the two-stage reduction's work arrays (solverBytes).
  const base = 0;
  const matBytes = n * n * 8;
  const vec = base + matBytes;
  ensureMemory(memory, solverBytes(n));
  const A = new Float64Array(memory.buffer, base, n * n);
  if (a !== input || a.buffer !== memory.buffer || a.length !== n * n) A.set(a.subarray(0, n * n));
  input = null;
  if (minus) subtractRankOne(A, n, minus);
  if (n >= twoStageFrom) {
    reduceToBand(kern, A, n, vec + 5 * n * 8);
    return bandToTridiagonal(A, n, BAND);
  }
  const vOff = [vec, vec + n * 8];
  const pOff = [vec + 2 * n * 8, vec + 3 * n * 8];
  const p2Off = vec + 4 * n * 8;
  const V = vOff.map((o) => new Float64Array(memory.buffer, o, n));
  const P = pOff.map((o) => new Float64Array(memory.buffer, o, n));
  const P2 = new Float64Array(memory.buffer, p2Off, n);
  V[1]!.fill(0);
  P[1]!.fill(0);
  let cur = 0;
  /** Applies the pending update (vp, wp) to row i of the upper triangle. */
  const applyPending = (i: number, vp: Float64Array, wp: Float64Array) => {
    const row = i * n;
    const vi = vp[i]!;
    const wi = wp[i]!;
    if (vi === 0 && wi === 0) return;
    for (let j = i; j < n; j++) A[row + j]! -= vi * wp[j]! + wi * vp[j]!;
  };
  for (let k = 0; k < n - 2; k++) {
    const vp = V[1 - cur]!;
    const wp = P[1 - cur]!;
    const v = V[cur]!;
    const p = P[cur]!;
    applyPending(k, vp, wp);
    const rowK = k * n;
    diag[k] = A[rowK + k]!;
    // x = A[k, k+1..n-1] (row k of the upper triangle = column k of the trailing matrix by symmetry).
    const alpha = A[rowK + k + 1]!;
    let sigma = 0;
    for (let j = k + 2; j < n; j++) sigma += A[rowK + j]! * A[rowK + j]!;
    const m0 = k + 1;
    let tau = 0;
    if (sigma === 0) {
      // Already reduced: no reflection (v = 0), but the pass still applies the pending update.
      off[k] = alpha;
      v.fill(0, m0, n);
    } else {
      const norm = Math.sqrt(alpha * alpha + sigma);
      // Reflect onto -sign(alpha)·norm so that v0 = alpha - beta never cancels.
      const beta = alpha <= 0 ? norm : -norm;
      tau = (beta - alpha) / beta;
      const scale = 1 / (alpha - beta);
      v[m0] = 1;
      for (let j = k + 2; j < n; j++) v[j] = A[rowK + j]! * scale;
      off[k] = beta;
    }
    // p = T v over the trailing block T = A[m0.., m0..] (with the previous update applied on the way).
    p.fill(0, m0, n);
    const rows = n - m0;
    const step = { matrix: base, n, vp: vOff[1 - cur]!, wp: pOff[1 - cur]!, v: vOff[cur]! };
    if (rows >= THREAD_MIN_ROWS) {
      // Split the rows so both threads touch the same number of entries (row i has n − i of them): the
      // first 29.3 % of the rows hold half of the triangle. The second part accumulates its p separately, on the
      // helper or, when it is not up (yet), here: the same sums either way, so the result does not depend on the
      // thread count or on when the helper finished starting.
      const split = balancedSplit(m0, n);
      P2.fill(0, m0, n);
      runInTwo(
        kern,
        tridiagStepTask({ ...step, i0: m0, i1: split, p: pOff[cur]! }),
        tridiagStepTask({ ...step, i0: split, i1: n, p: p2Off }),
      );
      for (let i = m0; i < n; i++) p[i]! += P2[i]!;
    } else {
      runTask(exports, tridiagStepTask({ ...step, i0: m0, i1: n, p: pOff[cur]! }));
    }
    // w = tau·p − (tau²/2)(pᵀv) v, stored in p: the next pass subtracts v wᵀ + w vᵀ.
    let pv = 0;
    for (let i = m0; i < n; i++) {
      p[i]! *= tau;
      pv += p[i]! * v[i]!;
    }
    const half = 0.5 * tau * pv;
    for (let i = m0; i < n; i++) p[i]! -= half * v[i]!;
    cur = 1 - cur;
  }
  for (let i = Math.max(0, n - 2); i < n; i++) applyPending(i, V[1 - cur]!, P[1 - cur]!);
  if (n >= 2) {
    diag[n - 2] = A[(n - 2) * n + n - 2]!;
    off[n - 2] = A[(n - 2) * n + n - 1]!;
  }
  if (n >= 1) diag[n - 1] = A[n * n - 1]!;
  return { diag, off };
}

/**
 * Eigenvalues of a symmetric tridiagonal matrix (implicit QL, after EISPACK tql1 / Numerical Recipes tqli).
 * `diag` is overwritten with the eigenvalues (unsorted); `off` is destroyed.
 */
export function tridiagonalEigenvalues(diag: Float64Array, off: Float64Array): Float64Array {
  const n = diag.length;
  const d = diag;
  const e = off;
  if (n > 0) e[n - 1] = 0;
  const EPS = 2.220446049250313e-16;
  for (let l = 0; l < n; l++) {
    let iter = 0;
    for (;;) {
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m]!) + Math.abs(d[m + 1]!);
        if (Math.abs(e[m]!) <= EPS * dd) break;
      }
      if (m === l) break;
      if (++iter > 100) throw new EigenConvergenceError(`implicit QL did not converge for eigenvalue ${l}`);
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.sqrt(g * g + 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      let underflow = false;
      for (; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.sqrt(f * f + g * g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1]! -= p;
          e[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
      }
      if (underflow) continue;
      d[l]! -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
  return d;
}

/**
 * All eigenvalues of the symmetric `n × n` matrix whose upper triangle is stored row-major in `a`,
 * sorted in descending order (`a` is not modified).
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  return symmetricEigenvaluesMinus(a, n);
}

/**
 * @internal Eigenvalues (descending) of the upper triangle of `a` minus `minus` (if given), which is subtracted in the
 * solver's own copy in WebAssembly memory, so that no second n × n array is allocated for it.
 */
export function symmetricEigenvaluesMinus(a: Float64Array, n: number, minus?: RankOneTerm): Float64Array {
  if (a.length < n * n) throw new RangeError(`symmetricEigenvalues: need ${n * n} entries, got ${a.length}`);
  const { diag, off } = tridiagonalize(a, n, minus);
  const values = tridiagonalEigenvalues(diag, off);
  return values.sort().reverse();
}
