/**
 * Where the time of one PreAct ResNet-18 training step goes, kernel by kernel (tf.profile):
 *   npx tsx bench/profile.ts [width=16] [batch=128] [micro-batch=batch] [grads|sam]
 * `grads`: forward and backward only; `sam`: one full SAM step (ρ 0.1, SGD momentum 0.9, weight decay 5e-4).
 */
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@samrank/backend';
import { BatchNormStateStore, classificationLoss, createModel } from '@samrank/models';
import { SAM } from '@samrank/optim';
import { accumulatedGrads } from './accumulate.js';

const width = Number(process.argv[2] ?? 16);
const batch = Number(process.argv[3] ?? 128);
const micro = Number(process.argv[4] ?? batch);
const mode = process.argv[5] ?? 'grads';

const setup = await setupBackend({ quiet: true, threads: Number(process.env['SAMRANK_WASM_THREADS'] ?? 1) });
console.log(setup.message);
const model = createModel('preact-resnet18', { width });
const { params, state } = model.init(0);
const store = new BatchNormStateStore(state);
const x = tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
const y = tf.randomUniform([batch], 0, 10, 'int32', 2) as tf.Tensor1D;
const sam = new SAM(tf.train.momentum(0.05, 0.9), { rho: 0.1, weightDecay: 5e-4 });
const step =
  mode === 'sam'
    ? () => {
        sam.minimize(classificationLoss(model, params, store, x, y, 'train'), false, Object.values(params));
      }
    : () => {
        const { value, grads } = accumulatedGrads(model, params, store, x, y, 'train', Math.ceil(batch / micro));
        tf.dispose([value, ...Object.values(grads)]);
      };
step();
let t0 = performance.now();
step();
console.log(`step ${(performance.now() - t0).toFixed(0)} ms`);
t0 = performance.now();
const info = await tf.profile(step);
const wall = performance.now() - t0;
const byName = new Map<string, { ms: number; n: number }>();
let total = 0;
for (const k of info.kernels) {
  const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  total += ms;
  const key = k.name;
  const e = byName.get(key) ?? { ms: 0, n: 0 };
  e.ms += ms;
  e.n += 1;
  byName.set(key, e);
}
console.log(`profiled step ${wall.toFixed(0)} ms, kernel time ${total.toFixed(0)} ms, ${info.kernels.length} kernels`);
for (const [name, e] of [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) {
  console.log(`${name.padEnd(28)} ${e.ms.toFixed(1).padStart(9)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)} %  ×${e.n}`);
}
if (process.env['SAMRANK_PROFILE_SHAPES']) {
  const byShape = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const k of info.kernels) {
    const key = `${k.name} ${JSON.stringify(k.inputShapes)} -> ${JSON.stringify(k.outputShapes)}`;
    byShape.set(key, (byShape.get(key) ?? 0) + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0));
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  for (const [key, ms] of [...byShape.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30))
    console.log(`${ms.toFixed(1).padStart(8)} ×${counts.get(key)} ${key}`);
}
process.exit(0);
