/**
 * The Keras path: SAM and the gradient-norm regularizer as the optimizer of a tfjs-layers model,
 * `model.compile({ optimizer })` + `model.fit` / `trainOnBatch`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { registerDoubleBackpropGradients } from '@samrank/backend';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DoubleBackpropGradientsError, InvalidOptionError } from '../src/errors.js';
import { GradientNormRegularizer } from '../src/gradient-norm-regularizer.js';
import { SAM, type SAMOptions } from '../src/sam.js';
import { useCpu } from './helpers.js';

beforeAll(useCpu);

const created: Array<{ dispose(): unknown }> = [];
afterEach(() => {
  for (const c of created.splice(0)) c.dispose();
});

function mlp(seed: number): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 8, inputShape: [4], activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }),
      tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
  created.push(model);
  return model;
}

function data(n: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const x = tf.randomNormal([n, 4], 0, 1, 'float32', 7) as tf.Tensor2D;
  const y = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: n }, (_, i) => (i * 7) % 3),
      'int32',
    ),
    3,
  ) as tf.Tensor2D;
  created.push(x, y);
  return { x, y };
}

/** tf.memory().numTensors at the end of every batch of `model.fit`. */
async function tensorsPerBatch(model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor, epochs: number, batchSize: number): Promise<number[]> {
  const counts: number[] = [];
  await model.fit(x, y, {
    epochs,
    batchSize,
    shuffle: true,
    verbose: 0,
    callbacks: { onBatchEnd: async () => void counts.push(tf.memory().numTensors) },
  });
  return counts;
}

function compiled(options: SAMOptions = {}, metrics = ['accuracy', 'mse']): { model: tfl.Sequential; sam: SAM } {
  const model = mlp(1);
  const sam = new SAM(tf.train.sgd(0.1), { rho: 0.05, ...options });
  model.compile({ optimizer: sam, loss: 'categoricalCrossentropy', metrics });
  created.push(sam);
  return { model, sam };
}

describe('SAM in model.compile + model.fit (tfjs-layers)', () => {
  it('leaks no tensor: with two metrics the count after every batch is plain SGD’s plus a constant', async () => {
    const { x, y } = data(40);
    const sgdModel = mlp(1);
    const sgd = tf.train.sgd(0.1);
    sgdModel.compile({ optimizer: sgd, loss: 'categoricalCrossentropy', metrics: ['accuracy', 'mse'] });
    created.push(sgd);
    const reference = await tensorsPerBatch(sgdModel, x, y, 3, 8); // 3 epochs × 5 batches
    const { model } = compiled();
    const counts = await tensorsPerBatch(model, x, y, 3, 8);
    expect(counts).toHaveLength(15);
    // Within an epoch the count is the same after every batch, with SAM as with SGD (tfjs-layers itself may hold
    // a few tensors more per epoch, as it does here under vitest: the same for both).
    for (let epoch = 0; epoch < 3; epoch++) expect(new Set(counts.slice(5 * epoch, 5 * epoch + 5)).size).toBe(1);
    const extra = counts.map((c, i) => c - reference[i]!);
    expect(new Set(extra)).toEqual(new Set([extra[0]]));
  });

  it("the leak it prevents: with keptOnRepeat 'keep' each step leaks the second pass's metric tensors (one per metric)", async () => {
    const { model } = compiled({ keptOnRepeat: 'keep' });
    const { x, y } = data(40);
    const counts = await tensorsPerBatch(model, x, y, 1, 8);
    expect(counts.slice(1).map((c, i) => c - counts[i]!)).toEqual([2, 2, 2, 2]);
  });

  it('one full-batch step is bit-identical to a hand-written SAM step, and fit logs the loss at w', async () => {
    const lr = 0.1;
    const rho = 0.05;
    const { model } = compiled({ rho });
    const { x, y } = data(16);
    const initial = model.getWeights().map((w) => tf.keep(w.clone()));
    created.push(...initial);
    const history = await model.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    const fitted = model.getWeights().map((w) => Array.from(w.dataSync()));

    model.setWeights(initial);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const loss = () => tf.mean(tfl.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar;
    const lossAtW = tf.tidy(() => loss().dataSync()[0]!);
    tf.tidy(() => {
      const atW = tf.variableGrads(loss, vars).grads;
      const grads = vars.map((v) => atW[v.name]!);
      // ε = ρ·g/(‖g‖ + 1e-12), the norm over all variables jointly; then the gradient at w + ε, and w − lr·g'.
      let sumSq: tf.Tensor = tf.sum(tf.square(grads[0]!));
      for (const gi of grads.slice(1)) sumSq = tf.add(sumSq, tf.sum(tf.square(gi)));
      const scale = tf.div(tf.scalar(rho), tf.add(tf.sqrt(sumSq), tf.scalar(1e-12)));
      const saved = vars.map((v) => tf.clone(v));
      vars.forEach((v, i) => v.assign(tf.add(saved[i]!, tf.mul(grads[i]!, scale))));
      const gAtPerturbed = tf.variableGrads(loss, vars).grads;
      vars.forEach((v, i) => v.assign(tf.add(tf.mul(tf.scalar(-lr), gAtPerturbed[v.name]!), saved[i]!)));
    });
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(fitted);
    expect(history.history['loss']![0]).toBe(lossAtW);
  });

  it('trainOnBatch works and leaks nothing across calls', async () => {
    const { model } = compiled();
    const { x, y } = data(16);
    await model.trainOnBatch(x, y);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const out = (await model.trainOnBatch(x, y)) as number[];
      expect(out.every(Number.isFinite)).toBe(true);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('BatchNormalization updates its moving statistics in both passes (the documented caveat)', async () => {
    const momentum = 0.9;
    const build = () => {
      const model = tfl.sequential({
        layers: [
          tfl.layers.batchNormalization({ inputShape: [4], momentum }),
          tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }),
        ],
      });
      created.push(model);
      return model;
    };
    const { x, y } = data(16);
    const movingMean = async (optimizer: tf.Optimizer) => {
      const model = build();
      model.compile({ optimizer, loss: 'categoricalCrossentropy' });
      created.push(optimizer);
      await model.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
      return Array.from(model.layers[0]!.getWeights()[2]!.dataSync());
    };
    // BN is the first layer, so both passes see the same batch mean μ: one update gives (1 − m)·μ, two give (1 − m²)·μ.
    const mu = Array.from(tf.tidy(() => tf.mean(x, 0)).dataSync());
    const sgd = await movingMean(tf.train.sgd(0.1));
    const sam = await movingMean(new SAM(tf.train.sgd(0.1), { rho: 0.05 }));
    sgd.forEach((v, i) => expect(v).toBeCloseTo((1 - momentum) * mu[i]!, 6));
    sam.forEach((v, i) => expect(v).toBeCloseTo((1 - momentum * momentum) * mu[i]!, 6));
  });
});

describe('keptOnRepeat', () => {
  it("'dispose' frees what any closure keeps after its first call of a step, at the next step; 'auto' leaves other closures alone", () => {
    const w = tf.variable(tf.tensor1d([1, 2, 3]));
    created.push(w);
    const keptBy = (mode: SAMOptions['keptOnRepeat']) => {
      const sam = new SAM(tf.train.sgd(0.1), { rho: 0.05, keptOnRepeat: mode });
      created.push(sam);
      const kept: tf.Tensor[] = [];
      const step = () =>
        sam.minimize(
          () => {
            kept.push(tf.keep(tf.sum(w)));
            return tf.sum(tf.square(w));
          },
          false,
          [w],
        );
      step();
      const afterOne = kept.map((t) => t.isDisposed);
      step();
      const afterTwo = kept.map((t) => t.isDisposed);
      sam.dispose();
      const afterDispose = kept.map((t) => t.isDisposed);
      tf.dispose(kept);
      return { afterOne, afterTwo, afterDispose };
    };
    expect(keptBy('dispose')).toEqual({
      afterOne: [false, false],
      afterTwo: [false, true, false, false],
      afterDispose: [false, true, false, true],
    });
    for (const mode of ['auto', 'keep'] as const) {
      expect(keptBy(mode).afterDispose, mode).toEqual([false, false, false, false]);
    }
    expect(() => new SAM(tf.train.sgd(0.1), { keptOnRepeat: 'never' as never })).toThrow(InvalidOptionError);
  });

  it('survives getConfig/fromConfig, and leaves tf.keep as it found it', () => {
    const sam = new SAM(tf.train.sgd(0.1), { keptOnRepeat: 'dispose' });
    const copy = SAM.fromConfig(SAM, sam.getConfig()) as SAM;
    created.push(sam, copy);
    expect(copy.keptOnRepeat).toBe('dispose');
    const w = tf.variable(tf.scalar(2));
    created.push(w);
    sam.minimize(() => tf.square(w), false, [w]);
    expect(Object.hasOwn(tf.engine(), 'keep')).toBe(false);
  });
});

describe('GradientNormRegularizer (exact) in model.fit with categoricalCrossentropy', () => {
  it('trains once the double-backprop gradients are registered (LogicalAnd in the clip of the cross-entropy)', async () => {
    const model = mlp(5);
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    const opt = new GradientNormRegularizer(tf.train.sgd(0.1), { lambda: 0.1 });
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    created.push(opt);
    const { x, y } = data(16);
    registerDoubleBackpropGradients();
    const counts = await tensorsPerBatch(model, x, y, 2, 8); // 2 epochs × 2 batches
    expect([counts[1], counts[3]]).toEqual([counts[0], counts[2]]);
    const after = model.getWeights().map((w) => Array.from(w.dataSync()));
    expect(after.flat().every(Number.isFinite)).toBe(true);
    expect(after).not.toEqual(before);
  });

  it("an op of the loss with no registered gradient is a typed error naming the kernel, not tfjs' raw message", () => {
    registerDoubleBackpropGradients();
    const w = tf.variable(tf.tensor1d([0.5, -1, 2]));
    const opt = new GradientNormRegularizer(tf.train.sgd(0.1), { lambda: 0.1 });
    created.push(w, opt);
    let error: unknown;
    try {
      opt.minimize(() => tf.square(tf.einsum('i,i->', w, w)) as tf.Scalar, false, [w]); // Einsum: no gradient in tfjs 4
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DoubleBackpropGradientsError);
    expect((error as DoubleBackpropGradientsError).kernels).toEqual(['Einsum']);
    expect((error as Error).message).toMatch(
      /Einsum .* has no registered gradient: register one with tf.registerGradient.*'finite-difference'/,
    );
    expect(Array.from(w.dataSync())).toEqual([0.5, -1, 2]);
  });

  it('without them it is a typed error naming the fix, before any weight changes', async () => {
    const model = mlp(6);
    const opt = new GradientNormRegularizer(tf.train.sgd(0.1), { lambda: 0.1 });
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
    created.push(opt);
    const { x, y } = data(8);
    // Importing tfjs-layers again re-registers its stock gradients over the fixes, as a second copy would.
    const stock = tf.getGradient('Tanh')!;
    tf.registerGradient({ ...stock });
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    await expect(model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 })).rejects.toThrow(DoubleBackpropGradientsError);
    await expect(model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 })).rejects.toThrow(/registerDoubleBackpropGradients/);
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
    registerDoubleBackpropGradients();
  });
});
