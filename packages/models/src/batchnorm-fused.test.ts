/**
 * The fused training-mode BatchNorm of layers.ts on the wasm kernels of @samrank/backend: same values and
 * gradients as the tfjs composition on cpu, the kernels actually run, nothing leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { BATCH_NORM_GRAD_KERNEL, CHANNEL_MOMENTS_KERNEL, registerTrainingKernels } from '@samrank/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchNormTrain } from './layers.js';

/** Runs `fn` on `backend` inside tidy and returns the values of every tensor it returns. */
async function allOn(backend: string, fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(fn);
  const values = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(outs);
  return values;
}

/** max |a − b| / max |b|. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

const normal = (shape: number[], seed: number, std = 1) => tf.randomNormal(shape, 0, std, 'float32', seed);

/** γ, β and an input with per-channel offsets (so centring matters) and a few exact zeros after the ReLU. */
function inputs(shape: [number, number, number, number]) {
  const c = shape[3];
  const offsets = tf.linspace(-3, 40, c);
  return {
    x: tf.add(tf.mul(normal(shape, 11), 2), offsets) as tf.Tensor4D,
    dy: normal(shape, 12),
    gamma: tf.add(normal([c], 13, 0.5), 1) as tf.Tensor1D,
    beta: normal([c], 14, 0.3) as tf.Tensor1D,
  };
}

/** Outputs and gradients of the fused training-mode BatchNorm (values, then dx, dγ, dβ). */
function bnValueAndGrads(shape: [number, number, number, number], relu: boolean): tf.Tensor[] {
  return tf.tidy(() => valueAndGrads(shape, relu));
}

function valueAndGrads(shape: [number, number, number, number], relu: boolean): tf.Tensor[] {
  const { x, dy, gamma, beta } = inputs(shape);
  const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(batchNormTrain(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, null, undefined, false, relu).y, dy));
  const { value, grads } = tf.valueAndGrads(f)([x, gamma, beta]);
  const y = batchNormTrain(x, gamma, beta, null, undefined, false, relu).y;
  return [value, y, ...grads];
}

describe('fused BatchNorm on the wasm kernels', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    registerTrainingKernels('wasm');
    await tf.setBackend('cpu');
  });

  for (const shape of [
    [2, 3, 5, 4],
    [5, 7, 3, 16],
    [128, 8, 8, 32], // more rows than one 64-row block and one 4096-row call
  ] as [number, number, number, number][]) {
    it(`fused BatchNorm on [${shape}]: value, output and dx, dγ, dβ on wasm equal the cpu composition`, async () => {
      const cpu = await allOn('cpu', () => bnValueAndGrads(shape, false));
      const wasm = await allOn('wasm', () => bnValueAndGrads(shape, false));
      // dγ of the composition carries Σdy·x − μ·Σdy's cancellation; the kernel sums dy·(x − μ).
      for (let i = 0; i < cpu.length; i++) expect(relativeError(wasm[i]!, cpu[i]!)).toBeLessThan(1e-4);
    });
  }

  it('fused BatchNorm+ReLU on wasm equals the cpu composition (small batch, no pre-activation near the kink)', async () => {
    const cpu = await allOn('cpu', () => bnValueAndGrads([2, 3, 5, 4], true));
    const wasm = await allOn('wasm', () => bnValueAndGrads([2, 3, 5, 4], true));
    for (let i = 0; i < cpu.length; i++) expect(relativeError(wasm[i]!, cpu[i]!)).toBeLessThan(2e-5);
  });

  it('is what the fused BatchNorm runs on wasm (and nothing leaks)', async () => {
    await tf.setBackend('wasm');
    const shape: [number, number, number, number] = [4, 6, 6, 8];
    const profile = await tf.profile(() => {
      tf.dispose(bnValueAndGrads(shape, true));
    });
    // Both kernels ran (the profile lists kernels, so the fused BatchNorm did not fall back to tfjs ops).
    const names = profile.kernels.map((k) => k.name);
    expect(names).toContain(CHANNEL_MOMENTS_KERNEL);
    expect(names).toContain(BATCH_NORM_GRAD_KERNEL);
    bnValueAndGrads(shape, true).forEach((t) => t.dispose());
    const tensors = tf.memory().numTensors;
    const ids = tf.backend().numDataIds();
    for (let i = 0; i < 5; i++) tf.dispose(bnValueAndGrads(shape, true));
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(ids);
  });

  it('channel counts that are not a multiple of 4 use the composition', async () => {
    const cpu = await allOn('cpu', () => bnValueAndGrads([3, 4, 5, 6], true));
    const wasm = await allOn('wasm', () => bnValueAndGrads([3, 4, 5, 6], true));
    for (let i = 0; i < cpu.length; i++) expect(relativeError(wasm[i]!, cpu[i]!)).toBeLessThan(2e-5);
  });
});
