/**
 * Fashion-MNIST (Zalando): four gzipped IDX files, 60,000 training and 10,000 test 28×28 grey images,
 * 10 classes. Found automatically where Debian's `dataset-fashion-mnist` package installs it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetFormatError, DatasetNotFoundError } from './errors.js';
import { parseIdx } from './idx.js';
import { checkLabels, type ImageDataset, type ImageSet } from './image-set.js';

/** Where Debian's `dataset-fashion-mnist` package puts the files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
/** Folder name under a data directory. */
export const FASHION_MNIST_FOLDER = 'fashion-mnist';

/** The four files, as published. */
export const FASHION_MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
} as const;

/** Class names in label order. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

/** Parses an images + labels pair of IDX files into a 1-channel image set. */
export function parseIdxImageSet(imagesRaw: Uint8Array, labelsRaw: Uint8Array, imagesFile = 'images', labelsFile = 'labels'): ImageSet {
  const images = parseIdx(imagesRaw, imagesFile);
  const labels = parseIdx(labelsRaw, labelsFile);
  if (images.shape.length !== 3) throw new DatasetFormatError(imagesFile, `expected 3 dimensions (n, h, w), got ${images.shape.join('x')}`);
  if (labels.shape.length !== 1) throw new DatasetFormatError(labelsFile, `expected 1 dimension (n), got ${labels.shape.join('x')}`);
  const [count, height, width] = images.shape as [number, number, number];
  if (labels.shape[0] !== count) {
    throw new DatasetFormatError(labelsFile, `${labels.shape[0]} labels for ${count} images in ${imagesFile}`);
  }
  checkLabels(labels.data, 10, labelsFile);
  return { images: images.data, labels: Int32Array.from(labels.data), count, height, width, channels: 1 };
}

/** Folders searched for Fashion-MNIST, in order. */
export function fashionMnistCandidates(dataDir?: string): string[] {
  const dirs: string[] = [];
  if (dataDir) dirs.push(join(dataDir, FASHION_MNIST_FOLDER), dataDir);
  dirs.push(DEBIAN_FASHION_MNIST_DIR);
  return dirs;
}

/** The first candidate folder that holds all four files, or undefined. */
export function findFashionMnist(dataDir?: string): string | undefined {
  return fashionMnistCandidates(dataDir).find((d) => Object.values(FASHION_MNIST_FILES).every((f) => existsSync(join(d, f))));
}

/**
 * Reads Fashion-MNIST from `dataDir/fashion-mnist/`, `dataDir`, or Debian's install folder, whichever
 * holds the four files first. Images stay 28×28×1; the pipeline pads them for the CIFAR ResNets.
 */
export function loadFashionMnist(dataDir?: string): ImageDataset {
  const dir = findFashionMnist(dataDir);
  if (!dir) {
    throw new DatasetNotFoundError(
      'Fashion-MNIST',
      fashionMnistCandidates(dataDir),
      'Install Debian\'s dataset-fashion-mnist package, run with --download, or pass --data-dir.',
    );
  }
  const read = (f: string) => new Uint8Array(readFileSync(join(dir, f)));
  const F = FASHION_MNIST_FILES;
  const train = parseIdxImageSet(read(F.trainImages), read(F.trainLabels), join(dir, F.trainImages), join(dir, F.trainLabels));
  const test = parseIdxImageSet(read(F.testImages), read(F.testLabels), join(dir, F.testImages), join(dir, F.testLabels));
  return { name: 'fashion-mnist', numClasses: 10, train, test, classNames: [...FASHION_MNIST_CLASSES], source: dir };
}
