import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchNormTrain } from '../layers.js';
import { BATCH_NORM_GRAD_KERNEL, CHANNEL_MOMENTS_KERNEL } from './batchnorm-wasm.js';
import { KernelArgumentError } from './errors.js';
import { registerTrainingKernels } from './register-kernels.js';
import { normal, relativeError } from '../../test/backend-support.js';

/** Runs `fn` on `backend` inside tidy and returns the values of every tensor it returns. */
async function allOn(backend: string, fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(fn);
  const values = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(outs);
  return values;
}

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

/** dx, dγ, dβ of BatchNorm(+ReLU) in float64 from the saved x, mean, scale s = γ·rstd, rstd and the mask y > 0. */
function bnBackwardReference(x: ArrayLike<number>, dy: ArrayLike<number>, y: ArrayLike<number> | null, mean: ArrayLike<number>, s: ArrayLike<number>, rstd: ArrayLike<number>, c: number) {
  const rows = x.length / c;
  const dm = Array.from(dy, (v, i) => (y && !(y[i]! > 0) ? 0 : v));
  const dBeta = new Float64Array(c);
  const dGamma = new Float64Array(c);
  for (let i = 0; i < x.length; i++) {
    const ch = i % c;
    dBeta[ch] = dBeta[ch]! + dm[i]!;
    dGamma[ch] = dGamma[ch]! + dm[i]! * (x[i]! - mean[ch]!) * rstd[ch]!;
  }
  const dx = Array.from(x, (v, i) => {
    const ch = i % c;
    const xhat = (v - mean[ch]!) * rstd[ch]!;
    return s[ch]! * (dm[i]! - (dBeta[ch]! + xhat * dGamma[ch]!) / rows);
  });
  return { dx, dGamma, dBeta };
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

describe('BatchNorm wasm kernels', () => {
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
    it(`moments of [${shape}] equal the two-pass float64 statistics`, async () => {
      const { x } = inputs(shape);
      const [mean, variance] = await allOn('wasm', () => tf.engine().runKernel(CHANNEL_MOMENTS_KERNEL, { x }) as unknown as tf.Tensor[]);
      const values = x.dataSync();
      const c = shape[3];
      const rows = values.length / c;
      for (let ch = 0; ch < c; ch++) {
        let m = 0;
        for (let r = 0; r < rows; r++) m += values[r * c + ch]!;
        m /= rows;
        let v = 0;
        for (let r = 0; r < rows; r++) v += (values[r * c + ch]! - m) ** 2;
        v /= rows;
        expect(Math.abs(mean![ch]! - m)).toBeLessThan(1e-6 * (1 + Math.abs(m)));
        expect(Math.abs(variance![ch]! - v) / v).toBeLessThan(1e-6);
      }
    });

    it(`the gradient kernel on [${shape}] equals a float64 reference, with and without the ReLU mask`, async () => {
      const c = shape[3];
      const { x, dy, gamma } = inputs(shape);
      const mean = tf.mean(x, [0, 1, 2]);
      const rstd = tf.rsqrt(tf.add(tf.moments(x, [0, 1, 2]).variance, 1e-5));
      const scale = tf.mul(gamma, rstd);
      const y = tf.relu(tf.mul(tf.sub(x, mean), scale)); // exact zeros where the mask is off
      for (const relu of [false, true]) {
        const [dx, dGamma, dBeta] = await allOn('wasm', () => tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, { dy, x, y, mean, scale, rstd }, { relu }) as unknown as tf.Tensor[]);
        const ref = bnBackwardReference(x.dataSync(), dy.dataSync(), relu ? y.dataSync() : null, mean.dataSync(), scale.dataSync(), rstd.dataSync(), c);
        expect(relativeError(dBeta!, ref.dBeta)).toBeLessThan(1e-5);
        expect(relativeError(dGamma!, ref.dGamma)).toBeLessThan(1e-5);
        expect(relativeError(dx!, ref.dx)).toBeLessThan(1e-5);
      }
    });

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

  it('channel counts that are not a multiple of 4 use the composition; the kernels refuse them with a typed error', async () => {
    const cpu = await allOn('cpu', () => bnValueAndGrads([3, 4, 5, 6], true));
    const wasm = await allOn('wasm', () => bnValueAndGrads([3, 4, 5, 6], true));
    for (let i = 0; i < cpu.length; i++) expect(relativeError(wasm[i]!, cpu[i]!)).toBeLessThan(2e-5);
    await tf.setBackend('wasm');
    const x = tf.zeros([2, 2, 2, 6]);
    expect(() => tf.engine().runKernel(CHANNEL_MOMENTS_KERNEL, { x })).toThrow(KernelArgumentError);
    expect(() => tf.engine().runKernel(CHANNEL_MOMENTS_KERNEL, { x })).toThrow(/multiple of 4, got 6/);
    const x8 = tf.zeros([2, 2, 2, 8]);
    const v8 = tf.ones([8]);
    expect(() =>
      tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, { dy: tf.zeros([2, 2, 2, 4]), x: x8, y: x8, mean: v8, scale: v8, rstd: v8 }, { relu: true }),
    ).toThrow(/must have x's shape/);
    tf.dispose([x, x8, v8]);
  });
});
