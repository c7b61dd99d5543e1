/**
 * The model registry and the `Model` contract: every built-in model by name, the two-layer net with three runs
 * trained side by side (one example per run per step, SAM with a per-run ρ), an MLP's hidden-layer taps, and a
 * model of your own registered with one line.
 *
 *   npx tsx examples/models-registry.ts
 */
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@samrank/backend';
import {
  type ApplyOptions,
  type Model,
  type ModelOutput,
  type ModelState,
  type ParamValues,
  createModel,
  createParams,
  dense,
  fusedSquaredLoss,
  modelNames,
  readTwoLayerParams,
  registerModel,
} from '@samrank/models';
import { SAM } from '@samrank/optim';

await setupBackend({ quiet: true });

for (const name of modelNames()) console.log(`registered: ${name}`);

// The teacher-student student: 3 runs of f(x) = Σ a_j relu(w_j·x + b_j) + c in one parameter `theta` [3, P].
const net = createModel('two-layer', { inputDim: 3, hiddenUnits: 100, runs: 3 });
const { params } = net.initRuns([0, 0, 0]); // the same init for each run, so only ρ differs
const sam = new SAM(tf.train.sgd(0.1), { rho: [0, 0.1, 0.2], runs: 3, epsilon: 0 });
const x = Float32Array.from([0.6, 0.8, 0, 0.6, 0.8, 0, 0.6, 0.8, 0]); // one example per run, [3 · 3] row-major
const y = Float32Array.from([0.5, 0.5, 0.5]);
for (let step = 0; step < 20; step++) sam.minimize(() => fusedSquaredLoss(net, params, x, y), false, [params['theta'] as tf.Variable]);
const out = net.apply(params, null, tf.tensor2d(x, [3, 3]), { training: false, taps: ['hidden'] });
console.log(`two-layer outputs per run: [${Array.from(out.output!.dataSync(), (v) => v.toFixed(4)).join(', ')}]`);
console.log(`hidden tap: [${out.taps['hidden']!.shape.join(', ')}]; run 2's c = ${readTwoLayerParams(net, params)[2]!.c.toFixed(4)}`);

// An MLP's taps are the post-activation outputs of its hidden layers.
const mlp = createModel('mlp', { inputDim: 4, hiddenDims: [16, 8], outputDim: 2 });
const m = mlp.init(0);
const taps = mlp.apply(m.params, m.state, tf.randomNormal([5, 4]), { training: false, output: false, taps: mlp.tapNames }).taps;
console.log(
  `mlp taps: ${Object.entries(taps)
    .map(([k, t]) => `${k} [${t.shape.join(', ')}]`)
    .join(', ')}`,
);

// A model of your own: implement `Model` (here a linear classifier with its input as the one tap) and register it.
class Linear implements Model {
  readonly name = 'linear';
  readonly paramSpecs;
  readonly stateSpecs = [];
  readonly tapNames = ['input'];
  readonly numParams: number;
  constructor(readonly options: { inputDim: number; classes: number }) {
    const bound = 1 / Math.sqrt(options.inputDim);
    this.paramSpecs = [
      { name: 'weight', shape: [options.inputDim, options.classes], init: { kind: 'uniform', bound } },
      { name: 'bias', shape: [options.classes], init: { kind: 'zeros' } },
    ] as const;
    this.numParams = (options.inputDim + 1) * options.classes;
  }
  init(seed: number) {
    return { params: createParams(this.paramSpecs, seed), state: {} };
  }
  apply(params: ParamValues, _state: ModelState | null, x: tf.Tensor, options: ApplyOptions): ModelOutput {
    const taps: Record<string, tf.Tensor2D> = options.taps?.includes('input') ? { input: tf.clone(x) as tf.Tensor2D } : {};
    if (options.output === false) return { taps };
    return { output: tf.tidy(() => dense(x as tf.Tensor2D, params['weight'] as tf.Tensor2D, params['bias'] as tf.Tensor1D)), taps };
  }
}
registerModel('linear', (options: { inputDim: number; classes: number }) => new Linear(options));
const probe = createModel('linear', { inputDim: 4, classes: 3 });
const p = probe.init(1);
console.log(
  `'linear': ${probe.numParams} parameters, logits [${probe.apply(p.params, null, tf.ones([2, 4]), { training: false }).output!.shape.join(', ')}]`,
);
process.exit(0);
