/**
 * Time and GMAC/s of the three convolution kernels (filter gradient, forward, input gradient) for the layer
 * shapes of PreAct ResNet-18 at width 16 (and one width-64 layer), batch 128, on the wasm backend:
 *   npx tsx bench/conv-layers.ts          (SAMRANK_WASM_THREADS=2 for the multi-threaded build)
 */
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '../src/index.js';
await setupBackend({ quiet: true, threads: Number(process.env['SAMRANK_WASM_THREADS'] ?? 1) });
await new Promise((r) => setTimeout(r, 300));
const layers: [number, number, number, number, number, number][] = [
  // n, hw, c, co, k, stride
  [128, 32, 3, 16, 3, 1],
  [128, 32, 16, 16, 3, 1],
  [128, 32, 16, 32, 3, 2],
  [128, 16, 32, 32, 3, 1],
  [128, 16, 32, 64, 3, 2],
  [128, 8, 64, 64, 3, 1],
  [128, 4, 128, 128, 3, 1],
  [128, 32, 16, 32, 1, 2],
  [128, 8, 128, 128, 3, 2],
  [128, 32, 64, 64, 3, 1],
];
for (const [n, hw, c, co, k, s] of layers) {
  const x = tf.randomNormal([n, hw, hw, c], 0, 1, 'float32', 1) as tf.Tensor4D;
  const ho = Math.ceil(hw / s);
  const dy = tf.randomNormal([n, ho, ho, co], 0, 1, 'float32', 2) as tf.Tensor4D;
  const attrs = { strides: [s, s], pad: 'same', dataFormat: 'NHWC', filterShape: [k, k, c, co] };
  const ts: number[] = [];
  const tf_: number[] = [];
  const tdx: number[] = [];
  const wt = tf.randomNormal([k, k, c, co], 0, 1, 'float32', 3) as tf.Tensor4D;
  for (let i = 0; i < 4; i++) {
    let t0 = performance.now();
    const o = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as never) as tf.Tensor;
    await o.data();
    o.dispose();
    ts.push(performance.now() - t0);
    t0 = performance.now();
    const f = tf.conv2d(x, tf.zeros([k, k, c, co]) as tf.Tensor4D, s, 'same');
    await f.data();
    f.dispose();
    tf_.push(performance.now() - t0);
    t0 = performance.now();
    const d = tf.conv2dTranspose(dy, wt, [n, hw, hw, c], s, 'same');
    await d.data();
    d.dispose();
    tdx.push(performance.now() - t0);
  }
  const macs = n * ho * ho * k * k * c * co;
  const med = (a: number[]) => a.slice(1).sort((p, q) => p - q)[1]!;
  console.log(
    `${hw}x${hw} ${c}->${co} s${s}: dW ${med(ts).toFixed(1)} ms (${(macs / med(ts) / 1e6).toFixed(1)} GMAC/s)  fwd ${med(tf_).toFixed(1)} ms (${(macs / med(tf_) / 1e6).toFixed(1)} GMAC/s)  dx ${med(tdx).toFixed(1)} ms (${(macs / med(tdx) / 1e6).toFixed(1)} GMAC/s)`,
  );
  tf.dispose([x, dy]);
}
