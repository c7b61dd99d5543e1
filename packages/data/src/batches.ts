/**
 * Batches as plain arrays (NHWC float32 pixels + int32 labels). The tensor wrapper in tensors.ts is
 * the only place tfjs is touched, so everything here is testable and benchmarkable without it.
 */
import { IDENTITY_CROP, drawCropFlip, writeAugmentedImage, type ImageGeometry } from './augment.js';
import { imageSize, type ImageSet } from './image-set.js';
import type { Rng } from '@samrank/core';

/** One batch: `x` is `count × height × width × channels` float32 (NHWC), `y` the labels. */
export interface BatchArrays {
  x: Float32Array;
  y: Int32Array;
  shape: [number, number, number, number];
}

/** How a batch is written. */
export interface BatchFormat {
  tables: readonly Float32Array[];
  outChannels: number;
}

/** Augmentation settings for training batches. */
export interface AugmentSettings {
  rng: Rng;
  padding: number;
  flip: boolean;
}

/** Writes the images at `indices` of `set` as a batch, augmented when `augment` is given. */
export function makeBatch(set: ImageSet, indices: ArrayLike<number>, format: BatchFormat, augment?: AugmentSettings): BatchArrays {
  const n = indices.length;
  const geom: ImageGeometry = { height: set.height, width: set.width, channels: set.channels, outChannels: format.outChannels };
  const outSize = set.height * set.width * format.outChannels;
  const srcSize = imageSize(set);
  const x = new Float32Array(n * outSize);
  const y = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = indices[k]!;
    if (!(i >= 0 && i < set.count)) throw new RangeError(`batch index ${i} outside 0..${set.count - 1}`);
    const padding = augment?.padding ?? 0;
    const crop = augment ? drawCropFlip(augment.rng, augment.padding, augment.flip) : IDENTITY_CROP(0);
    writeAugmentedImage(set.images, i * srcSize, geom, padding, crop, format.tables, x, k * outSize);
    y[k] = set.labels[i]!;
  }
  return { x, y, shape: [n, set.height, set.width, format.outChannels] };
}

/** Indices start..start+count−1 (clipped to the set) for evaluation batches. */
export function rangeIndices(start: number, count: number, total: number): Int32Array {
  const end = Math.min(total, start + count);
  const out = new Int32Array(Math.max(0, end - start));
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}
