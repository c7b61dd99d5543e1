/**
 * Generated stand-ins with the real data sets' shapes and class counts, for CI smoke runs where
 * the real files are absent. Each class has a random low-frequency colour pattern; each image is
 * its class pattern plus pixel noise, so a network can learn it in a few steps.
 */
import type { ImageDataset, ImageDatasetName, ImageSet } from './image-set.js';
import { createRng, type Rng } from '@samrank/core';

/** Image shape and class count of each real data set. */
export const DATASET_SHAPES: Record<
  ImageDatasetName,
  { height: number; width: number; channels: number; numClasses: number; train: number; test: number }
> = {
  cifar10: { height: 32, width: 32, channels: 3, numClasses: 10, train: 50_000, test: 10_000 },
  cifar100: { height: 32, width: 32, channels: 3, numClasses: 100, train: 50_000, test: 10_000 },
  'tiny-imagenet': { height: 64, width: 64, channels: 3, numClasses: 200, train: 100_000, test: 10_000 },
  'fashion-mnist': { height: 28, width: 28, channels: 1, numClasses: 10, train: 60_000, test: 10_000 },
};

/** Options of {@link syntheticImageDataset}. */
export interface SyntheticOptions {
  /** Training images to generate. */
  trainCount: number;
  /** Test images to generate. */
  testCount: number;
  /** Seed of the generator (default 0): the same seed gives the same images. */
  seed?: number;
  /** Pixel noise standard deviation on the 0..255 scale (default 40). */
  noise?: number;
}

function makeSet(
  rng: Rng,
  protos: Uint8Array[],
  count: number,
  shape: { height: number; width: number; channels: number },
  noise: number,
): ImageSet {
  const size = shape.height * shape.width * shape.channels;
  const images = new Uint8Array(count * size);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = rng.int(protos.length);
    labels[i] = label;
    const p = protos[label]!;
    for (let j = 0; j < size; j++) {
      const v = p[j]! + noise * rng.normal();
      images[i * size + j] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
    }
  }
  return { images, labels, count, ...shape };
}

/** A generated data set shaped like `name` (labels drawn uniformly). */
export function syntheticImageDataset(name: ImageDatasetName, options: SyntheticOptions): ImageDataset {
  const s = DATASET_SHAPES[name];
  const rng = createRng(options.seed ?? 0);
  const grid = 4;
  const protos: Uint8Array[] = [];
  const protoRng = rng.fork('prototypes');
  for (let c = 0; c < s.numClasses; c++) {
    const cells = Array.from({ length: grid * grid * s.channels }, () => 40 + protoRng.int(176));
    const p = new Uint8Array(s.height * s.width * s.channels);
    for (let y = 0; y < s.height; y++) {
      for (let x = 0; x < s.width; x++) {
        const gy = Math.floor((y * grid) / s.height);
        const gx = Math.floor((x * grid) / s.width);
        for (let ch = 0; ch < s.channels; ch++) p[(y * s.width + x) * s.channels + ch] = cells[(gy * grid + gx) * s.channels + ch]!;
      }
    }
    protos.push(p);
  }
  const noise = options.noise ?? 40;
  const train = makeSet(rng.fork('train'), protos, options.trainCount, s, noise);
  const test = makeSet(rng.fork('test'), protos, options.testCount, s, noise);
  return { name, numClasses: s.numClasses, train, test, source: 'synthetic' };
}
