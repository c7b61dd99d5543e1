import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerTrainingKernels } from './register-kernels.js';
import { normal } from '../test/backend-support.js';

describe('wasm Identity as an alias', () => {
  beforeAll(async () => {
    registerTrainingKernels('wasm');
    await tf.setBackend('wasm');
  });

  it('clones share data, survive disposal of the original, and release it last', async () => {
    const x = normal([64, 64], 1);
    const values = Array.from(await x.data());
    const ids = tf.backend().numDataIds();
    const y = tf.clone(x);
    expect(y.dataId).toBe(x.dataId);
    expect(tf.backend().numDataIds()).toBe(ids);
    x.dispose();
    expect(Array.from(await y.data())).toEqual(values);
    y.dispose();
    expect(tf.backend().numDataIds()).toBe(ids - 1);
  });

  it('saving tensors for the gradient no longer copies them', async () => {
    const x = normal([32, 8, 8, 4], 2);
    const added: number[] = [];
    const g = tf.grad((a: tf.Tensor) => {
      const before = tf.backend().numDataIds();
      const y = tf.relu(a); // saves its input for the gradient: the engine clones it
      added.push(tf.backend().numDataIds() - before);
      return tf.sum(y);
    })(x);
    expect(added).toEqual([1]); // only relu's output; the stock wasm Identity would add a copy of x
    tf.dispose([g, x]);
  });
});
