import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { backend_util } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelArgumentError } from './errors.js';
import { registerTrainingKernels } from './register-kernels.js';
import { WINOGRAD_BLOCK, winogradApplies, winogradConv, winogradFilterGrad } from './winograd-wasm.js';
import {
  type Winograd3x3Case as Case,
  normal,
  relativeError,
  valuesOn,
  winograd3x3Reference as reference,
} from '../test/backend-support.js';

// Every tile on the border (4×4), non-square maps, a single tile, the fewest channels the kernels take, and
// more tiles than one block with a short last block (14×16: 280 tiles; also run with blocks of 4 and 12 below).
const cases: Case[] = [
  { n: 2, h: 4, w: 4, c: 4, k: 8 },
  { n: 3, h: 6, w: 10, c: 8, k: 16 },
  { n: 1, h: 2, w: 2, c: 12, k: 8 },
  { n: 5, h: 14, w: 16, c: 16, k: 24 },
  { n: 8, h: 16, w: 16, c: 32, k: 32 }, // ResNet-18 stage-2 channels: the transforms' rounding at 32 channels
];
const label = (c: Case) => `x [${c.n},${c.h},${c.w},${c.c}] → ${c.k}`;

const own = (info: tf.TensorInfo | null): tf.Tensor => {
  if (!info) throw new Error('the Winograd kernel declined a supported case');
  return tf.engine().makeTensorFromTensorInfo(info);
};

describe('Winograd F(2×2, 3×3) wasm kernels', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    registerTrainingKernels('wasm');
    await tf.setBackend('wasm');
  });

  for (const c of cases) {
    it(`${label(c)}: forward, input and filter gradient equal a float64 direct sum within 1e-5`, async () => {
      await tf.setBackend('wasm');
      const xs = [c.n, c.h, c.w, c.c];
      const fs = [3, 3, c.c, c.k];
      const ys = [c.n, c.h, c.w, c.k];
      const x = (await valuesOn('wasm', () => normal(xs, 1))) as Float32Array;
      const f = (await valuesOn('wasm', () => normal(fs, 2))) as Float32Array;
      const dy = (await valuesOn('wasm', () => normal(ys, 3))) as Float32Array;
      const ref = reference(c, x, f, dy);
      const be = () => tf.backend();
      const tiles = (c.n * c.h * c.w) / 4;
      for (const block of tiles > 3 * WINOGRAD_BLOCK ? [WINOGRAD_BLOCK, 4, 12] : [WINOGRAD_BLOCK]) {
        const y = await valuesOn('wasm', () => own(winogradConv(be(), normal(xs, 1), normal(fs, 2), false, block)));
        expect(relativeError(y, ref.y)).toBeLessThan(1e-5);
        const dw = await valuesOn('wasm', () => own(winogradFilterGrad(be(), normal(xs, 1), normal(ys, 3), block)));
        expect(relativeError(dw, ref.dw)).toBeLessThan(1e-5);
        if (c.c % 8 === 0) {
          // dx is the forward kernel on dy (c.k channels in) with the reversed filter (c.c channels out).
          const dx = await valuesOn('wasm', () => own(winogradConv(be(), normal(ys, 3), normal(fs, 2), true, block)));
          expect(relativeError(dx, ref.dx)).toBeLessThan(1e-5);
        }
      }
    });
  }

  it('the registered Conv2D and both gradient kernels take the Winograd path and equal the cpu backend', async () => {
    const c: Case = { n: 3, h: 8, w: 6, c: 8, k: 16 };
    const xs = [c.n, c.h, c.w, c.c];
    const fs = [3, 3, c.c, c.k];
    const loss = (x: tf.Tensor, f: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'), normal([c.n, c.h, c.w, c.k], 5)));
    const grads = (which: 0 | 1) => () => tf.grads(loss)([normal(xs, 1), normal(fs, 2)])[which]!;
    for (const pad of [
      'same',
      1,
      [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ],
    ] as const) {
      const conv = () => tf.conv2d(normal(xs, 1) as tf.Tensor4D, normal(fs, 2) as tf.Tensor4D, 1, pad as never);
      const cpu = await valuesOn('cpu', conv);
      const wasm = await valuesOn('wasm', conv);
      expect(relativeError(wasm, cpu)).toBeLessThan(1e-5);
      // Bit-identical to the kernel called directly: the registered Conv2D took it.
      const direct = await valuesOn('wasm', () => own(winogradConv(tf.backend(), normal(xs, 1), normal(fs, 2), false)));
      expect(Array.from(wasm)).toEqual(Array.from(direct));
    }
    for (const which of [0, 1] as const) {
      const cpu = await valuesOn('cpu', grads(which));
      const wasm = await valuesOn('wasm', grads(which));
      expect(relativeError(wasm, cpu)).toBeLessThan(1e-5);
    }
    const dwDirect = await valuesOn('wasm', () => {
      const dy = normal([c.n, c.h, c.w, c.k], 5);
      return own(winogradFilterGrad(tf.backend(), normal(xs, 1), dy));
    });
    expect(Array.from(await valuesOn('wasm', grads(1)))).toEqual(Array.from(dwDirect));
    const dxDirect = await valuesOn('wasm', () => own(winogradConv(tf.backend(), normal([c.n, c.h, c.w, c.k], 5), normal(fs, 2), true)));
    expect(Array.from(await valuesOn('wasm', grads(0)))).toEqual(Array.from(dxDirect));
  });

  // Dilated 5×5 filters wider than the padded input leave no output pixel: the stock wasm kernel read out of
  // bounds there (heap corruption), the registered one throws a typed error.
  it('the registered Conv2D equals the cpu backend for every geometry, Winograd or stock', async () => {
    const pads = [
      'same',
      'valid',
      1,
      [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ],
      [
        [0, 0],
        [2, 0],
        [1, 2],
        [0, 0],
      ],
    ] as const;
    for (const [xs, co] of [
      [[2, 8, 8, 8], 16],
      [[3, 7, 9, 4], 8],
      [[1, 6, 6, 3], 16],
    ] as const) {
      for (const k of [1, 3, 5]) {
        for (const stride of [1, 2]) {
          for (const pad of pads) {
            for (const dilation of stride === 1 ? [1, 2] : [1]) {
              const conv = () =>
                tf.conv2d(
                  normal([...xs], 1) as tf.Tensor4D,
                  normal([k, k, xs[3], co], 2) as tf.Tensor4D,
                  stride,
                  pad as never,
                  'NHWC',
                  dilation,
                );
              const label = `x [${xs}] ${k}×${k} → ${co} stride ${stride} pad ${JSON.stringify(pad)} dilation ${dilation}`;
              const geometry = backend_util.computeConv2DInfo(
                [...xs],
                [k, k, xs[3], co],
                stride,
                dilation,
                pad as never,
                undefined,
                false,
                'channelsLast',
              );
              if (geometry.outHeight <= 0 || geometry.outWidth <= 0) {
                await tf.setBackend('wasm');
                expect(() => tf.tidy(conv), label).toThrow(KernelArgumentError);
                expect(() => tf.tidy(conv), label).toThrow(/filter \(dilations included\) is larger than the padded/);
                continue;
              }
              expect(relativeError(await valuesOn('wasm', conv), await valuesOn('cpu', conv)), label).toBeLessThan(1e-5);
            }
          }
        }
      }
    }
  });

  it('an RGB stem: the registered filter gradient runs Winograd on x zero-padded to 4 channels', async () => {
    const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 16] };
    const run = () =>
      tf
        .engine()
        .runKernel('Conv2DBackpropFilter', { x: normal([4, 8, 8, 3], 1), dy: normal([4, 8, 8, 16], 2) }, attrs as never) as tf.Tensor;
    const wasm = await valuesOn('wasm', run);
    expect(relativeError(wasm, await valuesOn('cpu', run))).toBeLessThan(1e-5);
    const padded = await valuesOn('wasm', () => {
      const x = tf.pad(normal([4, 8, 8, 3], 1), [
        [0, 0],
        [0, 0],
        [0, 0],
        [0, 1],
      ]);
      return tf.slice(own(winogradFilterGrad(tf.backend(), x, normal([4, 8, 8, 16], 2))), [0, 0, 0, 0], [3, 3, 3, 16]);
    });
    expect(Array.from(wasm)).toEqual(Array.from(padded));
  });

  it('applies to 3×3 stride-1 pad-1 layers with even maps and tiled channel counts only', () => {
    const info = (h: number, w: number, c: number, k: number, f: number, stride: number, pad: 'same' | 'valid' | number, dilation = 1) =>
      backend_util.computeConv2DInfo([2, h, w, c], [f, f, c, k], stride, dilation, pad, undefined, false, 'channelsLast');
    expect(winogradApplies(info(8, 8, 16, 16, 3, 1, 'same'), 16, 16)).toBe(true);
    expect(winogradApplies(info(8, 6, 4, 8, 3, 1, 1), 4, 8)).toBe(true);
    expect(winogradApplies(info(8, 8, 16, 16, 3, 2, 'same'), 16, 16)).toBe(false); // strided
    expect(winogradApplies(info(8, 8, 16, 16, 5, 1, 'same'), 16, 16)).toBe(false); // 5×5
    expect(winogradApplies(info(8, 8, 16, 16, 1, 1, 'same'), 16, 16)).toBe(false); // 1×1
    expect(winogradApplies(info(7, 8, 16, 16, 3, 1, 'same'), 16, 16)).toBe(false); // odd height
    expect(winogradApplies(info(8, 8, 16, 16, 3, 1, 'valid'), 16, 16)).toBe(false); // unpadded
    expect(winogradApplies(info(8, 8, 16, 16, 3, 1, 2), 16, 16)).toBe(false); // padded by 2
    expect(winogradApplies(info(8, 8, 16, 16, 3, 1, 'same', 2), 16, 16)).toBe(false); // dilated
    expect(winogradApplies(info(8, 8, 3, 16, 3, 1, 'same'), 3, 16)).toBe(false); // RGB stem
    expect(winogradApplies(info(8, 8, 16, 12, 3, 1, 'same'), 16, 12)).toBe(false); // 12 outputs
  });

  it('layers the kernels decline still run (stock forward, other gradient paths) and equal the cpu backend', async () => {
    for (const [xs, fs] of [
      [
        [2, 7, 6, 8],
        [3, 3, 8, 16],
      ],
      [
        [2, 8, 8, 3],
        [3, 3, 3, 16],
      ],
      [
        [2, 8, 8, 8],
        [3, 3, 8, 12],
      ],
    ] as const) {
      const loss = (x: tf.Tensor, f: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same')));
      for (const which of [0, 1] as const) {
        const run = () => tf.grads(loss)([normal([...xs], 1), normal([...fs], 2)])[which]!;
        expect(relativeError(await valuesOn('wasm', run), await valuesOn('cpu', run))).toBeLessThan(1e-5);
      }
    }
  });

  it('leaves no tensor and no heap allocation behind', async () => {
    await tf.setBackend('wasm');
    const x = normal([4, 16, 16, 16], 1);
    const f = normal([3, 3, 16, 32], 2);
    const dy = normal([4, 16, 16, 32], 3);
    const before = { tensors: tf.memory().numTensors, ids: tf.backend().numDataIds() };
    for (let i = 0; i < 3; i++) {
      own(winogradConv(tf.backend(), x, f, false)).dispose();
      own(winogradConv(tf.backend(), dy, f, true)).dispose();
      own(winogradFilterGrad(tf.backend(), x, dy)).dispose();
      tf.dispose(
        tf.tidy(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')))([x, f])),
      );
    }
    expect({ tensors: tf.memory().numTensors, ids: tf.backend().numDataIds() }).toEqual(before);
    tf.dispose([x, f, dy]);
  });

  it('declines tensors that are not on a wasm heap (cpu backend)', async () => {
    await tf.setBackend('cpu');
    const x = normal([1, 4, 4, 8], 1);
    const f = normal([3, 3, 8, 8], 2);
    expect(winogradConv(tf.backend(), x, f, false)).toBeNull();
    expect(winogradFilterGrad(tf.backend(), x, normal([1, 4, 4, 8], 3))).toBeNull();
    await tf.setBackend('wasm');
  });
});
