/** Helpers shared by the src/backend tests (test-only: test/ is not published). */
import * as tf from '@tensorflow/tfjs-core';

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
