import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { backend_util } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { wasmFilterGrad, wasmInputGrad } from './conv-grads-wasm.js';
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

// Channel counts the direct kernels take (dW: C % 4 == 0, Co % 8 == 0; dx: C % 8 == 0); odd sizes, every padding
// form, filters larger than the stride and smaller, maps large enough that row blocks cross image boundaries,
// and batches that are not multiples of the dx tile's four images.
const cases: ConvCase[] = [];
for (const stride of [1, 2, 3]) {
  for (const pad of [
    'same',
    'valid',
    2,
    [
      [0, 0],
      [2, 1],
      [0, 2],
      [0, 0],
    ],
  ] as ConvPad[]) {
    for (const k of [1, 3, 5]) {
      if (k === 1 && typeof pad !== 'string') continue;
      cases.push({ n: stride === 2 ? 5 : 2, h: 9, w: 7, c: 8, co: stride === 3 ? 12 : 8, k, stride, pad });
    }
  }
}
cases.push({ n: 3, h: 23, w: 21, c: 12, co: 24, k: 3, stride: 1, pad: 'same' }); // blocks span images
cases.push({ n: 5, h: 4, w: 4, c: 8, co: 16, k: 3, stride: 1, pad: 'same' }); // 4×4 maps: 16 images per block
cases.push({ n: 2, h: 16, w: 16, c: 16, co: 32, k: 1, stride: 2, pad: 'valid' }); // ResNet shortcut
cases.push({ n: 2, h: 11, w: 6, c: 8, co: 8, k: 5, stride: 2, pad: 'valid' }); // trailing rows ignored
cases.push({ n: 3, h: 6, w: 7, c: 8, co: 16, k: 1, stride: 1, pad: 1 }); // pad beyond a 1×1 filter
cases.push({ n: 1, h: 7, w: 7, c: 4, co: 8, k: 3, stride: 2, pad: 'same' }); // C = 4: dW splits output channels

function geometry(xShape: [number, number, number, number], co: number, k: number, stride: number, pad: ConvPad) {
  const info = backend_util.computeConv2DInfo(xShape, [k, k, xShape[3], co], stride, 1, pad as never, undefined, false, 'channelsLast');
  return { kh: k, kw: k, strideHeight: info.strideHeight, strideWidth: info.strideWidth, top: info.padInfo.top, left: info.padInfo.left };
}

/** The direct kernels alone (no fallback), so a case that silently took the other path fails. */
function direct(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, stride: number, pad: ConvPad): tf.Tensor {
  const out = wasmFilterGrad(tf.backend(), x, dy, geometry(x.shape, dy.shape[3], k, stride, pad));
  if (!out) throw new Error('the direct kernel declined a supported case');
  return tf.engine().makeTensorFromTensorInfo(out);
}

function directDx(dy: tf.Tensor4D, filter: tf.Tensor4D, xShape: [number, number, number, number], stride: number, pad: ConvPad): tf.Tensor {
  const [k, , , co] = filter.shape;
  const filterT = tf.transpose(filter, [0, 1, 3, 2]);
  const out = wasmInputGrad(tf.backend(), dy, filterT, xShape, geometry(xShape, co, k, stride, pad));
  if (!out) throw new Error('the direct kernel declined a supported case');
  return tf.engine().makeTensorFromTensorInfo(out);
}

describe('direct wasm convolution gradient kernels', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    registerTrainingKernels('wasm');
    await tf.setBackend('cpu');
  });

  for (const c of cases) {
    const { xShape, fShape, dyShape } = convShapes(c);

    if (c.co % 8 === 0) {
      it(`dW ${convCaseLabel(c)}: equals the stock cpu kernel`, async () => {
        await tf.setBackend('cpu');
        const dys = dyShape();
        const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', filterShape: fShape };
        const reference = await valuesOn('cpu', () =>
          stockCpu('Conv2DBackpropFilter', { x: normal(xShape, 1), dy: normal(dys, 2) }, attrs),
        );
        const got = await valuesOn('wasm', () =>
          direct(normal(xShape, 1) as tf.Tensor4D, normal(dys, 2) as tf.Tensor4D, c.k, c.stride, c.pad),
        );
        expect(relativeError(got, reference)).toBeLessThan(1e-5);
        // The registered kernel takes the same path.
        const viaKernel = await valuesOn(
          'wasm',
          () => tf.engine().runKernel('Conv2DBackpropFilter', { x: normal(xShape, 1), dy: normal(dys, 2) }, attrs as never) as tf.Tensor,
        );
        expect(relativeError(viaKernel, reference)).toBeLessThan(1e-5);
      });
    }

    if (c.c % 8 === 0) {
      it(`dx ${convCaseLabel(c)}: equals the stock cpu kernel`, async () => {
        await tf.setBackend('cpu');
        const dys = dyShape();
        const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', inputShape: xShape };
        const reference = await valuesOn('cpu', () =>
          stockCpu('Conv2DBackpropInput', { dy: normal(dys, 3), filter: normal(fShape, 4) }, attrs),
        );
        const got = await valuesOn('wasm', () =>
          directDx(normal(dys, 3) as tf.Tensor4D, normal(fShape, 4) as tf.Tensor4D, xShape, c.stride, c.pad),
        );
        expect(relativeError(got, reference)).toBeLessThan(1e-5);
        const viaKernel = await valuesOn(
          'wasm',
          () =>
            tf.engine().runKernel('Conv2DBackpropInput', { dy: normal(dys, 3), filter: normal(fShape, 4) }, attrs as never) as tf.Tensor,
        );
        expect(relativeError(viaKernel, reference)).toBeLessThan(1e-5);
      });
    }
  }

  it('the registered filter gradient pads an RGB stem to four channels and equals the stock cpu kernel', async () => {
    await tf.setBackend('cpu');
    const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 16] };
    const reference = await valuesOn('cpu', () =>
      stockCpu('Conv2DBackpropFilter', { x: normal([6, 10, 9, 3], 1), dy: normal([6, 10, 9, 16], 2) }, attrs),
    );
    // With the wasm Conv2D kernel unregistered, the forward-convolution form could not run: only pad, the direct
    // kernel and slice can have produced the result.
    const conv2d = tf.getKernel('Conv2D', 'wasm')!;
    tf.unregisterKernel('Conv2D', 'wasm');
    try {
      const got = await valuesOn(
        'wasm',
        () =>
          tf
            .engine()
            .runKernel('Conv2DBackpropFilter', { x: normal([6, 10, 9, 3], 1), dy: normal([6, 10, 9, 16], 2) }, attrs as never) as tf.Tensor,
      );
      expect(relativeError(got, reference)).toBeLessThan(1e-5);
    } finally {
      tf.registerKernel(conv2d);
    }
  });

  it('declines channel counts they do not tile (the forward-convolution forms take them)', async () => {
    await tf.setBackend('wasm');
    const g = { kh: 3, kw: 3, strideHeight: 1, strideWidth: 1, top: 1, left: 1 };
    const x = tf.zeros([1, 5, 5, 3]);
    const dy = tf.zeros([1, 5, 5, 8]);
    const x4 = tf.zeros([1, 5, 5, 4]);
    const dy6 = tf.zeros([1, 5, 5, 6]);
    expect(wasmFilterGrad(tf.backend(), x, dy, g)).toBeNull();
    expect(wasmFilterGrad(tf.backend(), x4, dy6, g)).toBeNull();
    const wT = tf.zeros([3, 3, 8, 4]);
    expect(wasmInputGrad(tf.backend(), dy, wT, [1, 5, 5, 4], g)).toBeNull();
    tf.dispose([x, dy, x4, dy6, wT]);
  });

  it('reads the heap where tfjs keeps it after the heap grew, and leaks nothing', async () => {
    await tf.setBackend('wasm');
    const x = normal([2, 8, 8, 8], 5) as tf.Tensor4D;
    const dy = normal([2, 8, 8, 16], 6) as tf.Tensor4D;
    const first = direct(x, dy, 3, 1, 'same');
    const before = await first.array();
    first.dispose();
    // Force the wasm memory to grow (a fresh ArrayBuffer behind the same Memory) and run again.
    const memory = (tf.backend() as unknown as { wasm: { asm: { memory: { buffer: ArrayBuffer } } } }).wasm.asm.memory;
    const bufferBefore = memory.buffer;
    const big = tf.zeros([64 * 1024 * 1024]);
    expect(memory.buffer).not.toBe(bufferBefore);
    const after = tf.tidy(() => direct(x, dy, 3, 1, 'same'));
    expect(await after.array()).toEqual(before);
    after.dispose();
    big.dispose();
    const tensors = tf.memory().numTensors;
    const ids = tf.backend().numDataIds();
    for (let i = 0; i < 5; i++) {
      tf.tidy(() => {
        direct(x, dy, 3, 1, 'same');
      });
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(ids);
    tf.dispose([x, dy]);
  });
});
