import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@samrank/backend';
import { beforeAll, describe, expect, it } from 'vitest';
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
