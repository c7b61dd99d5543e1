/** Helpers shared by the src/backend tests (test-only: test/ is not published). */
import * as tf from '@tensorflow/tfjs-core';
import { KernelCalls } from '../src/kernel-calls.js';

/** Runs `fn` on backend `name` inside tidy and returns the values of its result. */
export async function valuesOn(name: string, fn: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(name);
  const out = tf.tidy(fn);
  const values = (await out.data()) as Float32Array;
  out.dispose();
  return values;
}

/** max |a − b| / max |b|: the error measure of the kernel tests (scale-free, robust to tiny entries). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Seeded normal tensor (same values on every backend). */
export function normal(shape: number[], seed: number, std = 1): tf.Tensor {
  return tf.randomNormal(shape, 0, std, 'float32', seed);
}

/** Padding of a convolution test case: tfjs' forms, numeric or explicit. */
export type ConvPad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

/** One convolution-gradient test case: input [n,h,w,c], a k×k filter to co channels. */
export interface ConvCase {
  n: number;
  h: number;
  w: number;
  c: number;
  co: number;
  k: number;
  stride: number;
  pad: ConvPad;
}

export function convCaseLabel(c: ConvCase): string {
  return `${c.k}×${c.k} stride ${c.stride} pad ${JSON.stringify(c.pad)} x [${c.n},${c.h},${c.w},${c.c}] → ${c.co}`;
}

/** Input and filter shapes of a case, and its output shape (computed by a forward conv of zeros). */
export function convShapes(c: ConvCase): {
  xShape: [number, number, number, number];
  fShape: [number, number, number, number];
  dyShape: () => number[];
} {
  const xShape: [number, number, number, number] = [c.n, c.h, c.w, c.c];
  const fShape: [number, number, number, number] = [c.k, c.k, c.c, c.co];
  const dyShape = () =>
    tf.tidy(() => tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(fShape) as tf.Tensor4D, c.stride, c.pad as never).shape);
  return { xShape, fShape, dyShape };
}

/** Runs the stock (displaced) cpu kernel `name`: a direct loop over the definition, the tests' reference. */
export function stockCpu(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>): tf.Tensor {
  const info = new KernelCalls(tf.backend(), 'cpu').runStock(name, inputs, attrs as never);
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** A 3×3 stride-1 pad-1 convolution case: x [n,h,w,c], filter [3,3,c,k]. */
export interface Winograd3x3Case {
  n: number;
  h: number;
  w: number;
  c: number;
  k: number;
}

/** Float64 references by direct summation: y = conv(x, f), dx = conv(dy, reversed fᵀ), dW = Σ x·dy. */
export function winograd3x3Reference(c: Winograd3x3Case, x: Float32Array, f: Float32Array, dy: Float32Array) {
  const { n, h, w, c: ci, k } = c;
  const y = new Float64Array(n * h * w * k);
  const dx = new Float64Array(n * h * w * ci);
  const dw = new Float64Array(9 * ci * k);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        for (let a = 0; a < 3; a++) {
          const ih = i + a - 1;
          if (ih < 0 || ih >= h) continue;
          for (let e = 0; e < 3; e++) {
            const iw = j + e - 1;
            if (iw < 0 || iw >= w) continue;
            const xo = ((b * h + ih) * w + iw) * ci;
            const yo = ((b * h + i) * w + j) * k;
            const fo = (a * 3 + e) * ci * k;
            for (let p = 0; p < ci; p++) {
              for (let q = 0; q < k; q++) {
                const wv = f[fo + p * k + q]!;
                y[yo + q]! += x[xo + p]! * wv;
                dx[xo + p]! += dy[yo + q]! * wv;
                dw[fo + p * k + q]! += x[xo + p]! * dy[yo + q]!;
              }
            }
          }
        }
      }
    }
  }
  return { y, dx, dw };
}
