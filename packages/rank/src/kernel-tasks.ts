/**
 * Typed builders of the helper-thread tasks of wasm/gemm.wat and wasm/tridiag.wat (wasm/README.md lists each
 * export's arguments). A task is plain data run by `runTask` of `@samrank/core` on either thread.
 */
import type { KernelCall, KernelTask } from '@samrank/core';

/** One packed block of the Gram kernel (wasm/gemm.wat `gemm_tn`); pointers are float indices into the memory. */
export interface GemmBlock {
  /** A's panels (8 columns each, kb rows), float index. */
  a: number;
  /** B's panels (equal to `a` for a Gram matrix). */
  b: number;
  /** Shared rows in the block. */
  kb: number;
  /** Panels of A and of B. */
  panelsA: number;
  panelsB: number;
  /** The float32 result tiles, float index, row-major with leading dimension `ldo` floats. */
  out: number;
  ldo: number;
  /** Upper triangle only (A = B). */
  symmetric: boolean;
}

/**
 * The `gemm_tn` calls of one block whose chunk pair (B in chunks of 16 panels, i.e. 128 columns that stay in L2
 * while A's panels stream; A in chunks of 16 panels) has index ≡ part (mod parts). The pairs write disjoint
 * tiles, so any split gives the same bits.
 */
export function gemmTilesTask(block: GemmBlock, part: number, parts: number): KernelTask {
  const { a, b, kb, panelsA, panelsB, out, ldo, symmetric } = block;
  const panelBytes = kb * 32;
  const calls: KernelCall[] = [];
  let pair = 0;
  for (let q0 = 0; q0 < panelsB; q0 += 16) {
    const nq = Math.min(16, panelsB - q0);
    const pEnd = symmetric ? Math.min(panelsA, q0 + nq) : panelsA;
    for (let p0 = 0; p0 < pEnd; p0 += 16, pair++) {
      if (pair % parts !== part) continue;
      const np = Math.min(16, pEnd - p0);
      const args = [
        a * 4 + p0 * panelBytes,
        b * 4 + q0 * panelBytes,
        kb,
        np,
        nq,
        (out + p0 * 8 * ldo + q0 * 8) * 4,
        ldo,
        symmetric && p0 === q0 ? 1 : 0,
      ];
      calls.push({ fn: 'gemm_tn', args });
    }
  }
  return calls;
}

/** One `pack_rows` call of wasm/gemm.wat (pointers in bytes, `ks` −1 for no row shift). */
export interface PackRows {
  raw: number;
  kb: number;
  ld: number;
  cs: number;
  ks: number;
  dst: number;
  colsum: number;
  /** Set to 1 (an i32) when a packed value is not finite. */
  flag: number;
}

/** Panels `part`·np/`parts` … of one `pack_rows` block: any split packs the same bytes and sums. */
export function packRowsTask(p: PackRows, part: number, parts: number): KernelTask {
  const panels = p.ld / 8;
  const q0 = Math.floor((panels * part) / parts);
  const q1 = Math.floor((panels * (part + 1)) / parts);
  return q1 > q0 ? [{ fn: 'pack_rows', args: [p.raw, p.kb, p.ld, p.cs, p.ks, p.dst, p.colsum, q0, q1, p.flag] }] : [];
}

/** Chunk pairs of a block (how many ways it splits). */
export function gemmPairs(block: Pick<GemmBlock, 'panelsA' | 'panelsB'>): number {
  return Math.ceil(block.panelsB / 16) * Math.ceil(block.panelsA / 16);
}

/** One fused Householder pass (wasm/tridiag.wat `fused_step`) over rows [i0, i1); offsets in bytes. */
export interface TridiagStep {
  /** The n × n float64 matrix (row-major, upper triangle used). */
  matrix: number;
  n: number;
  i0: number;
  i1: number;
  /** The pending update's v and w (float64 vectors of n). */
  vp: number;
  wp: number;
  /** This step's v, and the p that the pass accumulates T·v into. */
  v: number;
  p: number;
}

export function tridiagStepTask(s: TridiagStep): KernelTask {
  return [{ fn: 'fused_step', args: [s.matrix, s.n, s.i0, s.i1, s.vp, s.wp, s.v, s.p] }];
}

/** Rows [i0, i1) of a first-stage pass of wasm/tridiag.wat over the n × n float64 matrix at byte offset `matrix`. */
export interface BandRows {
  matrix: number;
  n: number;
  i0: number;
  i1: number;
}

/** `symm_rows`: X += T·Y over the rows (both halves of each entry); Y and X hold `nb` values per index, `ld` apart. */
export function symmRowsTask(s: BandRows & { y: number; x: number; nb: number; ld: number }): KernelTask {
  return [{ fn: 'symm_rows', args: [s.matrix, s.n, s.i0, s.i1, s.y, s.x, s.nb, s.ld] }];
}

/** `update_rows`: T −= Σ_{r<t2} U[r] Z[r]ᵀ on the rows' upper-triangle entries (U, Z transposed, `ld` values per index). */
export function updateRowsTask(s: BandRows & { u: number; z: number; t2: number; ld: number }): KernelTask {
  return [{ fn: 'update_rows', args: [s.matrix, s.n, s.i0, s.i1, s.u, s.z, s.t2, s.ld] }];
}
