import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { helperTasksRun } from '@samrank/core/threads';
import { describe, expect, it } from 'vitest';
import { relaxedSimd, relaxedSimdAvailable } from '@samrank/core';
import { GEMM_RELAXED_SHARED_WASM_BASE64, GEMM_RELAXED_WASM_BASE64, GEMM_WASM_BASE64, GEMM_WAT_SHA256 } from './gemm-wasm.generated.js';
import { addProductTN, addRowGramF32, gramHelperReady, gramKernelVariant, startGramHelper, useGramKernel } from './gemm.js';
import { setRankThreads } from './rank-threads.js';
import { createRng } from '../test/test-matrices.js';
import { TRIDIAG_WAT_SHA256 } from './tridiag-wasm.generated.js';
import { waitForHelper } from '../test/threads.js';

function randomF32(n: number, seed: number, offset = 0): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => offset + rng.normal());
}

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
}

describe('addProductTN (f32 blocks, float64 output)', () => {
  it('matches a float64 reference for XᵀX, upper triangle only, odd sizes and several blocks', () => {
    for (const [n, d] of [
      [1, 1],
      [13, 9],
      [700, 37],
    ] as const) {
      const x = randomF32(n * d, n + d);
      const G = new Float64Array(d * d).fill(0);
      addProductTN({ data: x, offset: 0, strideK: d, strideC: 1, k: n, c: d }, null, G, { kBlock: 64, flushRows: 128 });
      for (let i = 0; i < d; i++)
        for (let j = 0; j < d; j++) {
          if (j < i) {
            expect(G[i * d + j]).toBe(0);
            continue;
          }
          let ref = 0;
          for (let r = 0; r < n; r++) ref += x[r * d + i]! * x[r * d + j]!;
          expect(Math.abs(G[i * d + j]! - ref)).toBeLessThan(1e-5 * Math.sqrt(n) + 1e-6 * Math.abs(ref));
        }
    }
  });

  it('handles a big output (the n×n Gram case: transposed reads, longer blocks, threads)', () => {
    // 2100 examples × 600 features, Gram over examples: out is 2100² floats (> 4M: 512-row blocks).
    const n = 2100;
    const d = 600;
    const x = randomF32(n * d, 8);
    const G = new Float64Array(n * n);
    addProductTN({ data: x, offset: 0, strideK: 1, strideC: d, k: d, c: n }, null, G);
    for (let t = 0; t < 200; t++) {
      const i = (t * 7919) % n;
      const j = i + ((t * 104729) % (n - i));
      let ref = 0;
      for (let c = 0; c < d; c++) ref += x[i * d + c]! * x[j * d + c]!;
      expect(Math.abs(G[i * n + j]! - ref)).toBeLessThan(1e-4 * Math.sqrt(d));
    }
  });

  it('computes a general Aᵀ·B through strides, shifts and scales (the k-NN use)', () => {
    const k = 50;
    const na = 11;
    const nb = 19;
    const a = randomF32(na * k, 1);
    const b = randomF32(nb * k, 2);
    const scaleB = Float64Array.from({ length: nb }, (_, i) => 1 + i / 10);
    const shiftA = Float64Array.from({ length: na }, (_, i) => i / 7);
    const out = new Float64Array(na * nb);
    // Rows of a and b are examples of length k: read them transposed (strideK = 1, strideC = k).
    addProductTN(
      { data: a, offset: 0, strideK: 1, strideC: k, k, c: na, cShift: shiftA },
      { data: b, offset: 0, strideK: 1, strideC: k, k, c: nb, cScale: scaleB },
      out,
    );
    for (let i = 0; i < na; i++)
      for (let j = 0; j < nb; j++) {
        let ref = 0;
        for (let t = 0; t < k; t++) ref += (a[i * k + t]! - shiftA[i]!) * b[j * k + t]! * scaleB[j]!;
        expect(Math.abs(out[i * nb + j]! - ref)).toBeLessThan(1e-4);
      }
  });
});

describe('addRowGramF32 (SIMD packer)', () => {
  it('equals the generic path with column and row shifts, and returns the shifted column sums', () => {
    const n = 530;
    const d = 21; // not a multiple of 8: padded panels
    const x = randomF32(n * d, 3, 5);
    const cShift = Float64Array.from({ length: d }, (_, j) => Math.fround(5 + j / 100));
    const kShift = Float64Array.from({ length: n }, (_, i) => Math.fround(i / 1000));
    const G1 = new Float64Array(d * d);
    const sums = new Float64Array(d);
    expect(addRowGramF32(x, d, 0, n, cShift, kShift, G1, sums, { kBlock: 100 })).toBe(-1);
    const G2 = new Float64Array(d * d);
    addProductTN({ data: x, offset: 0, strideK: d, strideC: 1, k: n, c: d, cShift, kShift }, null, G2);
    for (let i = 0; i < d; i++) for (let j = i; j < d; j++) expect(relErr(G1[i * d + j]!, G2[i * d + j]!)).toBeLessThan(1e-5);
    for (let j = 0; j < d; j++) {
      let ref = 0;
      for (let r = 0; r < n; r++) ref += x[r * d + j]! - cShift[j]! - kShift[r]!;
      expect(Math.abs(sums[j]! - ref)).toBeLessThan(1e-3);
    }
  });

  it('reports the block holding a NaN or an Infinity', () => {
    const d = 16;
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const x = randomF32(40 * d, 4);
      x[25 * d + 3] = bad;
      expect(addRowGramF32(x, d, 0, 40, null, null, new Float64Array(d * d), null, { kBlock: 8 })).toBe(24);
    }
  });
});

describe('embedded WebAssembly', () => {
  it('was assembled from the current .wat sources (run `npm run build:wasm` after editing them)', () => {
    for (const [name, sha] of [
      ['gemm', GEMM_WAT_SHA256],
      ['tridiag', TRIDIAG_WAT_SHA256],
    ] as const) {
      const source = readFileSync(new URL(`../wasm/${name}.wat`, import.meta.url), 'utf8');
      expect(createHash('sha256').update(source).digest('hex'), name).toBe(sha);
    }
  });
});

describe('two threads', () => {
  it('a NaN or Infinity in the panels the helper packs is reported with its block', async () => {
    setRankThreads(2);
    startGramHelper();
    await waitForHelper(gramHelperReady);
    const n = 1100;
    const d = 256;
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const x = randomF32(n * d, 11);
      // Column 250 is in the last of 32 panels (the helper's half); row 700 is in the second 512-row block.
      x[700 * d + 250] = bad;
      const before = helperTasksRun();
      expect(addRowGramF32(x, d, 0, n, null, null, new Float64Array(d * d), null)).toBe(512);
      expect(helperTasksRun()).toBeGreaterThan(before);
    }
  });

  it('the helper thread takes half of the tiles and of the packing, and the result is bit-identical to one thread', async () => {
    const n = 1100;
    const d = 300;
    const x = randomF32(n * d, 9);
    const shift = Float64Array.from({ length: d }, (_, c) => Math.fround(0.01 * c - 1));
    setRankThreads(2);
    startGramHelper();
    await waitForHelper(gramHelperReady);
    const tasksBefore = helperTasksRun();
    const two = new Float64Array(d * d);
    const twoSums = new Float64Array(d);
    addRowGramF32(x, d, 0, n, shift, null, two, twoSums);
    const twoGeneral = new Float64Array(d * 7);
    const b = randomF32(n * 7, 10);
    addProductTN(
      { data: x, offset: 0, strideK: d, strideC: 1, k: n, c: d },
      { data: b, offset: 0, strideK: 7, strideC: 1, k: n, c: 7 },
      twoGeneral,
    );
    expect(helperTasksRun()).toBeGreaterThan(tasksBefore);
    setRankThreads(1);
    expect(gramHelperReady()).toBe(false);
    const one = new Float64Array(d * d);
    const oneSums = new Float64Array(d);
    addRowGramF32(x, d, 0, n, shift, null, one, oneSums);
    const oneGeneral = new Float64Array(d * 7);
    addProductTN(
      { data: x, offset: 0, strideK: d, strideC: 1, k: n, c: d },
      { data: b, offset: 0, strideK: 7, strideC: 1, k: n, c: 7 },
      oneGeneral,
    );
    setRankThreads(2);
    expect(two).toEqual(one);
    expect(twoSums).toEqual(oneSums);
    expect(twoSums[0]).toBeCloseTo(n, -2);
    expect(twoGeneral).toEqual(oneGeneral);
    expect(one.some((v) => v !== 0)).toBe(true);
  });
});

describe('the two builds of the Gram kernel', () => {
  /** Occurrences of `f32x4.relaxed_madd` (opcode 0xfd 0x85 0x02) in a module's bytes. */
  const fusedOps = (base64: string) => {
    const b = Buffer.from(base64, 'base64');
    let n = 0;
    for (let i = 0; i + 2 < b.length; i++) if (b[i] === 0xfd && b[i + 1] === 0x85 && b[i + 2] === 0x02) n++;
    return n;
  };

  it('the relaxed build fuses every multiply-add of the source, and runs only where the runtime has relaxed SIMD and it is asked for', async () => {
    expect(fusedOps(GEMM_WASM_BASE64)).toBe(0);
    // gemm.wat writes 8 multiply-adds (one row of 8 accumulators); pack_rows' x·0 test is a multiply alone.
    expect(fusedOps(GEMM_RELAXED_WASM_BASE64)).toBe(8);
    expect(fusedOps(GEMM_RELAXED_SHARED_WASM_BASE64)).toBe(8);
    // Plain unless SAMRANK_RELAXED_SIMD=1 asks for the fused build (measured slower for this kernel).
    expect(gramKernelVariant()).toBe(relaxedSimd(false) ? 'relaxed' : 'plain');
    if (!relaxedSimdAvailable()) await expect(useGramKernel('relaxed')).rejects.toThrow(/no relaxed SIMD/);
  });

  const builds: ('plain' | 'relaxed')[] = relaxedSimdAvailable() ? ['plain', 'relaxed'] : ['plain'];
  it.each(builds)('%s build: XᵀX against the float64 reference, the same on one thread and two', async (build) => {
    const initial = gramKernelVariant();
    await useGramKernel(build);
    try {
      expect(gramKernelVariant()).toBe(build);
      // Enough rows and columns that the helper takes half of the tiles.
      const n = 3000;
      const d = 256;
      const x = randomF32(n * d, 41, 0.5);
      const gram = () => {
        const G = new Float64Array(d * d);
        addProductTN({ data: x, offset: 0, strideK: d, strideC: 1, k: n, c: d }, null, G);
        return G;
      };
      setRankThreads(1);
      const one = gram();
      setRankThreads(2);
      startGramHelper();
      await waitForHelper(gramHelperReady);
      const tasksBefore = helperTasksRun();
      const two = gram();
      expect(helperTasksRun()).toBeGreaterThan(tasksBefore);
      setRankThreads(1);
      expect(Array.from(two)).toEqual(Array.from(one));
      for (let i = 0; i < d; i += 5)
        for (let j = i; j < d; j += 3) {
          let ref = 0;
          for (let r = 0; r < n; r++) ref += x[r * d + i]! * x[r * d + j]!;
          expect(relErr(one[i * d + j]!, ref)).toBeLessThan(1e-5);
        }
    } finally {
      await useGramKernel(initial);
    }
  });
});
