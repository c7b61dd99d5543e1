/**
 * PreAct ResNet-18 from the model registry, with explicit parameters and BatchNorm state: a few SAM steps with BatchNorm in training mode in
 * both passes (as the paper's code), then block-3 features in eval mode (what the paper's feature rank uses), and
 * a checkpoint round trip.
 *
 *   npx tsx examples/models-resnet-features.ts
 */
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@samrank/backend';
import { SAM } from '@samrank/optim';
import {
  BatchNormStateStore,
  checkpointFromJSON,
  checkpointToJSON,
  classificationLoss,
  createModel,
  restoreCheckpoint,
  saveCheckpoint,
} from '@samrank/models';

const setup = await setupBackend({ quiet: true });
console.log(setup.message);

const model = createModel('preact-resnet18', { width: 16, numClasses: 10, imageSize: 32 });
console.log(`${model.name}, width 16: ${model.numParams.toLocaleString('en-US')} parameters, ${model.stateSpecs.length} BatchNorm layers`);
for (const tap of model.tapNames) console.log(`  ${tap}: [${model.tapShape(tap).join(', ')}] → ${model.tapDim(tap)} features`);

const { params, state } = model.init(0);
const store = new BatchNormStateStore(state);
const x = tf.randomNormal([32, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
const y = tf.randomUniform([32], 0, 10, 'int32', 2) as tf.Tensor1D;

// SAM as the paper trains: ε from the first pass, BatchNorm in training mode (running statistics updated) in both.
const sam = new SAM(tf.train.sgd(0.05), { rho: 0.05, epsilon: 1e-7 });
for (let step = 0; step < 3; step++) {
  const t0 = performance.now();
  const loss = sam.minimize(() => classificationLoss(model, params, store, x, y, 'train')(), true, Object.values(params))!;
  console.log(`SAM step ${step}: loss ${loss.dataSync()[0]!.toFixed(4)} (${(performance.now() - t0).toFixed(0)} ms)`);
  loss.dispose();
}

// Eval-mode features of block 3 (running statistics); output: false stops after layer3.
const { taps } = model.apply(params, store.state, x, { training: false, output: false, taps: ['block3'] });
const phi = taps['block3']!;
console.log(`block 3 features: [${phi.shape.join(', ')}], mean ${tf.mean(phi).dataSync()[0]!.toFixed(4)}`);

// Checkpoint: typed arrays → JSON-safe → back, checked against the model's names and shapes.
const json = JSON.stringify(checkpointToJSON(await saveCheckpoint(params, store.state)));
const restored = restoreCheckpoint(checkpointFromJSON(JSON.parse(json)), model);
const again = model.apply(restored.params, restored.state, x, { training: false, output: false, taps: ['block3'] }).taps['block3']!;
console.log(
  `checkpoint: ${(json.length / 1e6).toFixed(2)} MB of JSON; restored block 3 max |Δ| = ${tf.max(tf.abs(tf.sub(again, phi))).dataSync()[0]}`,
);
process.exit(0);
