/**
 * Backend setup for training: picks the best backend available here (wasm on a machine without tfjs-node),
 * says why the others were skipped, then trains a small conv net a few steps and checks one gradient against
 * the cpu backend (the correctness reference).
 *
 *   npx tsx examples/backend-setup.ts            # single-threaded wasm
 *   npx tsx examples/backend-setup.ts --threads 2  # multi-threaded wasm (both cores of a 2-core machine)
 */
import '@tensorflow/tfjs-layers'; // registers gradients (setupBackend would import it otherwise)
import '@tensorflow/tfjs-backend-cpu'; // the correctness reference used at the end
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@samrank/backend';

const threadsFlag = process.argv.indexOf('--threads');
const threads = threadsFlag >= 0 ? Number(process.argv[threadsFlag + 1]) : 1;

const setup = await setupBackend({ threads, quiet: true });
tf.enableProdMode(); // silences the cpu backend's banner when the reference runs at the end
console.log(setup.message);
for (const t of setup.tried) console.log(`  ${t.ok ? 'ok  ' : 'skip'} ${t.name}${t.reason ? `: ${t.reason}` : ''}`);
console.log(`  kernels installed: ${setup.kernels.join(', ')}`);

// A small conv net: conv 3×3 stride 2 → BatchNorm (batch statistics) → ReLU → global mean → dense.
const x = tf.randomNormal([32, 16, 16, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
const labels = tf.cast(tf.oneHot(tf.randomUniform([32], 0, 10, 'int32', 2) as tf.Tensor1D, 10), 'float32');
const w1 = tf.variable(tf.randomNormal([3, 3, 3, 16], 0, 0.3, 'float32', 3), true, 'w1');
const w2 = tf.variable(tf.randomNormal([16, 10], 0, 0.3, 'float32', 4), true, 'w2');
const loss = () =>
  tf.tidy(() => {
    const h = tf.conv2d(x, w1 as tf.Tensor4D, 2, [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ]);
    const { mean, variance } = tf.moments(h, [0, 1, 2]);
    const a = tf.relu(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-5))));
    const logits = tf.matMul(tf.mean(a, [1, 2]), w2 as tf.Tensor2D);
    return tf.mean(tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, labels), 1))) as tf.Scalar;
  });

const t0 = performance.now();
for (let step = 0; step < 20; step++) {
  const { value, grads } = tf.variableGrads(loss);
  tf.tidy(() => {
    w1.assign(tf.sub(w1, tf.mul(grads['w1']!, 0.5)));
    w2.assign(tf.sub(w2, tf.mul(grads['w2']!, 0.5)));
  });
  if (step % 5 === 0 || step === 19) console.log(`step ${step}: loss ${(await value.data())[0]!.toFixed(4)}`);
  tf.dispose([value, ...Object.values(grads)]);
}
console.log(`20 steps on '${tf.getBackend()}' in ${(performance.now() - t0).toFixed(0)} ms; live tensors ${tf.memory().numTensors}`);

// The same gradient on the cpu backend (which also got the fast filter gradient) must agree.
const gradOn = async (backend: string) => {
  await tf.setBackend(backend);
  const { grads } = tf.variableGrads(loss);
  const values = await grads['w1']!.data();
  tf.dispose(Object.values(grads));
  return values;
};
const here = await gradOn(setup.backend);
const cpu = await gradOn('cpu');
let diff = 0;
let scale = 0;
for (let i = 0; i < cpu.length; i++) {
  diff = Math.max(diff, Math.abs(here[i]! - cpu[i]!));
  scale = Math.max(scale, Math.abs(cpu[i]!));
}
console.log(`dL/dw1 on ${setup.backend} vs cpu: max relative difference ${(diff / scale).toExponential(2)}`);
