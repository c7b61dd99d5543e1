import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '../src/index.js';
import { winogradConv, winogradFilterGrad } from '../src/backend/winograd-wasm.js';
import { wasmFilterGrad } from '../src/backend/conv-grads-wasm.js';
await setupBackend({ backend: 'wasm', quiet: true, threads: Number(process.env['SAMRANK_WASM_THREADS'] ?? 1) });
await new Promise((r) => setTimeout(r, 300));
const be = tf.engine().backend;
const run = (f: () => tf.TensorInfo) => tf.engine().makeTensorFromTensorInfo(f()) as tf.Tensor;
function rel(a: tf.Tensor, b: tf.Tensor) { const d = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!; const m = tf.max(tf.abs(b)).dataSync()[0]!; return d / m; }
const layers: [number, number, number, number][] = (process.env['SHAPES'] ? JSON.parse(process.env['SHAPES']) : [[128, 32, 16, 16], [128, 16, 32, 32], [128, 8, 64, 64], [128, 4, 128, 128], [128, 32, 64, 64]]);
for (const [n, hw, c, k] of layers) {
  const x = tf.randomNormal([n, hw, hw, c], 0, 1, 'float32', 1) as tf.Tensor4D;
  const wt = tf.randomNormal([3, 3, c, k], 0, 1, 'float32', 3) as tf.Tensor4D;
  const dy = tf.randomNormal([n, hw, hw, k], 0, 1, 'float32', 2) as tf.Tensor4D;
  const ref = tf.conv2d(x, wt, 1, 'same');
  const got = run(() => winogradConv(be, x, wt, false)!);
  const refDx = tf.conv2dTranspose(dy, wt, [n, hw, hw, c], 1, 'same');
  const gotDx = run(() => winogradConv(be, dy, wt, true)!);
  const refDw = run(() => wasmFilterGrad(be, x, dy, { kh: 3, kw: 3, strideHeight: 1, strideWidth: 1, top: 1, left: 1 })!);
  const gotDw = run(() => winogradFilterGrad(be, x, dy)!);
  const errs = [rel(got, ref), rel(gotDx, refDx), rel(gotDw, refDw)];
  tf.dispose([ref, got, refDx, gotDx, refDw, gotDw]);
  const t = (f: () => tf.Tensor) => { const ts: number[] = []; for (let i = 0; i < 5; i++) { const t0 = performance.now(); const o = f(); o.dataSync(); o.dispose(); ts.push(performance.now() - t0); } return ts.sort((a, b) => a - b)[2]!; };
  const tFwdX = t(() => tf.conv2d(x, wt, 1, 'same'));
  const tFwdW = t(() => run(() => winogradConv(be, x, wt, false)!));
  const tDxX = t(() => tf.conv2dTranspose(dy, wt, [n, hw, hw, c], 1, 'same'));
  const tDxW = t(() => run(() => winogradConv(be, dy, wt, true)!));
  const tDwD = t(() => run(() => wasmFilterGrad(be, x, dy, { kh: 3, kw: 3, strideHeight: 1, strideWidth: 1, top: 1, left: 1 })!));
  const tDwW = t(() => run(() => winogradFilterGrad(be, x, dy)!));
  console.log(`${hw}x${hw} ${c}->${k}: err ${errs.map((e) => e.toExponential(1)).join(' ')} | fwd ${tFwdX.toFixed(1)} -> ${tFwdW.toFixed(1)} | dx ${tDxX.toFixed(1)} -> ${tDxW.toFixed(1)} | dW ${tDwD.toFixed(1)} -> ${tDwW.toFixed(1)} ms`);
  tf.dispose([x, wt, dy]);
}
console.log('tensors', tf.memory().numTensors);
