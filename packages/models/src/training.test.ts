import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@samrank/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchNormStateStore } from './bn-state.js';
import { disposeState } from './init.js';
import { preActResNet18 } from './resnet.js';
import { mlp } from './mlp.js';
import { classificationLoss, valueAndGrads } from './training.js';

beforeAll(async () => {
  tf.enableProdMode();
  await setupBackend({ backend: 'cpu', quiet: true });
});

const read = (store: BatchNormStateStore, name: string) => Array.from(store.state[name]!.mean.dataSync());

describe('BatchNorm modes in loss closures', () => {
  it("'train' moves running statistics on every call, 'train-frozen' and 'eval' do not", () => {
    const m = preActResNet18({ width: 2 });
    const { params, state } = m.init(0);
    const store = new BatchNormStateStore(state);
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

  it('takes any Model: a stateless MLP classifier (empty state, modes differ only in the training flag)', () => {
    const net = mlp({ inputDim: 4, hiddenDims: [6], outputDim: 3 });
    const { params, state } = net.init(2);
    const store = new BatchNormStateStore(state);
    const x = tf.randomNormal([5, 4], 0, 1, 'float32', 3);
    const y = tf.tensor1d([0, 1, 2, 1, 0], 'int32');
    const before = tf.memory().numTensors;
    const losses = (['train', 'train-frozen', 'eval'] as const).map((mode) =>
      tf.tidy(() => classificationLoss(net, params, store, x, y, mode)().dataSync()[0]!),
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(new Set(losses).size).toBe(1);
    expect(store.state).toEqual({});
    store.dispose();
    disposeState(params);
    tf.dispose([x, y]);
  });
});

describe('valueAndGrads', () => {
  it('gives unreached parameters a zero gradient, keyed by record name', () => {
    const a = tf.variable(tf.scalar(2));
    const b = tf.variable(tf.tensor1d([1, 2]));
    const r = valueAndGrads({ a, b }, () => tf.square(a));
    expect(r.value.dataSync()[0]).toBe(4);
    expect(r.grads['a']!.dataSync()[0]).toBe(4);
    expect(Array.from(r.grads['b']!.dataSync())).toEqual([0, 0]);
    tf.dispose([a, b, r.value, ...Object.values(r.grads)]);
  });

  it('skips non-trainable variables', () => {
    const a = tf.variable(tf.scalar(3));
    const frozen = tf.variable(tf.scalar(5), false);
    const r = valueAndGrads({ a, frozen }, () => tf.mul(a, frozen) as tf.Scalar);
    expect(Object.keys(r.grads)).toEqual(['a']);
    expect(r.grads['a']!.dataSync()[0]).toBe(5);
    tf.dispose([a, frozen, r.value, ...Object.values(r.grads)]);
  });
});
