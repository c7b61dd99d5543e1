import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { leadingAxes } from './reduce-kernels.js';
import { registerTrainingKernels } from './register-kernels.js';
import { normal, relativeError, valuesOn } from '../test/backend-support.js';

describe('wasm Sum/Mean over leading axes', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    registerTrainingKernels('wasm');
    await tf.setBackend('wasm');
  });

  it('recognises leading-axis reductions only', () => {
    expect(leadingAxes([0, 1, 2], 4)).toBe(3);
    expect(leadingAxes([2, 0, 1], 4)).toBe(3);
    expect(leadingAxes([0], 2)).toBe(1);
    expect(leadingAxes([0, 1, 2, 3], 4)).toBe(0); // full reduction: stock
    expect(leadingAxes([1, 2], 4)).toBe(0);
    expect(leadingAxes([3], 4)).toBe(0);
  });

  const cases: { shape: number[]; axis: number[]; keepDims: boolean }[] = [
    { shape: [8, 9, 7, 12], axis: [0, 1, 2], keepDims: false },
    { shape: [8, 9, 7, 12], axis: [0, 1, 2], keepDims: true },
    { shape: [300, 17], axis: [0], keepDims: false },
    { shape: [64, 32, 32, 4], axis: [0, 1, 2], keepDims: false }, // 65536 rows: float32 accumulation error
    { shape: [5, 40, 33], axis: [1, 0], keepDims: true },
    { shape: [8, 9, 7, 12], axis: [1, 2], keepDims: false }, // not leading: stock path
    { shape: [8, 9, 7, 12], axis: [3], keepDims: false },
  ];
  for (const c of cases) {
    for (const op of ['sum', 'mean'] as const) {
      it(`${op} of [${c.shape}] over [${c.axis}] keepDims=${c.keepDims} equals cpu`, async () => {
        const run = () => (op === 'sum' ? tf.sum : tf.mean)(tf.add(normal(c.shape, 1), 0.5), c.axis, c.keepDims);
        const cpuShape = tf.tidy(() => {
          const r = run();
          return r.shape;
        });
        const expected = await valuesOn('cpu', run);
        await tf.setBackend('wasm');
        const out = tf.tidy(run);
        expect(out.shape).toEqual(cpuShape);
        expect(relativeError(await out.data(), expected)).toBeLessThan(1e-5);
        out.dispose();
      });
    }
  }

  it('BatchNorm statistics and their gradients on wasm equal cpu and leak nothing', async () => {
    const run = () => {
      const x = normal([16, 8, 8, 6], 3);
      const g = tf.grad((v: tf.Tensor) => {
        const { mean, variance } = tf.moments(v, [0, 1, 2]);
        return tf.sum(tf.mul(tf.div(tf.sub(v, mean), tf.sqrt(tf.add(variance, 1e-5))), normal([6], 4)));
      })(x);
      return g;
    };
    expect(relativeError(await valuesOn('wasm', run), await valuesOn('cpu', run))).toBeLessThan(1e-4);
    await tf.setBackend('wasm');
    tf.tidy(run).dispose();
    const before = [tf.memory().numTensors, tf.backend().numDataIds()];
    for (let i = 0; i < 10; i++) tf.tidy(run).dispose();
    expect([tf.memory().numTensors, tf.backend().numDataIds()]).toEqual(before);
  });
});
