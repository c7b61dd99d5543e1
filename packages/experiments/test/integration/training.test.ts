/**
 * @samrank/models' training closures under @samrank/optim's SAM: BatchNorm statistics in both passes, what
 * micro-batching (SAM's `microBatches`) does to a ResNet's BatchNorm, and no leaked tensors (or wasm heap data)
 * over many SGD/SAM steps with micro-batches, on @samrank/backend's kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@samrank/backend';
import { BatchNormStateStore, classificationLoss, createModel, disposeState, preActResNet18, resNet18 } from '@samrank/models';
import { SAM, sliceChunk } from '@samrank/optim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

beforeAll(async () => {
  tf.enableProdMode();
  await setupBackend({ backend: 'cpu', quiet: true });
});

const read = (store: BatchNormStateStore, name: string) => Array.from(store.state[name]!.mean.dataSync());

describe('BatchNorm modes under SAM', () => {
  it('SAM with BatchNorm in training mode updates running statistics in both passes (docs/paper-notes.md §5.4)', () => {
    const m = resNet18({ width: 2 });
    const x = tf.randomNormal([4, 32, 32, 3], 1, 2, 'float32', 2) as tf.Tensor4D;
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const runSam = (second: 'train' | 'train-frozen') => {
      const { params, state } = m.init(0);
      const store = new BatchNormStateStore(state);
      const stemMean = tf.tidy(() => tf.mean(tf.conv2d(x, params['conv1.weight'] as tf.Tensor4D, 1, 'same'), [0, 1, 2]).dataSync());
      const sam = new SAM(tf.train.sgd(0.01), { rho: 0.05 });
      const passes: string[] = [];
      sam.minimize(
        ({ pass }) => {
          passes.push(pass);
          return classificationLoss(m, params, store, x, y, pass === 'first' ? 'train' : second)();
        },
        false,
        Object.values(params),
      );
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

describe('micro-batching through SAM (ρ = 0: accumulated SGD)', () => {
  /** Parameters after one ρ = 0 step of `chunks` micro-batches, the running mean of `layer1.0.bn1` and the loss. */
  function oneStep(chunks: number, mode: 'train' | 'eval', batch: number, seed: number) {
    const m = createModel('preact-resnet18', { width: 2 });
    const { params, state } = m.init(4);
    const store = new BatchNormStateStore(state);
    const x = tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
    const y = tf.tensor1d(
      Array.from({ length: batch }, (_, i) => i % 10),
      'int32',
    );
    // Stem output means of the two halves of the batch at the initial weights (what BatchNorm sees in the step).
    const half = (start: number) =>
      tf.tidy(() =>
        tf
          .mean(
            tf.conv2d(tf.slice(x, [start, 0, 0, 0], [batch / 2, 32, 32, 3]), params['conv1.weight'] as tf.Tensor4D, 1, 'same'),
            [0, 1, 2],
          )
          .dataSync(),
      );
    const halves = [half(0), half(batch / 2)];
    const sam = new SAM(tf.train.sgd(0.1), { rho: 0, microBatches: chunks });
    const loss = sam.minimize(
      (c) => classificationLoss(m, params, store, sliceChunk(x, c), sliceChunk(y, c), mode)(),
      true,
      Object.values(params),
    )!;
    const out = {
      params: Object.fromEntries(Object.entries(params).map(([n, v]) => [n, Array.from(v.dataSync())])),
      runningMean: read(store, 'layer1.0.bn1'),
      loss: loss.dataSync()[0]!,
      halves,
    };
    return {
      ...out,
      dispose: () => {
        sam.dispose();
        store.dispose();
        disposeState(params);
        tf.dispose([x, y, loss]);
      },
    };
  }

  it('in eval mode (no batch statistics) equal micro-batches give the full-batch step', () => {
    const full = oneStep(1, 'eval', 6, 5);
    const micro = oneStep(3, 'eval', 6, 5);
    expect(micro.loss).toBeCloseTo(full.loss, 5);
    for (const [name, a] of Object.entries(full.params)) {
      const b = micro.params[name]!;
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < a.length; i++) {
        worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
        scale = Math.max(scale, Math.abs(a[i]!));
      }
      expect(worst, name).toBeLessThanOrEqual(1e-5 * scale + 1e-7);
    }
    full.dispose();
    micro.dispose();
  });

  it("in 'train' mode each micro-batch uses its own statistics and updates the running ones once per micro-batch", () => {
    const full = oneStep(1, 'train', 4, 6);
    const micro = oneStep(2, 'train', 4, 6);
    // Per-micro-batch normalisation changes the loss.
    expect(Math.abs(micro.loss - full.loss)).toBeGreaterThan(1e-4);
    // Two updates: running = 0.9·(0.1·μ₁) + 0.1·μ₂ with μ₁, μ₂ the halves' stem means.
    const [m1, m2] = micro.halves as [Float32Array, Float32Array];
    micro.runningMean.forEach((v, i) => expect(v).toBeCloseTo(0.09 * m1[i]! + 0.1 * m2[i]!, 5));
    full.dispose();
    micro.dispose();
  });
});

/**
 * 50 alternating SGD and SAM steps with micro-batches and BatchNorm updates; returns the kernel names of one
 * SAM step and checks that the live tensors (and, with `heap`, the backend's data ids) do not change.
 */
async function fiftySteps(opts: {
  width: number;
  batch: number;
  micro: number;
  samMicroBatches: boolean;
  heap: boolean;
}): Promise<Set<string>> {
  const { width, batch, micro } = opts;
  const m = preActResNet18({ width, numClasses: 4 });
  const { params, state } = m.init(1);
  const store = new BatchNormStateStore(state);
  // SGD with momentum over micro-batches of `micro` examples: SAM with ρ = 0 is accumulated SGD.
  const sgd = new SAM(tf.train.momentum(0.01, 0.9), { rho: 0, microBatches: batch / micro });
  const chunks = opts.samMicroBatches ? batch / micro : 1;
  const sam = new SAM(tf.train.sgd(0.01), { rho: 0.05, weightDecay: 5e-4, microBatches: chunks });
  const x = tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const y = tf.tensor1d(
    Array.from({ length: batch }, (_, i) => (3 * i) % 4),
    'int32',
  );
  const vars = Object.values(params);
  const step = (i: number) => {
    if (i % 2 === 0) {
      sgd.minimize((c) => classificationLoss(m, params, store, sliceChunk(x, c), sliceChunk(y, c), 'train')(), false, vars);
    } else if (opts.samMicroBatches) {
      sam.minimize((c) => classificationLoss(m, params, store, sliceChunk(x, c), sliceChunk(y, c), 'train')(), false, vars);
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

  it("numTensors and the heap's data ids unchanged across 50 SGD/SAM steps at width 8 (channel counts the own kernels take)", async () => {
    const names = await fiftySteps({ width: 8, batch: 4, micro: 2, samMicroBatches: true, heap: true });
    for (const kernel of [
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'SamrankChannelMoments',
      'SamrankBatchNormGrad',
      'SamrankScaleShift',
    ]) {
      expect(names.has(kernel)).toBe(true);
    }
  }, 120_000);
});
