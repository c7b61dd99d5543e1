import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelArgumentError } from './errors.js';
import { conv2DBackpropInputVia } from './conv-kernels.js';
import { KernelCalls, stockKernel } from './kernel-calls.js';
import { registerTrainingKernels } from './register-kernels.js';
import {
  type ConvCase,
  type ConvPad,
  convCaseLabel,
  convShapes,
  normal,
  relativeError,
  stockCpu,
  valuesOn,
} from '../test/backend-support.js';

const cases: ConvCase[] = [];
for (const stride of [1, 2]) {
  for (const pad of [
    'same',
    'valid',
    1,
    [
      [0, 0],
      [2, 1],
      [0, 2],
      [0, 0],
    ],
  ] as ConvPad[]) {
    for (const k of [1, 3, 5]) {
      if (k === 1 && typeof pad !== 'string') continue; // explicit pads beyond a 1×1 filter are legal but pointless
      cases.push({ n: 2, h: 9, w: 7, c: 3, co: 4, k, stride, pad });
    }
  }
}
cases.push({ n: 3, h: 8, w: 8, c: 5, co: 2, k: 3, stride: 2, pad: 'same' }); // even size, stride 2
cases.push({ n: 1, h: 11, w: 6, c: 2, co: 3, k: 5, stride: 2, pad: 'valid' }); // trailing rows ignored
cases.push({ n: 2, h: 11, w: 10, c: 3, co: 4, k: 5, stride: 3, pad: 'same' }); // stride 3: nine phases
cases.push({ n: 2, h: 10, w: 9, c: 3, co: 4, k: 2, stride: 3, pad: 'valid' }); // filter smaller than the stride: empty phases

describe('Conv2D gradient kernels', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    registerTrainingKernels('wasm');
    registerTrainingKernels('cpu');
    await tf.setBackend('cpu');
  });

  for (const c of cases) {
    const { xShape, fShape, dyShape: outShape } = convShapes(c);

    it(`Conv2DBackpropFilter ${convCaseLabel(c)}: wasm and fast cpu equal the stock cpu kernel`, async () => {
      await tf.setBackend('cpu');
      const dyShape = outShape();
      const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', filterShape: fShape };
      const reference = await valuesOn('cpu', () =>
        stockCpu('Conv2DBackpropFilter', { x: normal(xShape, 1), dy: normal(dyShape, 2) }, attrs),
      );
      const run = () =>
        tf.engine().runKernel('Conv2DBackpropFilter', { x: normal(xShape, 1), dy: normal(dyShape, 2) }, attrs as never) as tf.Tensor;
      expect(relativeError(await valuesOn('wasm', run), reference)).toBeLessThan(1e-5);
      expect(relativeError(await valuesOn('cpu', run), reference)).toBeLessThan(1e-5);
    });

    it(`Conv2DBackpropInput ${convCaseLabel(c)}: wasm equals the cpu kernel`, async () => {
      await tf.setBackend('cpu');
      const dyShape = outShape();
      const run = () =>
        tf.conv2dTranspose(normal(dyShape, 3) as tf.Tensor4D, normal(fShape, 4) as tf.Tensor4D, xShape as never, c.stride, c.pad as never);
      const reference = await valuesOn('cpu', run);
      expect(relativeError(await valuesOn('wasm', run), reference)).toBeLessThan(1e-5);
    });

    if (c.stride > 1) {
      for (const mode of ['phases', 'dilate'] as const) {
        it(`Conv2DBackpropInput ${convCaseLabel(c)} via ${mode}: equals the cpu kernel`, async () => {
          await tf.setBackend('cpu');
          const dyShape = outShape();
          const reference = await valuesOn('cpu', () =>
            tf.conv2dTranspose(normal(dyShape, 3) as tf.Tensor4D, normal(fShape, 4) as tf.Tensor4D, xShape, c.stride, c.pad as never),
          );
          const got = await valuesOn('wasm', () => {
            const k = new KernelCalls(tf.backend(), 'wasm');
            const attrs = {
              strides: [c.stride, c.stride] as [number, number],
              pad: c.pad as never,
              dataFormat: 'NHWC' as const,
              inputShape: xShape,
            };
            const info = conv2DBackpropInputVia(k, normal(dyShape, 3), normal(fShape, 4), attrs, mode);
            if (!info) throw new Error('no result');
            return tf.engine().makeTensorFromTensorInfo(info);
          });
          expect(relativeError(got, reference)).toBeLessThan(1e-5);
        });
      }
    }
  }

  it('handles NCHW tensors on the cpu filter gradient', async () => {
    await tf.setBackend('cpu');
    const attrs = { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 4] };
    const x = () => normal([2, 3, 9, 7], 5);
    const dy = () => normal([2, 4, 5, 4], 6);
    const reference = await valuesOn('cpu', () => stockCpu('Conv2DBackpropFilter', { x: x(), dy: dy() }, attrs));
    const ours = await valuesOn(
      'cpu',
      () => tf.engine().runKernel('Conv2DBackpropFilter', { x: x(), dy: dy() }, attrs as never) as tf.Tensor,
    );
    expect(relativeError(ours, reference)).toBeLessThan(1e-5);
  });

  it('rejects a dy whose shape does not match the convolution', async () => {
    await tf.setBackend('wasm');
    const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 4] };
    expect(() =>
      tf.tidy(() =>
        tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.zeros([1, 5, 5, 3]), dy: tf.zeros([1, 4, 4, 4]) }, attrs as never),
      ),
    ).toThrow(KernelArgumentError);
  });

  it('keeps the cpu stock kernel reachable and registers the replacement for both backends', () => {
    expect(stockKernel('Conv2DBackpropFilter', 'cpu')).toBeDefined();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('leaks neither tensors nor wasm buffers across repeated calls', async () => {
    await tf.setBackend('wasm');
    const x = normal([2, 9, 9, 3], 7) as tf.Tensor4D;
    const w = normal([3, 3, 3, 4], 8) as tf.Tensor4D;
    const step = () =>
      tf.tidy(() => {
        const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))),
        )([x, w]);
        return tf.add(tf.sum(gx!), tf.sum(gw!));
      });
    step().dispose();
    const tensors = tf.memory().numTensors;
    const dataIds = tf.backend().numDataIds();
    for (let i = 0; i < 20; i++) step().dispose();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(dataIds);
    // The phase split of strided input gradients (chosen automatically for large layers) leaks nothing either.
    const dy = normal([2, 5, 5, 4], 9);
    for (const round of [0, 1]) {
      const before = tf.backend().numDataIds();
      for (let i = 0; i < 5; i++) {
        const info = conv2DBackpropInputVia(
          new KernelCalls(tf.backend(), 'wasm'),
          dy,
          w,
          { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', inputShape: [2, 9, 9, 3] },
          'phases',
        );
        tf.backend().disposeData(info!.dataId);
      }
      if (round === 1) expect(tf.backend().numDataIds()).toBe(before);
    }
    tf.dispose([x, w, dy]);
  });
});
