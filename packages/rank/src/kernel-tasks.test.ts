import { compileBase64, createMemory, createSharedMemory, instantiateWithMemory, isSharedMemory, runTask } from '@samrank/core';
import { HelperThread } from '@samrank/core/threads';
import { describe, expect, it } from 'vitest';
import { GEMM_SHARED_WASM_BASE64, GEMM_WASM_BASE64 } from './gemm-wasm.generated.js';
import { gemmPairs, gemmTilesTask, packRowsTask, symmRowsTask, tridiagStepTask, updateRowsTask, type GemmBlock } from './kernel-tasks.js';
import { helperReady, instantiateKernel, setRankThreads } from './rank-threads.js';
import { TRIDIAG_SHARED_WASM_BASE64, TRIDIAG_WASM_BASE64 } from './tridiag-wasm.generated.js';

const block = (panels: number, symmetric: boolean): GemmBlock => ({
  a: 16,
  b: 4096,
  kb: 8,
  panelsA: panels,
  panelsB: panels,
  out: 65536,
  ldo: 8 * panels,
  symmetric,
});

describe('gemmTilesTask', () => {
  it('splits the chunk pairs of a block by parity, each pair one gemm_tn call with byte offsets', () => {
    // 40 panels: 3 chunks of B; the symmetric block has the 6 pairs with A chunk <= B chunk.
    const sym = block(40, true);
    expect(gemmPairs(sym)).toBe(9);
    const whole = gemmTilesTask(sym, 0, 1);
    expect(whole).toHaveLength(6);
    const halves = [gemmTilesTask(sym, 0, 2), gemmTilesTask(sym, 1, 2)];
    expect(halves.map((h) => h.length)).toEqual([3, 3]);
    expect([...halves[0]!, ...halves[1]!].map((c) => c.args.join()).sort()).toEqual(whole.map((c) => c.args.join()).sort());
    // First pair: A and B chunks 0, a diagonal tile (sym flag 1); offsets in bytes.
    expect(whole[0]).toEqual({ fn: 'gemm_tn', args: [64, 4096 * 4, 8, 16, 16, 65536 * 4, 320, 1] });
    expect(gemmTilesTask(block(40, false), 0, 1)).toHaveLength(9);
  });

  it('builds the packing, symm_rows and update_rows calls (panels split in two halves)', () => {
    const p = { raw: 0, kb: 4, ld: 24, cs: 400, ks: -1, dst: 800, colsum: 1200, flag: 1300 };
    expect(packRowsTask(p, 0, 1)).toEqual([{ fn: 'pack_rows', args: [0, 4, 24, 400, -1, 800, 1200, 0, 3, 1300] }]);
    expect([...packRowsTask(p, 0, 2), ...packRowsTask(p, 1, 2)].map((c) => c.args.slice(7, 9))).toEqual([
      [0, 1],
      [1, 3],
    ]);
    expect(packRowsTask({ ...p, ld: 8 }, 0, 2)).toEqual([]);
    expect(symmRowsTask({ matrix: 0, n: 10, i0: 2, i1: 7, y: 800, x: 960, nb: 8, ld: 8 })).toEqual([
      { fn: 'symm_rows', args: [0, 10, 2, 7, 800, 960, 8, 8] },
    ]);
    expect(updateRowsTask({ matrix: 0, n: 10, i0: 2, i1: 7, u: 800, z: 960, t2: 4, ld: 16 })).toEqual([
      { fn: 'update_rows', args: [0, 10, 2, 7, 800, 960, 4, 16] },
    ]);
  });

  it('builds one fused_step call per tridiagonalization pass', () => {
    expect(tridiagStepTask({ matrix: 0, n: 10, i0: 2, i1: 7, vp: 800, wp: 880, v: 960, p: 1040 })).toEqual([
      { fn: 'fused_step', args: [0, 10, 2, 7, 800, 880, 960, 1040] },
    ]);
  });

  it("the helper computes its half of a block's tiles into the shared memory, identical to one thread", async () => {
    const module = compileBase64(GEMM_SHARED_WASM_BASE64);
    const memory = createSharedMemory(8);
    const exports = instantiateWithMemory<object>(module, memory);
    const mem = new Float32Array(memory.buffer);
    const b: GemmBlock = { a: 0, b: 0, kb: 8, panelsA: 40, panelsB: 40, out: 40 * 8 * 8, ldo: 320, symmetric: true };
    for (let i = 0; i < b.out; i++) mem[i] = Math.sin(i);
    const outFloats = 320 * 320;
    runTask(exports, gemmTilesTask(b, 0, 1));
    const one = mem.slice(b.out, b.out + outFloats);
    mem.fill(0, b.out, b.out + outFloats);
    const helper = new HelperThread(module, memory);
    for (let i = 0; i < 200 && !helper.ready(); i++) await new Promise((r) => setTimeout(r, 25));
    helper.run(gemmTilesTask(b, 1, 2), () => runTask(exports, gemmTilesTask(b, 0, 2)));
    expect(mem.slice(b.out, b.out + outFloats)).toEqual(one);
    expect(one.some((v) => v !== 0)).toBe(true);
    await helper.terminate();
  });
});

describe('setRankThreads', () => {
  it('with one thread no helper is used (nor started); it accepts only 1 or 2', () => {
    const helper = new HelperThread(compileBase64(GEMM_SHARED_WASM_BASE64), createSharedMemory(1));
    setRankThreads(1);
    expect(helperReady(helper)).toBe(false);
    expect(helperReady(null)).toBe(false);
    setRankThreads(2);
    expect(() => setRankThreads(3 as never)).toThrow(RangeError);
  });
});

describe('the unshared kernel variants (where no helper thread can start, e.g. browsers)', () => {
  it('compute the same bits as the shared ones: the same code, only the memory import differs', () => {
    const b: GemmBlock = { a: 0, b: 0, kb: 8, panelsA: 40, panelsB: 40, out: 40 * 8 * 8, ldo: 320, symmetric: true };
    const outFloats = 320 * 320;
    const results = [
      { base64: GEMM_WASM_BASE64, memory: createMemory(8) },
      { base64: GEMM_SHARED_WASM_BASE64, memory: createSharedMemory(8) },
    ].map(({ base64, memory }) => {
      const exports = instantiateWithMemory<object>(compileBase64(base64), memory);
      const mem = new Float32Array(memory.buffer);
      for (let i = 0; i < b.out; i++) mem[i] = Math.sin(i);
      runTask(exports, gemmTilesTask(b, 0, 1));
      return mem.slice(b.out, b.out + outFloats);
    });
    expect(results[0]!.some((v) => v !== 0)).toBe(true);
    expect(results[0]).toEqual(results[1]);
    // tridiag: one fused step over a 40 × 40 matrix (upper triangle) with pending vectors.
    const n = 40;
    const tri = [
      { base64: TRIDIAG_WASM_BASE64, memory: createMemory(1) },
      { base64: TRIDIAG_SHARED_WASM_BASE64, memory: createSharedMemory(1) },
    ].map(({ base64, memory }) => {
      const exports = instantiateWithMemory<object>(compileBase64(base64), memory);
      const mem = new Float64Array(memory.buffer);
      for (let i = 0; i < n * n + 16 * n; i++) mem[i] = Math.cos(i);
      const vp = n * n * 8;
      runTask(exports, tridiagStepTask({ matrix: 0, n, i0: 1, i1: n, vp, wp: vp + n * 8, v: vp + 2 * n * 8, p: vp + 3 * n * 8 }));
      // The first stage's passes: X += T·Y (8 values per index), then T −= Σ U Zᵀ over 4 stacked vectors.
      runTask(exports, symmRowsTask({ matrix: 0, n, i0: 3, i1: n, y: vp, x: vp + n * 8 * 8, nb: 8, ld: 8 }));
      runTask(exports, updateRowsTask({ matrix: 0, n, i0: 5, i1: n, u: vp, z: vp + n * 8 * 8, t2: 4, ld: 8 }));
      return mem.slice(0, n * n + 16 * n);
    });
    expect(tri[0]).toEqual(tri[1]);
  });

  it('instantiateKernel takes the shared variant with a helper in Node', () => {
    const kernel = instantiateKernel<object>(GEMM_WASM_BASE64, GEMM_SHARED_WASM_BASE64, 'test');
    expect(isSharedMemory(kernel.memory)).toBe(true);
    expect(kernel.helper).toBeInstanceOf(HelperThread);
  });
});
