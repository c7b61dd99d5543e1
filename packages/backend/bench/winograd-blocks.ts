/**
 * Tiles per block of the Winograd kernels (winograd-wasm.ts) on the ResNet-18 layer shapes, batch 128: each
 * candidate timed interleaved with the others, best of 7 (the VM's noise only ever adds time):
 *   npx tsx bench/winograd-blocks.ts        (SAMRANK_WASM_THREADS=2 for the multi-threaded build)
 */
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '../src/index.js';
import { WINOGRAD_BLOCK, winogradConv, winogradFilterGrad } from '../src/winograd-wasm.js';

await setupBackend({ backend: 'wasm', quiet: true, threads: Number(process.env['SAMRANK_WASM_THREADS'] ?? 1) });
await new Promise((r) => setTimeout(r, 300));
const be = tf.engine().backend;
const blocks = (process.env['BLOCKS'] ?? '4,8,16,32,64').split(',').map(Number);
const shapes = [
  [128, 32, 16, 16],
  [128, 16, 32, 32],
  [128, 8, 64, 64],
  [128, 4, 128, 128],
  [64, 32, 64, 64],
] as const;
// A first pass over every shape lets V8 tier the kernels up (wasm code starts unoptimised) before anything counts.
for (const [pass, [n, hw, c, k]] of [...shapes.map((s) => [0, s] as const), ...shapes.map((s) => [1, s] as const)]) {
  const x = tf.randomNormal([n, hw, hw, c], 0, 1, 'float32', 1);
  const f = tf.randomNormal([3, 3, c, k], 0, 1, 'float32', 2);
  const dy = tf.randomNormal([n, hw, hw, k], 0, 1, 'float32', 3);
  const best = { fwd: blocks.map(() => Infinity), dw: blocks.map(() => Infinity) };
  const time = (f: () => tf.TensorInfo | null) => {
    const t0 = performance.now();
    const out = f()!;
    be.disposeData(out.dataId);
    return performance.now() - t0;
  };
  for (let rep = 0; rep < 8; rep++) {
    blocks.forEach((b, i) => {
      const a = time(() => winogradConv(be, x, f, false, b));
      const d = time(() => winogradFilterGrad(be, x, dy, b));
      if (rep > 0) {
        best.fwd[i] = Math.min(best.fwd[i]!, a);
        best.dw[i] = Math.min(best.dw[i]!, d);
      }
    });
  }
  const row = (name: string, v: number[]) => `${name} ${v.map((ms, i) => `B${blocks[i]} ${ms.toFixed(1)}`).join('  ')}`;
  if (pass === 1) console.log(`${hw}x${hw} ${c}->${k} n${n} (default B${WINOGRAD_BLOCK}): ${row('fwd', best.fwd)} | ${row('dW', best.dw)}`);
  tf.dispose([x, f, dy]);
}
