/**
 * @samrank/models' training closures under @samrank/optim's SAM: BatchNorm statistics in both passes, and no
 * leaked tensors (or wasm heap data) over many SGD/SAM steps with micro-batches, on @samrank/backend's kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@samrank/backend';
import { BatchNormStateStore, classificationGrads, classificationLoss, disposeState, preActResNet18, resNet18, sliceBatch } from '@samrank/models';
import { SAM } from '@samrank/optim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

beforeAll(async () => {
  tf.enableProdMode();
  await setupBackend({ backend: 'cpu', quiet: true });
});

const read = (store: BatchNormStateStore, name: string) => Array.from(store.state[name]!.mean.dataSync());

describe('BatchNorm modes under SAM', () => {
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

describe("memory on wasm, through @samrank/backend's kernels", () => {
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

