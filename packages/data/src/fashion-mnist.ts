/**
 * Fashion-MNIST (Zalando): four gzipped IDX files, 60,000 training and 10,000 test 28×28 grey images,
 * 10 classes. Found where Debian's `dataset-fashion-mnist` package installs it when no folder is given.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { datasetDigest, DigestManifest, type DatasetFileRecord, type KnownDigest } from './digests.js';
import { DatasetFormatError, DatasetNotFoundError } from './errors.js';
import { gunzipVerified, isGzip } from './gzip.js';
import { parseIdx } from './idx.js';
import { checkLabels, type ImageDataset, type ImageSet } from './image-set.js';
import { DATASET_SOURCES } from './sources.js';

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
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
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

/** Options of {@link loadFashionMnist}. */
export interface FashionMnistOptions {
  /**
   * Also look in Debian's install folder when `dataDir` lacks the files. Default: only when no `dataDir`
   * is given, so an explicit folder is never silently replaced by another copy.
   */
  debianFallback?: boolean;
  /** Replaces the official MD5s by file name (own copies in the official format; tests). */
  checksums?: Record<string, string>;
  /** False: read files without comparing them to a known checksum (their digests are still recorded). */
  verify?: boolean;
  /** Called per file: `hashed` is false when the digest manifest's entry was used. */
  onVerify?: (file: string, hashed: boolean) => void;
}

/** Folders searched for Fashion-MNIST, in order (Debian's only with `debianFallback`, the default without `dataDir`). */
export function fashionMnistCandidates(dataDir?: string, debianFallback = dataDir === undefined): string[] {
  const dirs: string[] = [];
  if (dataDir) dirs.push(join(dataDir, FASHION_MNIST_FOLDER), dataDir);
  if (debianFallback) dirs.push(DEBIAN_FASHION_MNIST_DIR);
  return dirs;
}

function present(dir: string): string[] {
  return Object.values(FASHION_MNIST_FILES).filter((f) => existsSync(join(dir, f)));
}

/** The first candidate folder that holds all four files, or undefined. */
export function findFashionMnist(dataDir?: string, debianFallback = dataDir === undefined): string | undefined {
  return fashionMnistCandidates(dataDir, debianFallback).find((d) => present(d).length === 4);
}

function notFound(dataDir: string | undefined, debianFallback: boolean): DatasetNotFoundError {
  const candidates = fashionMnistCandidates(dataDir, debianFallback);
  const all = Object.values(FASHION_MNIST_FILES);
  const partial = candidates.map((d) => ({ d, have: present(d) })).find(({ have }) => have.length > 0);
  let hint = partial
    ? `${partial.d} holds only ${partial.have.length} of the 4 files (missing ${all.filter((f) => !partial.have.includes(f)).join(', ')}): ` +
      `complete it, or remove it and run with --download to fetch the official files into ${join(dataDir ?? partial.d, FASHION_MNIST_FOLDER)}.`
    : 'Run with --download to fetch it, or pass --data-dir pointing at a folder with the four .gz files.';
  if (!debianFallback && present(DEBIAN_FASHION_MNIST_DIR).length === 4) {
    hint += ` Debian's copy exists at ${DEBIAN_FASHION_MNIST_DIR}: pass --data-dir ${DEBIAN_FASHION_MNIST_DIR} to use it.`;
  } else if (debianFallback && !existsSync(DEBIAN_FASHION_MNIST_DIR)) {
    hint += " (Or install Debian's dataset-fashion-mnist package.)";
  }
  return new DatasetNotFoundError('Fashion-MNIST', candidates, hint);
}

function knownDigest(name: string, options: FashionMnistOptions): KnownDigest | undefined {
  if (options.verify === false) return undefined;
  const given = options.checksums?.[name];
  if (given !== undefined) return { md5: given, origin: 'the checksum given for it' };
  const official = DATASET_SOURCES['fashion-mnist'].files.find((f) => f.name === name);
  if (!official) return undefined;
  return {
    md5: official.md5,
    ...(official.contentSha256 ? { contentSha256: official.contentSha256 } : {}),
    origin: 'the official Fashion-MNIST checksums',
  };
}

/**
 * Reads Fashion-MNIST from `dataDir/fashion-mnist/` or `dataDir`; Debian's install folder is searched only
 * without `dataDir` (or with `debianFallback`), and the dataset's `source` and `notes` say which folder was
 * read. Every file is checked against the official checksums (the MD5 of the .gz, or the SHA-256 of its
 * gunzipped content, which Debian's recompressed copy shares) and its gzip CRC-32 and length; digests are
 * cached in the folder's manifest. Images stay 28×28×1; the pipeline pads them for the CIFAR ResNets.
 */
export function loadFashionMnist(dataDir?: string, options: FashionMnistOptions = {}): ImageDataset {
  const debianFallback = options.debianFallback ?? dataDir === undefined;
  const dir = findFashionMnist(dataDir, debianFallback);
  if (!dir) throw notFound(dataDir, debianFallback);
  const manifest = DigestManifest.open(dir);
  const files: DatasetFileRecord[] = [];
  const read = (f: string): Uint8Array => {
    const path = join(dir, f);
    const known = knownDigest(f, options);
    const r = manifest.read(f, {
      ...(known ? { known } : {}),
      content: (raw) => (isGzip(raw) ? gunzipVerified(raw, path) : raw),
      ...(options.onVerify ? { onVerify: options.onVerify } : {}),
    });
    files.push(r.record);
    return r.content!;
  };
  const F = FASHION_MNIST_FILES;
  let train: ImageSet;
  let test: ImageSet;
  try {
    train = parseIdxImageSet(read(F.trainImages), read(F.trainLabels), join(dir, F.trainImages), join(dir, F.trainLabels));
    test = parseIdxImageSet(read(F.testImages), read(F.testLabels), join(dir, F.testImages), join(dir, F.testLabels));
  } finally {
    manifest.save();
  }
  const notes =
    dir === DEBIAN_FASHION_MNIST_DIR && dataDir !== undefined
      ? [`Fashion-MNIST was read from Debian's copy in ${DEBIAN_FASHION_MNIST_DIR} (not found under ${dataDir})`]
      : [];
  return {
    name: 'fashion-mnist',
    numClasses: 10,
    train,
    test,
    classNames: [...FASHION_MNIST_CLASSES],
    source: dir,
    files,
    digest: datasetDigest(files),
    ...(notes.length > 0 ? { notes } : {}),
  };
}
