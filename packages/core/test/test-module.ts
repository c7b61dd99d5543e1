/** A tiny wasm module for the helper-thread tests (test-only), assembled from WAT with wabt at test time. */
import initWabt from 'wabt';
import { compileBase64 } from '../src/wasm-runtime.js';

const WAT = `
(module
  (import "env" "memory" (memory 1 65536 shared))
  ;; out[i] = value + i for i in [i0, i1), out an int32 array at byte offset dst
  (func (export "fill") (param $dst i32) (param $value i32) (param $i0 i32) (param $i1 i32)
    (local $i i32)
    (local.set $i (local.get $i0))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $i1)))
      (i32.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))) (i32.add (local.get $value) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))
  ;; traps: an out-of-bounds store
  (func (export "oob") (i32.store (i32.const -4) (i32.const 1)))
  ;; blocks for ms milliseconds (waits on a word nobody notifies)
  (func (export "sleep") (param $ms i32)
    (drop (memory.atomic.wait32 (i32.const 65532) (i32.const 0) (i64.mul (i64.extend_i32_u (local.get $ms)) (i64.const 1000000)))))
)`;

/** The test module, base64: exports fill(dst, value, i0, i1), oob(), sleep(ms). */
export async function testModuleBase64(): Promise<string> {
  const wabt = await initWabt();
  const mod = wabt.parseWat('test.wat', WAT, { threads: true });
  const bytes = mod.toBinary({}).buffer;
  mod.destroy();
  return Buffer.from(bytes).toString('base64');
}

/** The compiled test module. */
export async function testModule(): Promise<object> {
  return compileBase64(await testModuleBase64());
}
