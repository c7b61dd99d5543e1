/**
 * Child process for src/backend/threaded-wasm.test.ts (test-only; test/ is not published): the threaded build
 * patches globals during init and starts pthread workers, so it runs outside the test worker. Prints one JSON
 * line: threads used and a few results.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { helperTasksRun } from '@samrank/core/threads';
import { setupBackend } from '../src/setup.js';

const threads = Number(process.argv[2] ?? '1');
const setup = await setupBackend({ backend: 'wasm', threads, quiet: true });
const leakedGlobals = Object.hasOwn(Object.prototype, 'mainScriptUrlOrBlob');
// The filter gradient's helper thread starts on first use; wait until it takes its half.
const dwInputs = () => [tf.randomNormal([3, 17, 15, 16], 0, 1, 'float32', 6), tf.randomNormal([3, 9, 8, 24], 0, 1, 'float32', 7)];
const dwAttrs = { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 16, 24] };
const filterGrad = () =>
  tf.tidy(() => {
    const [x, dy] = dwInputs();
    return tf.engine().runKernel('Conv2DBackpropFilter', { x: x!, dy: dy! }, dwAttrs as never) as tf.Tensor;
  });
for (let i = 0; i < 100 && helperTasksRun() === 0; i++) {
  filterGrad().dispose();
  await new Promise((r) => setTimeout(r, 20));
}
const dw = filterGrad();
const bitsOf = (values: Float32Array) =>
  createHash('sha256')
    .update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength))
    .digest('hex');
const filterGradBits = bitsOf(dw.dataSync() as Float32Array);
dw.dispose();
// A strided input gradient over three image groups (the helper takes one).
const dxBits = tf.tidy(() => {
  const dy = tf.randomNormal([9, 5, 5, 12], 0, 1, 'float32', 8);
  const filter = tf.randomNormal([3, 3, 16, 12], 0, 1, 'float32', 9);
  const attrs = { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', inputShape: [9, 9, 9, 16] };
  return bitsOf((tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, attrs as never) as tf.Tensor).dataSync() as Float32Array);
});
// Winograd forward, input and filter gradient of a 3×3 stride-1 layer with 256 tiles (the helper takes half).
const winogradBits = tf.tidy(() => {
  const x = tf.randomNormal([4, 16, 16, 8], 0, 1, 'float32', 10) as tf.Tensor4D;
  const filter = tf.randomNormal([3, 3, 8, 16], 0, 1, 'float32', 11) as tf.Tensor4D;
  const dy = tf.randomNormal([4, 16, 16, 16], 0, 1, 'float32', 12);
  const y = tf.conv2d(x, filter, 1, 'same');
  const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
    strides: [1, 1],
    pad: 'same',
    dataFormat: 'NHWC',
    filterShape: [3, 3, 8, 16],
  } as never) as tf.Tensor;
  const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, {
    strides: [1, 1],
    pad: 'same',
    dataFormat: 'NHWC',
    inputShape: [4, 16, 16, 8],
  } as never) as tf.Tensor;
  return [y, dw, dx].map((t) => bitsOf(t.dataSync() as Float32Array)).join(',');
});
const results = tf.tidy(() => {
  const x = tf.randomNormal([4, 12, 12, 8], 0, 1, 'float32', 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 8, 16], 0, 0.3, 'float32', 2) as tf.Tensor4D;
  const dense = tf.randomNormal([16, 10], 0, 0.3, 'float32', 3) as tf.Tensor2D;
  const loss = (a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.square(tf.matMul(tf.mean(tf.relu(tf.conv2d(x, a as tf.Tensor4D, 2, 'same')), [1, 2]), b as tf.Tensor2D)));
  const [gw, gd] = tf.grads(loss)([w, dense]);
  const big = tf.matMul(tf.randomNormal([96, 200], 0, 1, 'float32', 4), tf.randomNormal([96, 150], 0, 1, 'float32', 5), true, false);
  return [tf.conv2d(x, w, 1, 'same'), gw!, gd!, big].map((t) => Array.from(t.dataSync()));
});
process.stdout.write(
  JSON.stringify({
    threads: setup.threads,
    backend: setup.backend,
    leakedGlobals,
    results,
    filterGradBits,
    dxBits,
    winogradBits,
    helperTasks: helperTasksRun(),
  }) + '\n',
);
