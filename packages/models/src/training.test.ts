import * as tf from '@tensorflow/tfjs-core';
import { SAM } from '@samrank/optim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from './backend/index.js';
import { BatchNormStateStore } from './bn-state.js';
import { disposeState } from './init.js';
import { preActResNet18, resNet18 } from './resnet.js';
import { classificationGrads, classificationLoss } from './training.js';
import { sliceBatch } from './microbatch.js';

beforeAll(async () => {
  tf.enableProdMode();
  await setupBackend({ backend: 'cpu', quiet: true });
});

const read = (store: BatchNormStateStore, name: string) => Array.from(store.state[name]!.mean.dataSync());

describe('BatchNorm modes in loss closures', () => {
  it("'train' moves running statistics on every call, 'train-frozen' and 'eval' do not", () => {
    const m = preActResNet18({ width: 2 });
    const { params, bnState } = m.init(0);
    const store = new BatchNormStateStore(bnState);
    const x = tf.randomNormal([4, 32, 32, 3], 1, 2, 'float32', 1) as tf.Tensor4D;
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const start = read(store, 'layer1.0.bn1');
    expect(start).toEqual([0, 0]);
    tf.tidy(() => classificationLoss(m, params, store, x, y, 'train-frozen')());
    expect(read(store, 'layer1.0.bn1')).toEqual(start);
    tf.tidy(() => classificationLoss(m, params, store, x, y, 'eval')());
    expect(read(store, 'layer1.0.bn1')).toEqual(start);
    tf.tidy(() => classificationLoss(m, params, store, x, y, 'train')());
    const once = read(store, 'layer1.0.bn1');
    expect(once).not.toEqual(start);
    // Stem output mean ·0.1 after one update (running mean starts at 0).
    const stemMean = tf.tidy(() => tf.mean(tf.conv2d(x, params['conv1.weight'] as tf.Tensor4D, 1, 'same'), [0, 1, 2]).dataSync());
    once.forEach((v, i) => expect(v).toBeCloseTo(0.1 * stemMean[i]!, 5));
    tf.tidy(() => classificationLoss(m, params, store, x, y, 'train')());
    read(store, 'layer1.0.bn1').forEach((v, i) => expect(v).toBeCloseTo(0.19 * stemMean[i]!, 5));
    store.dispose();
    disposeState(params);
    tf.dispose([x, y]);
  });

  it('SAM with BatchNorm in training mode updates running statistics in both passes (paper-spec §3.1)', () => {
    const m = resNet18({ width: 2 });
    const x = tf.randomNormal([4, 32, 32, 3], 1, 2, 'float32', 2) as tf.Tensor4D;
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const runSam = (second: 'train' | 'train-frozen') => {
      const { params, bnState } = m.init(0);
      const store = new BatchNormStateStore(bnState);
      const stemMean = tf.tidy(() => tf.mean(tf.conv2d(x, params['conv1.weight'] as tf.Tensor4D, 1, 'same'), [0, 1, 2]).dataSync());
      const sam = new SAM(tf.train.sgd(0.01), { rho: 0.05 });
      const passes: string[] = [];
      sam.minimize(({ pass }) => {
        passes.push(pass);
        return classificationLoss(m, params, store, x, y, pass === 'first' ? 'train' : second)();
      }, false, Object.values(params));
      const got = read(store, 'bn1');
      sam.dispose();
      store.dispose();
      disposeState(params);
      return { passes, got, stemMean };
    };
    const frozen = runSam('train-frozen');
    expect(frozen.passes).toEqual(['first', 'second']);
    // One update from 0 with momentum 0.1: 0.1·μ(w).
    frozen.got.forEach((v, i) => expect(v).toBeCloseTo(0.1 * frozen.stemMean[i]!, 5));
    // Both passes: 0.9·0.1·μ(w) + 0.1·μ(w + ε) ≈ 0.19·μ(w) for a small ρ.
    const both = runSam('train');
    both.got.forEach((v, i) => expect(Math.abs(v / (0.19 * both.stemMean[i]!) - 1)).toBeLessThan(0.2));
    tf.dispose([x, y]);
  });
});

/**
 * 50 alternating SGD and SAM steps with micro-batches and BatchNorm updates; returns the kernel names of one
 * SAM step and checks that the live tensors (and, with `heap`, the backend's data ids) do not change.
 */
async function fiftySteps(opts: { width: number; batch: number; micro: number; samMicroBatches: boolean; heap: boolean }): Promise<Set<string>> {
  const { width, batch, micro } = opts;
  const m = preActResNet18({ width, numClasses: 4 });
  const { params, bnState } = m.init(1);
  const store = new BatchNormStateStore(bnState);
  const sgd = tf.train.momentum(0.01, 0.9);
  const chunks = opts.samMicroBatches ? batch / micro : 1;
  const sam = new SAM(tf.train.sgd(0.01), { rho: 0.05, weightDecay: 5e-4, microBatches: chunks });
  const x = tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: batch }, (_, i) => (3 * i) % 4), 'int32');
  const vars = Object.values(params);
  const step = (i: number) => {
    if (i % 2 === 0) {
      const { value, grads } = classificationGrads(m, params, store, x, y, 'train', micro);
      sgd.applyGradients(Object.entries(params).map(([n, v]) => ({ name: v.name, tensor: grads[n]! })));
      tf.dispose([value, ...Object.values(grads)]);
    } else if (opts.samMicroBatches) {
      sam.minimize(({ chunk }) => classificationLoss(m, params, store, sliceBatch(x, micro * chunk, micro), sliceBatch(y, micro * chunk, micro), 'train')(), false, vars);
    } else {
      sam.minimize(({ pass }) => classificationLoss(m, params, store, x, y, pass === 'first' ? 'train' : 'train-frozen')(), false, vars);
    }
  };
  step(0);
  const profile = await tf.profile(() => {
    step(1);
  });
  const counts = () => (opts.heap ? [tf.memory().numTensors, tf.backend().numDataIds()] : [tf.memory().numTensors]);
  const before = counts();
  for (let i = 2; i < 50; i++) step(i);
  expect(counts()).toEqual(before);
  const loss = tf.tidy(() => classificationLoss(m, params, store, x, y, 'eval')().dataSync()[0]!);
  expect(Number.isFinite(loss)).toBe(true);
  sgd.dispose();
  sam.dispose();
  store.dispose();
  disposeState(params);
  tf.dispose([x, y]);
  return new Set(profile.kernels.map((k) => k.name));
}

describe('memory', () => {
  it('numTensors unchanged across 50 SGD/SAM training steps with micro-batches and BN updates', async () => {
    await fiftySteps({ width: 2, batch: 2, micro: 1, samMicroBatches: false, heap: false });
  });
});

describe('memory on wasm, through the package kernels', () => {
  beforeAll(async () => {
    await setupBackend({ backend: 'wasm', quiet: true });
  });
  afterAll(async () => {
    await setupBackend({ backend: 'cpu', quiet: true });
  });

  it('numTensors and the heap\'s data ids unchanged across 50 SGD/SAM steps at width 8 (channel counts the own kernels take)', async () => {
    const names = await fiftySteps({ width: 8, batch: 4, micro: 2, samMicroBatches: true, heap: true });
    for (const kernel of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'SamrankChannelMoments', 'SamrankBatchNormGrad', 'SamrankScaleShift']) {
      expect(names.has(kernel)).toBe(true);
    }
  }, 120_000);
});

describe('micro-batching', () => {
  it('in eval mode (no batch statistics) micro-batched gradients equal the full batch', () => {
    const m = preActResNet18({ width: 2 });
    const { params, bnState } = m.init(4);
    const store = new BatchNormStateStore(bnState);
    const x = tf.randomNormal([5, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const y = tf.tensor1d([0, 1, 2, 3, 4], 'int32');
    const full = classificationGrads(m, params, store, x, y, 'eval');
    const micro = classificationGrads(m, params, store, x, y, 'eval', 2);
    expect(micro.value.dataSync()[0]).toBeCloseTo(full.value.dataSync()[0]!, 5);
    for (const name of Object.keys(params)) {
      const a = full.grads[name]!.dataSync(), b = micro.grads[name]!.dataSync();
      let worst = 0, scale = 0;
      for (let i = 0; i < a.length; i++) {
        worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
        scale = Math.max(scale, Math.abs(a[i]!));
      }
      expect(worst, name).toBeLessThanOrEqual(1e-5 * scale + 1e-7);
    }
    store.dispose();
    disposeState(params);
  });

  it("in 'train' mode each micro-batch uses its own statistics and updates the running ones once per micro-batch", () => {
    const m = preActResNet18({ width: 2 });
    const { params, bnState } = m.init(4);
    const x = tf.randomNormal([4, 32, 32, 3], 0, 1, 'float32', 6) as tf.Tensor4D;
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const a = new BatchNormStateStore(m.initBnState());
    const b = new BatchNormStateStore(bnState);
    const full = classificationGrads(m, params, a, x, y, 'train');
    const micro = classificationGrads(m, params, b, x, y, 'train', 2);
    // Per-micro-batch normalisation changes the loss.
    expect(Math.abs(micro.value.dataSync()[0]! - full.value.dataSync()[0]!)).toBeGreaterThan(1e-4);
    // Two updates: running = 0.9·(0.1·μ₁) + 0.1·μ₂ with μ₁, μ₂ the halves' stem means.
    const half = (s: number) =>
      tf.tidy(() => tf.mean(tf.conv2d(tf.slice(x, [s, 0, 0, 0], [2, 32, 32, 3]), params['conv1.weight'] as tf.Tensor4D, 1, 'same'), [0, 1, 2]).dataSync());
    const m1 = half(0), m2 = half(2);
    read(b, 'layer1.0.bn1').forEach((v, i) => expect(v).toBeCloseTo(0.09 * m1[i]! + 0.1 * m2[i]!, 5));
    a.dispose();
    b.dispose();
    disposeState(params);
  });
});
