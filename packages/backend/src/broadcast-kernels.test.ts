import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { isChannelVector } from './broadcast-kernels.js';
import { registerTrainingKernels } from './register-kernels.js';
import { normal, relativeError, valuesOn } from '../test/backend-support.js';

describe('wasm per-channel broadcasting Multiply/Add/Sub', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    registerTrainingKernels('wasm');
    await tf.setBackend('wasm');
  });

  it('recognises channel vectors only', () => {
    expect(isChannelVector([8, 16, 16, 6], [6])).toBe(true);
    expect(isChannelVector([8, 16, 16, 6], [1, 1, 1, 6])).toBe(true);
    expect(isChannelVector([800, 6], [1, 6])).toBe(true);
    expect(isChannelVector([8, 16, 16, 6], [16, 6])).toBe(false);
    expect(isChannelVector([8, 16, 16, 6], [])).toBe(false);
    expect(isChannelVector([2, 2, 2, 6], [6])).toBe(false); // too small to be worth it
  });

  const shapes: [number[], number[]][] = [
    [[8, 9, 7, 12], [12]],
    [
      [8, 9, 7, 12],
      [1, 1, 1, 12],
    ],
    [
      [700, 9],
      [1, 9],
    ],
    [[20, 30, 11], [11]],
    [
      [8, 9, 7, 12],
      [9, 1, 12],
    ], // not a channel vector: stock path
  ];
  for (const [big, small] of shapes) {
    for (const op of ['mul', 'add', 'sub'] as const) {
      for (const smallFirst of [false, true]) {
        it(`${op}(${smallFirst ? `[${small}], [${big}]` : `[${big}], [${small}]`}) equals cpu`, async () => {
          const run = () => {
            const x = normal(big, 1);
            const v = normal(small, 2);
            return smallFirst ? tf[op](v, x) : tf[op](x, v);
          };
          const expected = await valuesOn('cpu', run);
          await tf.setBackend('wasm');
          const out = tf.tidy(run);
          expect(out.shape).toEqual(tf.tidy(() => run().shape));
          expect(relativeError(await out.data(), expected)).toBeLessThan(1e-6);
          out.dispose();
        });
      }
    }
  }

  it('a channel vector that is a reshaped view of a matrix (an attention bias [heads, headDim] as [C]) adds and subtracts', async () => {
    for (const op of ['add', 'sub'] as const) {
      for (const smallFirst of [false, true]) {
        const run = () => {
          const x = normal([200, 3, 12], 5);
          const v = tf.reshape(normal([3, 4], 6), [12]);
          return smallFirst ? tf[op](v, x) : tf[op](x, v);
        };
        const expected = await valuesOn('cpu', run);
        await tf.setBackend('wasm');
        const out = tf.tidy(run);
        expect(relativeError(await out.data(), expected)).toBeLessThan(1e-6);
        out.dispose();
      }
    }
  });

  it('leaks no wasm buffers', async () => {
    await tf.setBackend('wasm');
    const x = normal([8, 9, 7, 12], 3);
    const v = normal([12], 4);
    const run = () => tf.tidy(() => tf.sum(tf.add(tf.sub(tf.mul(x, v), v), tf.mul(v, x))));
    run().dispose();
    const before = [tf.memory().numTensors, tf.backend().numDataIds()];
    for (let i = 0; i < 10; i++) run().dispose();
    expect([tf.memory().numTensors, tf.backend().numDataIds()]).toEqual(before);
    tf.dispose([x, v]);
  });
});
