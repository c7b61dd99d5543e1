import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { BATCH_NORM_GRAD_KERNEL, CHANNEL_MOMENTS_KERNEL } from './batchnorm-wasm.js';
import { KernelArgumentError } from './errors.js';
import { registerTrainingKernels } from './register-kernels.js';
import { normal, relativeError } from '../test/backend-support.js';

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
function bnBackwardReference(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  y: ArrayLike<number> | null,
  mean: ArrayLike<number>,
  s: ArrayLike<number>,
  rstd: ArrayLike<number>,
  c: number,
) {
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
        const [dx, dGamma, dBeta] = await allOn(
          'wasm',
          () => tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, { dy, x, y, mean, scale, rstd }, { relu }) as unknown as tf.Tensor[],
        );
        const ref = bnBackwardReference(
          x.dataSync(),
          dy.dataSync(),
          relu ? y.dataSync() : null,
          mean.dataSync(),
          scale.dataSync(),
          rstd.dataSync(),
          c,
        );
        expect(relativeError(dBeta!, ref.dBeta)).toBeLessThan(1e-5);
        expect(relativeError(dGamma!, ref.dGamma)).toBeLessThan(1e-5);
        expect(relativeError(dx!, ref.dx)).toBeLessThan(1e-5);
      }
    });
  }

  it('the kernels refuse channel counts that are not a multiple of 4 and mismatched shapes with a typed error', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([2, 2, 2, 6]);
    expect(() => tf.engine().runKernel(CHANNEL_MOMENTS_KERNEL, { x })).toThrow(KernelArgumentError);
    expect(() => tf.engine().runKernel(CHANNEL_MOMENTS_KERNEL, { x })).toThrow(/multiple of 4, got 6/);
    const x8 = tf.zeros([2, 2, 2, 8]);
    const v8 = tf.ones([8]);
    expect(() =>
      tf
        .engine()
        .runKernel(BATCH_NORM_GRAD_KERNEL, { dy: tf.zeros([2, 2, 2, 4]), x: x8, y: x8, mean: v8, scale: v8, rstd: v8 }, { relu: true }),
    ).toThrow(/must have x's shape/);
    tf.dispose([x, x8, v8]);
  });
});
