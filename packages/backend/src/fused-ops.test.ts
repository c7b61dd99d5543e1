import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelArgumentError } from './errors.js';
import { scaleShift } from './fused-ops.js';
import { registerTrainingKernels } from './register-kernels.js';
import { normal, relativeError, valuesOn } from '../test/backend-support.js';

function plain(x: tf.Tensor4D, s: tf.Tensor1D, t: tf.Tensor1D, relu: boolean): tf.Tensor4D {
  const y = tf.add(tf.mul(x, s), t) as tf.Tensor4D;
  return relu ? tf.relu(y) : y;
}

describe('scaleShift (fused BatchNorm affine)', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    registerTrainingKernels('wasm');
    registerTrainingKernels('cpu');
  });

  // C = 6 takes the depthwise form on wasm, C = 8 the package's own SIMD pass (rows split in 64-row blocks: 300).
  for (const backend of ['wasm', 'cpu']) {
    for (const c of [6, 8]) {
      for (const relu of [false, true]) {
        it(`values and gradients equal x·s + t${relu ? ' + relu' : ''} on ${backend}, C = ${c}`, async () => {
          const run = (f: typeof plain) => () => {
            const x = normal([4, 25, 3, c], 1) as tf.Tensor4D;
            const s = normal([c], 2) as tf.Tensor1D;
            const t = normal([c], 3) as tf.Tensor1D;
            const w = normal([4, 25, 3, c], 4);
            const loss = (a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
              tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor1D, d as tf.Tensor1D, relu), w));
            const [gx, gs, gt] = tf.grads(loss)([x, s, t]);
            const y = f(x, s, t, relu);
            return tf.concat([y, gx!, gs!, gt!].map((v) => tf.reshape(v, [-1])));
          };
          expect(relativeError(await valuesOn(backend, run(scaleShift)), await valuesOn(backend, run(plain)))).toBeLessThan(1e-5);
        });
      }
    }
  }

  it('gradients flow through scale/shift computed from batch statistics (BatchNorm training)', async () => {
    const bn = (fused: boolean) => () => {
      const x = normal([8, 4, 4, 5], 5) as tf.Tensor4D;
      const gamma = normal([5], 6) as tf.Tensor1D;
      const beta = normal([5], 7) as tf.Tensor1D;
      const w = normal([8, 4, 4, 5], 8);
      const loss = (a: tf.Tensor, g: tf.Tensor) => {
        const { mean, variance } = tf.moments(a, [0, 1, 2]);
        const s = tf.mul(g, tf.rsqrt(tf.add(variance, 1e-5))) as tf.Tensor1D;
        const t = tf.sub(beta, tf.mul(mean, s)) as tf.Tensor1D;
        const y = fused ? scaleShift(a as tf.Tensor4D, s, t, true) : plain(a as tf.Tensor4D, s, t, true);
        return tf.sum(tf.mul(y, w));
      };
      const [gx, gg] = tf.grads(loss)([x, gamma]);
      return tf.concat([tf.reshape(gx!, [-1]), gg!]);
    };
    expect(relativeError(await valuesOn('wasm', bn(true)), await valuesOn('cpu', bn(false)))).toBeLessThan(1e-5);
  });

  it('can be differentiated twice (gradient of a gradient norm equals the plain ops)', async () => {
    const run = (f: typeof plain) => () => {
      const x = normal([3, 4, 4, 5], 12) as tf.Tensor4D;
      const s = normal([5], 13) as tf.Tensor1D;
      const t = normal([5], 14) as tf.Tensor1D;
      const w = normal([3, 4, 4, 5], 15);
      const inner = (a: tf.Tensor) => tf.sum(tf.mul(tf.square(f(a as tf.Tensor4D, s, t, true)), w));
      return tf.grad((a: tf.Tensor) => tf.sum(tf.square(tf.grad(inner)(a))) as tf.Scalar)(x);
    };
    expect(relativeError(await valuesOn('wasm', run(scaleShift)), await valuesOn('cpu', run(plain)))).toBeLessThan(1e-5);
  });

  it('runs as one kernel and saves no copies', async () => {
    await tf.setBackend('wasm');
    const x = normal([4, 6, 6, 8], 16) as tf.Tensor4D;
    const s = normal([8], 17) as tf.Tensor1D;
    const t = normal([8], 18) as tf.Tensor1D;
    const profile = await tf.profile(() => tf.grads((a: tf.Tensor) => tf.sum(scaleShift(a as tf.Tensor4D, s, t, true)))([x]));
    const names = profile.kernels.map((k) => k.name);
    expect(names.filter((n) => n === 'SamrankScaleShift')).toHaveLength(1);
    expect(names).not.toContain('Relu');
    tf.dispose([x, s, t]);
  });

  it('leaks no tensors across repeated training steps', async () => {
    await tf.setBackend('wasm');
    const x = normal([4, 6, 6, 8], 9) as tf.Tensor4D;
    const s = normal([8], 10) as tf.Tensor1D;
    const t = normal([8], 11) as tf.Tensor1D;
    const step = () =>
      tf.tidy(() =>
        tf.addN(
          tf
            .grads((a: tf.Tensor) => tf.sum(scaleShift(a as tf.Tensor4D, s, t, true)))([x])
            .map((g) => tf.sum(g)),
        ),
      );
    step().dispose();
    const before = [tf.memory().numTensors, tf.backend().numDataIds()];
    for (let i = 0; i < 20; i++) step().dispose();
    expect([tf.memory().numTensors, tf.backend().numDataIds()]).toEqual(before);
    tf.dispose([x, s, t]);
  });

  it('rejects mismatched scale/shift shapes', async () => {
    await tf.setBackend('cpu');
    expect(() =>
      tf.tidy(() => scaleShift(tf.zeros([1, 2, 2, 3]) as tf.Tensor4D, tf.ones([4]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D)),
    ).toThrow(KernelArgumentError);
  });
});
