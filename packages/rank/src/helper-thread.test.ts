import { describe, expect, it } from 'vitest';
import { GEMM_WASM_BASE64 } from './gemm-wasm.generated.js';
import { HelperThread, setRankThreads } from './helper-thread.js';
import { compileBase64, createSharedMemory } from './wasm-runtime.js';

describe('HelperThread', () => {
  it('runs the task on the other thread while the caller runs its share, then returns', async () => {
    setRankThreads(2);
    const memory = createSharedMemory(1);
    // The task writes ctl[4] + ctl[5] into ctl[12]; the caller's share writes ctl[13].
    const helper = new HelperThread(compileBase64(GEMM_WASM_BASE64), memory, '(e, c) => { c[12] = c[4] + c[5]; }');
    for (let i = 0; i < 100 && !helper.ready(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(helper.ready()).toBe(true);
    for (let t = 0; t < 20; t++) {
      helper.run([t, 100], () => {
        helper.ctl[13] = 1000 + t;
      });
      expect([helper.ctl[12], helper.ctl[13]]).toEqual([t + 100, 1000 + t]);
    }
  });

  it('is not used with one thread, and setRankThreads accepts only 1 or 2', () => {
    const helper = new HelperThread(compileBase64(GEMM_WASM_BASE64), createSharedMemory(1), '() => {}');
    setRankThreads(1);
    expect(helper.ready()).toBe(false);
    setRankThreads(2);
    expect(() => setRankThreads(3 as never)).toThrow(RangeError);
  });
});
