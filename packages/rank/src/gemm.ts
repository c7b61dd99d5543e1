/**
 * Cross-products `out (+)= Aᵀ·B` of two "k × c" operands with the f32x4 WebAssembly kernel of wasm/gemm.wat.
 *
 * Operands are read through strides (so the same code forms XᵀX and XXᵀ without transposing X) and with
 * optional per-k / per-column shifts and per-column scales applied while packing (centering and row
 * normalization cost no extra pass). Products of one block of `kBlock` shared rows are accumulated by the
 * kernel in float32 and flushed into the float64 output every `flushRows` rows, so the rounding error
 * stays that of a float32 sum over at most `flushRows` terms.
 */
import { ensureMemory, kernelBuild, relaxedSimdAvailable, runTask, type KernelBuild } from '@samrank/core';
import {
  GEMM_RELAXED_SHARED_WASM_BASE64,
  GEMM_RELAXED_WASM_BASE64,
  GEMM_SHARED_WASM_BASE64,
  GEMM_WASM_BASE64,
} from './gemm-wasm.generated.js';
import { gemmPairs, gemmTilesTask, packRowsTask, type GemmBlock, type PackRows } from './kernel-tasks.js';
import { helperReady, instantiateKernel, runInTwo, type RankKernel } from './rank-threads.js';

/** One operand: element (k, c) = (data[offset + k·strideK + c·strideC] − kShift[k] − cShift[c]) · cScale[c]. */
export interface Operand {
  readonly data: Float32Array | Float64Array;
  readonly offset: number;
  readonly strideK: number;
  readonly strideC: number;
  /** Length of the shared (summed) dimension. */
  readonly k: number;
  /** Number of columns (the output's rows for A, its columns for B). */
  readonly c: number;
  readonly kShift?: Float64Array | null;
  readonly cShift?: Float64Array | null;
  readonly cScale?: Float64Array | null;
}

interface KernelExports {
  gemm_tn: (a: number, b: number, kb: number, npa: number, npb: number, out: number, ldo: number, sym: number) => void;
  pack_rows: (
    raw: number,
    kb: number,
    ld: number,
    cs: number,
    ks: number,
    dst: number,
    colsum: number,
    q0: number,
    q1: number,
    flag: number,
  ) => void;
}

type Kernel = RankKernel<KernelExports>;

const PANEL = 8;

let kernel: Kernel | null = null;

let variant: KernelBuild | null = null;

/**
 * The fused build is not the default here: on the AVX-512 AMD EPYC of the benchmarks (bench/index.ts) it is no faster
 * (10240×512 Gram: 38.0 ms fused, 39.0 ms plain on two threads, Node 22), since separate multiply and add pipes give
 * the plain build the same throughput, and the plain build gives the same bits on every Node version.
 * `SAMRANK_RELAXED_SIMD=1` selects it.
 */
const FUSED_BY_DEFAULT = false;

function getKernel(): Kernel {
  if (!kernel) {
    variant ??= kernelBuild(FUSED_BY_DEFAULT);
    kernel =
      variant === 'relaxed'
        ? instantiateKernel<KernelExports>(GEMM_RELAXED_WASM_BASE64, GEMM_RELAXED_SHARED_WASM_BASE64, '@samrank/rank Gram kernel')
        : instantiateKernel<KernelExports>(GEMM_WASM_BASE64, GEMM_SHARED_WASM_BASE64, '@samrank/rank Gram kernel');
  }
  return kernel;
}

/**
 * Which build of the Gram kernel runs: 'plain' by default; 'relaxed' (fused multiply-adds, `f32x4.relaxed_madd`) with
 * `SAMRANK_RELAXED_SIMD=1` where the runtime has relaxed SIMD. The two round differently (one rounding per
 * multiply-add instead of two), so Gram entries can differ in the last bits between them; each is deterministic.
 */
export function gramKernelVariant(): KernelBuild {
  return variant ?? kernelBuild(FUSED_BY_DEFAULT);
}

/** @internal Switches the Gram kernel to one build (tests compare both); 'relaxed' needs relaxed SIMD. */
export async function useGramKernel(build: KernelBuild): Promise<void> {
  if (build === 'relaxed' && !relaxedSimdAvailable()) throw new Error('this runtime has no relaxed SIMD');
  await kernel?.helper?.terminate();
  kernel = null;
  variant = build;
}

/** @internal Whether the helper thread is up and would take half of the next large block. */
export function gramHelperReady(): boolean {
  return kernel !== null && helperReady(kernel.helper);
}

/** @internal Starts the helper now (it boots in the background), so that tests and benchmarks can wait for it. */
export function startGramHelper(): void {
  getKernel().helper?.ready();
}

/** Tuning knobs; the defaults were chosen by the package benchmark on a 2-core AMD EPYC. */
export interface ProductOptions {
  kBlock?: number;
  flushRows?: number;
}

/** Below this many multiply-adds per block the hand-off to the helper costs more than it saves. */
const THREAD_MIN_WORK = 1 << 21;

/** The tiles of one block: when it pays, the chunk pairs of odd index on the helper thread. */
function runBlockShared(k: Kernel, block: GemmBlock): void {
  const work = block.kb * block.panelsA * block.panelsB * 64 * (block.symmetric ? 0.5 : 1);
  if (work < THREAD_MIN_WORK || gemmPairs(block) < 2) runTask(k.exports, gemmTilesTask(block, 0, 1));
  else runInTwo(k, gemmTilesTask(block, 0, 2), gemmTilesTask(block, 1, 2));
}

/** Below this many floats per block, packing stays on this thread. */
const PACK_THREAD_MIN = 1 << 16;

/** Packs one block, when it pays half of the panels on the helper thread; true when a value is not finite. */
function packShared(k: Kernel, p: PackRows, flag: Int32Array): boolean {
  flag[0] = 0;
  if (p.kb * p.ld < PACK_THREAD_MIN || p.ld < 16) runTask(k.exports, packRowsTask(p, 0, 1));
  else runInTwo(k, packRowsTask(p, 0, 2), packRowsTask(p, 1, 2));
  return flag[0] !== 0;
}

/** Adds the upper triangle of the f32 block result at `outPtr` (ldo wide) into the m × m float64 `out`, then zeroes it. */
function flushUpper(mem: Float32Array, outPtr: number, ldo: number, m: number, out: Float64Array, outFloats: number): void {
  for (let i = 0; i < m; i++) {
    const src = outPtr + i * ldo;
    const dst = i * m;
    for (let j = i; j < m; j++) out[dst + j]! += mem[src + j]!;
  }
  mem.fill(0, outPtr, outPtr + outFloats);
}

/** Packs rows k0..k0+kb of `op` into panels of 8 columns (zero padded) at float index `dst` of `mem`. */
function pack(op: Operand, k0: number, kb: number, mem: Float32Array, dst: number): void {
  const { data, offset, strideK, strideC, c: nc } = op;
  const kShift = op.kShift ?? null;
  const cShift = op.cShift ?? null;
  const cScale = op.cScale ?? null;
  const panels = Math.ceil(nc / PANEL);
  if (strideC === 1 || strideK !== 1) {
    // Rows of the source are contiguous along c: walk k outside, c inside.
    for (let kk = 0; kk < kb; kk++) {
      const k = k0 + kk;
      const ks = kShift ? kShift[k]! : 0;
      const src = offset + k * strideK;
      for (let c = 0; c < nc; c++) {
        let v = data[src + c * strideC]! - ks;
        if (cShift) v -= cShift[c]!;
        if (cScale) v *= cScale[c]!;
        mem[dst + ((c >> 3) * kb + kk) * PANEL + (c & 7)] = v;
      }
      for (let c = nc; c < panels * PANEL; c++) mem[dst + ((c >> 3) * kb + kk) * PANEL + (c & 7)] = 0;
    }
  } else {
    // Source contiguous along k (a transposed read): walk c outside, k inside.
    for (let c = 0; c < nc; c++) {
      const cs = cShift ? cShift[c]! : 0;
      const sc = cScale ? cScale[c]! : 1;
      const src = offset + c * strideC + k0;
      const base = dst + (c >> 3) * kb * PANEL + (c & 7);
      for (let kk = 0; kk < kb; kk++) {
        let v = data[src + kk]! - cs;
        if (kShift) v -= kShift[k0 + kk]!;
        mem[base + kk * PANEL] = v * sc;
      }
    }
    for (let c = nc; c < panels * PANEL; c++) {
      const base = dst + (c >> 3) * kb * PANEL + (c & 7);
      for (let kk = 0; kk < kb; kk++) mem[base + kk * PANEL] = 0;
    }
  }
}

/**
 * out[i·b.c + j] += Σ_k A(k,i)·B(k,j), with `b = null` meaning B = A; then only the upper triangle
 * (i ≤ j) of `out` is written. `out` is float64, row-major, a.c × b.c.
 */
export function addProductTN(a: Operand, b: Operand | null, out: Float64Array, options: ProductOptions = {}): void {
  const sym = b === null;
  const bb = b ?? a;
  if (bb.k !== a.k) throw new Error(`internal: operand depths differ (${a.k} vs ${bb.k})`);
  const K = a.k;
  const npa = Math.ceil(a.c / PANEL);
  const npb = Math.ceil(bb.c / PANEL);
  const ldo = npb * PANEL;
  // The f32 output tiles are read and written once per block: 512-row blocks keep that traffic small while
  // a 16-panel chunk of B (512 × 128 floats = 256 KiB) still fits in L2.
  const kBlock = Math.max(8, Math.min(options.kBlock ?? 512, K));
  const flushRows = Math.max(kBlock, options.flushRows ?? 2048);
  const aFloats = npa * kBlock * PANEL;
  const bFloats = sym ? 0 : npb * kBlock * PANEL;
  const outFloats = npa * PANEL * ldo;
  const k = getKernel();
  ensureMemory(k.memory, (aFloats + bFloats + outFloats) * 4 + 64);
  const mem = new Float32Array(k.memory.buffer);
  const aPtr = 0;
  const bPtr = sym ? aPtr : aPtr + aFloats;
  const outPtr = aPtr + aFloats + bFloats;
  mem.fill(0, outPtr, outPtr + outFloats);
  let pending = 0;
  const flush = () => {
    if (sym) {
      flushUpper(mem, outPtr, ldo, a.c, out, outFloats);
    } else {
      const ncB = bb.c;
      for (let i = 0; i < a.c; i++) {
        const src = outPtr + i * ldo;
        const dst = i * ncB;
        for (let j = 0; j < ncB; j++) out[dst + j]! += mem[src + j]!;
      }
      mem.fill(0, outPtr, outPtr + outFloats);
    }
    pending = 0;
  };
  for (let k0 = 0; k0 < K; k0 += kBlock) {
    const kb = Math.min(kBlock, K - k0);
    pack(a, k0, kb, mem, aPtr);
    if (!sym) pack(bb, k0, kb, mem, bPtr);
    runBlockShared(k, { a: aPtr, b: bPtr, kb, panelsA: npa, panelsB: npb, out: outPtr, ldo, symmetric: sym });
    pending += kb;
    if (pending >= flushRows) flush();
  }
  if (pending > 0) flush();
}

/**
 * Fast path for the d × d Gram of a row-major **Float32Array**: G += Σ_r (x_r − cShift − kShift[r])(…)ᵀ
 * over rows r0..r0+rows (upper triangle), with rows copied into WebAssembly memory as they are and
 * shifted, packed and checked by the SIMD `pack_rows` kernel. The shifts are applied in float32, which is
 * exact up to the one rounding of the difference only when they are float32 numbers (callers round
 * them with Math.fround). `colSums` (if given) receives Σ_r of the packed values, in float64 per block.
 * Returns the index (relative to r0) of the first row of a block holding NaN/±Inf, or −1.
 */
export function addRowGramF32(
  data: Float32Array,
  cols: number,
  r0: number,
  rows: number,
  cShift: Float64Array | null,
  kShift: Float64Array | null,
  G: Float64Array,
  colSums: Float64Array | null,
  options: ProductOptions = {},
): number {
  const d = cols;
  const np = Math.ceil(d / PANEL);
  const ld = np * PANEL;
  const kBlock = Math.max(8, Math.min(options.kBlock ?? 512, rows));
  const flushRows = Math.max(kBlock, options.flushRows ?? 2048);
  const k = getKernel();
  // Float offsets: raw block, column shift, row shift, column sums, packed panels, f32 result.
  const rawPtr = 0;
  const csPtr = rawPtr + kBlock * ld;
  const ksPtr = csPtr + ld;
  const sumPtr = ksPtr + kBlock;
  const flagPtr = sumPtr + ld;
  const aPtr = flagPtr + 4;
  const outPtr = aPtr + np * kBlock * PANEL;
  const outFloats = ld * ld;
  ensureMemory(k.memory, (outPtr + outFloats) * 4 + 64);
  const mem = new Float32Array(k.memory.buffer);
  const flag = new Int32Array(k.memory.buffer, flagPtr * 4, 1);
  mem.fill(0, rawPtr, outPtr + outFloats);
  if (cShift) for (let c = 0; c < d; c++) mem[csPtr + c] = cShift[c]!;
  let pending = 0;
  for (let k0 = 0; k0 < rows; k0 += kBlock) {
    const kb = Math.min(kBlock, rows - k0);
    const src = (r0 + k0) * d;
    if (ld === d) mem.set(data.subarray(src, src + kb * d), rawPtr);
    else for (let kk = 0; kk < kb; kk++) mem.set(data.subarray(src + kk * d, src + kk * d + d), rawPtr + kk * ld);
    if (kShift) for (let kk = 0; kk < kb; kk++) mem[ksPtr + kk] = kShift[k0 + kk]!;
    if (colSums) mem.fill(0, sumPtr, sumPtr + ld);
    const packing = {
      raw: rawPtr * 4,
      kb,
      ld,
      cs: csPtr * 4,
      ks: kShift ? ksPtr * 4 : -1,
      dst: aPtr * 4,
      colsum: sumPtr * 4,
      flag: flagPtr * 4,
    };
    if (packShared(k, packing, flag)) return k0;
    if (colSums) for (let c = 0; c < d; c++) colSums[c]! += mem[sumPtr + c]!;
    runBlockShared(k, { a: aPtr, b: aPtr, kb, panelsA: np, panelsB: np, out: outPtr, ldo: ld, symmetric: true });
    pending += kb;
    if (pending >= flushRows) {
      flushUpper(mem, outPtr, ld, d, G, outFloats);
      pending = 0;
    }
  }
  if (pending > 0) flushUpper(mem, outPtr, ld, d, G, outFloats);
  return -1;
}
