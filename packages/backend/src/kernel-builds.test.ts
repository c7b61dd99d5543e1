import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { relaxedSimd, relaxedSimdAvailable } from '@samrank/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KERNELS_RELAXED_SHARED_WASM_BASE64,
  KERNELS_RELAXED_WASM_BASE64,
  KERNELS_SHARED_WASM_BASE64,
  KERNELS_WASM_BASE64,
} from './kernels-wasm.generated.js';
import { registerTrainingKernels } from './register-kernels.js';
import { useWasmKernelBuild, wasmKernelVariant } from './wasm-kernels.js';
import { winogradConv, winogradFilterGrad } from './winograd-wasm.js';
import { type Winograd3x3Case, normal, relativeError, valuesOn, winograd3x3Reference } from '../test/backend-support.js';

/** Occurrences of `f32x4.relaxed_madd` (opcode 0xfd 0x85 0x02) in a module's bytes. */
function fusedOps(base64: string): number {
  const bytes = Buffer.from(base64, 'base64');
  let n = 0;
  for (let i = 0; i + 2 < bytes.length; i++) if (bytes[i] === 0xfd && bytes[i + 1] === 0x85 && bytes[i + 2] === 0x02) n++;
  return n;
}

const own = (info: tf.TensorInfo | null): tf.Tensor => {
  if (!info) throw new Error('the Winograd kernel declined a supported case');
  return tf.engine().makeTensorFromTensorInfo(info);
};

const builds: ('plain' | 'relaxed')[] = relaxedSimdAvailable() ? ['plain', 'relaxed'] : ['plain'];

describe('the two builds of the wasm kernels', () => {
  const initial = wasmKernelVariant();
  beforeAll(async () => {
    tf.enableProdMode();
    registerTrainingKernels('wasm');
    await tf.setBackend('wasm');
  });
  afterAll(() => useWasmKernelBuild(initial));

  it('the relaxed build differs from the plain one only by fused multiply-adds, and runs where the runtime has relaxed SIMD', () => {
    expect(fusedOps(KERNELS_WASM_BASE64)).toBe(0);
    expect(fusedOps(KERNELS_SHARED_WASM_BASE64)).toBe(0);
    // Every multiply-add of the source (wasm/kernels.wat) is fused: 77 of its 87 multiplies.
    expect(fusedOps(KERNELS_RELAXED_WASM_BASE64)).toBe(77);
    expect(fusedOps(KERNELS_RELAXED_SHARED_WASM_BASE64)).toBe(77);
    expect(initial).toBe(relaxedSimd() ? 'relaxed' : 'plain');
    if (!relaxedSimdAvailable()) expect(() => useWasmKernelBuild('relaxed')).toThrow(/no relaxed SIMD/);
  });

  it.each(builds)(
    '%s build: Winograd forward, input and filter gradients and the direct strided gradients against references',
    async (build) => {
      useWasmKernelBuild(build);
      const c: Winograd3x3Case = { n: 5, h: 14, w: 16, c: 16, k: 24 };
      const xs = [c.n, c.h, c.w, c.c];
      const fs = [3, 3, c.c, c.k];
      const ys = [c.n, c.h, c.w, c.k];
      const ref = winograd3x3Reference(
        c,
        (await valuesOn('wasm', () => normal(xs, 1))) as Float32Array,
        (await valuesOn('wasm', () => normal(fs, 2))) as Float32Array,
        (await valuesOn('wasm', () => normal(ys, 3))) as Float32Array,
      );
      const be = () => tf.backend();
      const y = await valuesOn('wasm', () => own(winogradConv(be(), normal(xs, 1), normal(fs, 2), false)));
      expect(relativeError(y, ref.y)).toBeLessThan(1e-5);
      expect(Array.from(await valuesOn('wasm', () => own(winogradConv(be(), normal(xs, 1), normal(fs, 2), false))))).toEqual(Array.from(y));
      const dw = await valuesOn('wasm', () => own(winogradFilterGrad(be(), normal(xs, 1), normal(ys, 3))));
      expect(relativeError(dw, ref.dw)).toBeLessThan(1e-5);
      const dx = await valuesOn('wasm', () => own(winogradConv(be(), normal(ys, 3), normal(fs, 2), true)));
      expect(relativeError(dx, ref.dx)).toBeLessThan(1e-5);
      // A strided 3×3 convolution: its gradients run on the direct kernels.
      const loss = (x: tf.Tensor, f: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, 'same'), normal([4, 8, 8, 32], 5)));
      for (const which of [0, 1] as const) {
        const grad = () => tf.grads(loss)([normal([4, 16, 16, 16], 6), normal([3, 3, 16, 32], 7)])[which]!;
        expect(relativeError(await valuesOn('wasm', grad), await valuesOn('cpu', grad))).toBeLessThan(1e-5);
      }
    },
  );
});
