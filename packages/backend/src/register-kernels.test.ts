import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { registerDoubleBackpropGradients } from './double-backprop.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelArgumentError } from './errors.js';
import { isOwn, KernelCalls, stockKernel } from './kernel-calls.js';
import { registerTrainingKernels, TRAINING_KERNELS } from './register-kernels.js';
import { normal, relativeError, valuesOn } from '../test/backend-support.js';

describe('registerTrainingKernels', () => {
  beforeAll(() => tf.enableProdMode());

  it('installs the listed kernels, keeps the stock ones reachable, and is idempotent', async () => {
    const first = registerTrainingKernels('wasm');
    const second = registerTrainingKernels('wasm');
    expect(first).toEqual([...TRAINING_KERNELS.wasm]);
    expect(second).toEqual(first);
    for (const name of first) expect(isOwn(tf.getKernel(name, 'wasm'))).toBe(true);
    // The captured stock kernel is the package's original, not this package's first replacement.
    expect(isOwn(stockKernel('BatchMatMul', 'wasm'))).toBe(false);
    expect(registerTrainingKernels('cpu')).toEqual([...TRAINING_KERNELS.cpu]);
    expect(registerTrainingKernels('webgl')).toEqual([]);
    // After two installs a transposed product still lands on XNNPACK and is right.
    const run = () => tf.matMul(normal([20, 30], 1), normal([40, 20], 2), true, true);
    expect(relativeError(await valuesOn('wasm', run), await valuesOn('cpu', run))).toBeLessThan(1e-5);
  });

  it('KernelCalls reports an unregistered kernel with a typed error', async () => {
    await tf.setBackend('wasm');
    const k = new KernelCalls(tf.backend(), 'wasm');
    expect(() => k.run('NoSuchKernel', {})).toThrow(KernelArgumentError);
    expect(() => k.runStock('NoSuchKernel', {})).toThrow(/stock kernel 'NoSuchKernel'/);
  });

  it('the gradient of a gradient norm through a conv net on wasm equals cpu (the kernels differentiate twice)', async () => {
    registerDoubleBackpropGradients();
    registerTrainingKernels('cpu');
    registerTrainingKernels('wasm');
    const run = () => {
      const x = normal([2, 6, 6, 3], 21) as tf.Tensor4D;
      const w1 = normal([3, 3, 3, 4], 22, 0.4) as tf.Tensor4D;
      const w2 = normal([4, 2], 23, 0.4) as tf.Tensor2D;
      const loss = (a: tf.Tensor) => {
        const h = tf.tanh(tf.conv2d(x, a as tf.Tensor4D, 2, 'same'));
        return tf.sum(tf.sigmoid(tf.matMul(tf.mean(h, [1, 2]), w2)));
      };
      // ∇ of ‖∇L‖² (double backprop through Conv2DBackpropFilter/Input, Tanh, Sigmoid and the Mean kernel).
      return tf.grad((a: tf.Tensor) => tf.sum(tf.square(tf.grad(loss)(a))) as tf.Scalar)(w1);
    };
    expect(relativeError(await valuesOn('wasm', run), await valuesOn('cpu', run))).toBeLessThan(1e-5);
  });
});
