import type { DatasetFileRecord } from './digests.js';
import { DatasetFormatError } from './errors.js';

/**
 * A labelled set of images in memory: uint8 pixels, HWC per image, images back to back
 * (`images[((i * height + y) * width + x) * channels + c]`), so a batch is a contiguous slice.
 */
export interface ImageSet {
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

/** Names of the image data sets samrank can read. */
export type ImageDatasetName = 'cifar10' | 'cifar100' | 'tiny-imagenet' | 'fashion-mnist';

/** Train and test split of one classification data set. */
export interface ImageDataset {
  name: ImageDatasetName;
  numClasses: number;
  train: ImageSet;
  test: ImageSet;
  /** Class names in label order, where the files carry them. */
  classNames?: string[];
  /** The folder the files were actually read from (for reports). */
  source?: string;
  /** The files read, each with its SHA-256 and what it was verified against. */
  files?: DatasetFileRecord[];
  /** SHA-256 over `files` (names and digests): one value identifying the data read. */
  digest?: string;
  /** Things the reader decided that a report should say (a fallback folder, a file moved aside). */
  notes?: string[];
}

/** Bytes per image of a set. */
export function imageSize(set: Pick<ImageSet, 'height' | 'width' | 'channels'>): number {
  return set.height * set.width * set.channels;
}

/** Throws {@link DatasetFormatError} unless every label lies in [0, numClasses). */
export function checkLabels(labels: ArrayLike<number>, numClasses: number, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!(l >= 0 && l < numClasses) || !Number.isInteger(l)) {
      throw new DatasetFormatError(file, `label ${l} of record ${i} is outside 0..${numClasses - 1}`);
    }
  }
}

/** The images at `indices` (in that order) as a new set. */
export function selectImages(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const size = imageSize(set);
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    if (!(i >= 0 && i < set.count)) throw new RangeError(`index ${i} outside 0..${set.count - 1}`);
    images.set(set.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = set.labels[i]!;
  }
  return { images, labels, count: indices.length, height: set.height, width: set.width, channels: set.channels };
}

/** The first `count` images as a view (no copy). */
export function headImages(set: ImageSet, count: number): ImageSet {
  const n = Math.min(count, set.count);
  const size = imageSize(set);
  return { ...set, images: set.images.subarray(0, n * size), labels: set.labels.subarray(0, n), count: n };
}

/** Concatenates sets of equal image shape. */
export function concatImageSets(sets: readonly ImageSet[]): ImageSet {
  const first = sets[0];
  if (!first) throw new RangeError('concatImageSets needs at least one set');
  const count = sets.reduce((s, x) => s + x.count, 0);
  const size = imageSize(first);
  const images = new Uint8Array(count * size);
  const labels = new Int32Array(count);
  let at = 0;
  for (const s of sets) {
    if (s.height !== first.height || s.width !== first.width || s.channels !== first.channels) {
      throw new RangeError(`cannot concatenate ${s.height}x${s.width}x${s.channels} with ${first.height}x${first.width}x${first.channels}`);
    }
    images.set(s.images.subarray(0, s.count * size), at * size);
    labels.set(s.labels.subarray(0, s.count), at);
    at += s.count;
  }
  return { images, labels, count, height: first.height, width: first.width, channels: first.channels };
}

/**
 * Zero-pads every image to `size`×`size` (centred; Fashion-MNIST 28 → 32 for the CIFAR ResNets).
 * Zero is the black background of Fashion-MNIST, so the padding looks like more background.
 */
export function padImages(set: ImageSet, size: number): ImageSet {
  if (size < set.height || size < set.width) {
    throw new RangeError(`cannot pad ${set.height}x${set.width} images to ${size}x${size}`);
  }
  if (size === set.height && size === set.width) return set;
  const top = Math.floor((size - set.height) / 2);
  const left = Math.floor((size - set.width) / 2);
  const c = set.channels;
  const srcSize = imageSize(set);
  const dstSize = size * size * c;
  const images = new Uint8Array(set.count * dstSize);
  const rowBytes = set.width * c;
  for (let i = 0; i < set.count; i++) {
    for (let y = 0; y < set.height; y++) {
      const src = i * srcSize + y * rowBytes;
      images.set(set.images.subarray(src, src + rowBytes), i * dstSize + ((y + top) * size + left) * c);
    }
  }
  return { images, labels: set.labels, count: set.count, height: size, width: size, channels: c };
}
