/**
 * Tiny ImageNet (cs231n): 200 classes of 64×64 JPEGs. `train/<wnid>/images/*.JPEG` is the training
 * set and the official `val/` (with `val_annotations.txt`) is the test set, as in the paper's code.
 * Class index = position of the wnid among the sorted training folder names.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import jpeg from 'jpeg-js';
import { datasetDigest, DigestManifest, type DatasetFileRecord } from './digests.js';
import { DatasetFormatError, DatasetNotFoundError } from './errors.js';
import { decodeImageCache, imageCacheSha256, writeImageCache } from './image-cache.js';
import type { ImageDataset, ImageSet } from './image-set.js';
import { createRng } from '@samrank/core';

/** Folder the official zip unpacks to. */
export const TINY_IMAGENET_FOLDER = 'tiny-imagenet-200';
const SIZE = 64;

/** Decodes one JPEG to `size`×`size`×3 RGB (grey images are expanded to 3 equal channels by jpeg-js). */
export function decodeJpegRgb(bytes: Uint8Array, file: string, size = SIZE): Uint8Array {
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    // Limits bound the work a damaged or hostile header can cause (a 64×64 image needs 12 kB).
    decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: 1, maxMemoryUsageInMB: 64 });
  } catch (err) {
    throw new DatasetFormatError(file, `cannot decode JPEG (${(err as Error).message})`);
  }
  if (decoded.width !== size || decoded.height !== size) {
    throw new DatasetFormatError(file, `image is ${decoded.width}x${decoded.height}, expected ${size}x${size}`);
  }
  return decoded.data;
}

/** Options of {@link loadTinyImageNet}. */
export interface TinyImageNetOptions {
  /** Where the decoded cache goes (default: `<dataset folder>/samrank-cache`). */
  cacheDir?: string;
  /**
   * Seed of the training-set order. The original code loads the training set as one randomly
   * permuted tensor, so "the first 10,240 training images" are a random sample; on disk they are
   * grouped by class. Default 0.
   */
  orderSeed?: number;
  /** Called while decoding (first load only). */
  onProgress?: (decoded: number, total: number) => void;
  /** Called per cache file read: `hashed` is false when the digest manifest's entry was used. */
  onVerify?: (file: string, hashed: boolean) => void;
}

function locate(dataDir: string): string {
  const candidates = [join(dataDir, TINY_IMAGENET_FOLDER), dataDir];
  for (const c of candidates) {
    if (existsSync(join(c, 'train')) && existsSync(join(c, 'val', 'val_annotations.txt'))) return c;
  }
  throw new DatasetNotFoundError(
    'Tiny ImageNet',
    candidates.map((c) => join(c, 'train')),
  );
}

/** Image files and their class indices, in the same order. */
export interface ImageFileList {
  /** Paths of the images. */
  files: string[];
  /** Class index of each image. */
  labels: Int32Array;
}

/** Sorted wnids of the training folders. */
export function tinyImageNetClasses(dir: string): string[] {
  return readdirSync(join(dir, 'train'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

function trainFiles(dir: string, wnids: string[]): ImageFileList {
  const files: string[] = [];
  const labels: number[] = [];
  wnids.forEach((wnid, label) => {
    const imgDir = join(dir, 'train', wnid, 'images');
    if (!existsSync(imgDir)) throw new DatasetFormatError(imgDir, 'missing (expected train/<wnid>/images/*.JPEG)');
    for (const f of readdirSync(imgDir)
      .filter((f) => /\.jpe?g$/i.test(f))
      .sort()) {
      files.push(join(imgDir, f));
      labels.push(label);
    }
  });
  return { files, labels: Int32Array.from(labels) };
}

/** Parses `val_annotations.txt` (file, wnid, bbox; tab-separated) into file paths and labels. */
export function parseValAnnotations(text: string, dir: string, wnids: string[], file = 'val_annotations.txt'): ImageFileList {
  const index = new Map(wnids.map((w, i) => [w, i]));
  const files: string[] = [];
  const labels: number[] = [];
  text.split(/\r?\n/).forEach((line, n) => {
    if (line.trim() === '') return;
    const [name, wnid] = line.split('\t');
    if (!name || !wnid) throw new DatasetFormatError(file, `line ${n + 1} is not "<file>\\t<wnid>\\t..."`);
    const label = index.get(wnid);
    if (label === undefined) throw new DatasetFormatError(file, `line ${n + 1}: class ${wnid} has no training folder`);
    files.push(join(dir, 'val', 'images', name));
    labels.push(label);
  });
  return { files, labels: Int32Array.from(labels) };
}

function decodeAll(list: ImageFileList, order: Int32Array | undefined, onProgress?: (d: number) => void): ImageSet {
  const n = list.files.length;
  const size = SIZE * SIZE * 3;
  const images = new Uint8Array(n * size);
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = order ? order[k]! : k;
    const path = list.files[i]!;
    if (!existsSync(path)) throw new DatasetFormatError(path, 'listed image is missing');
    images.set(decodeJpegRgb(new Uint8Array(readFileSync(path)), path), k * size);
    labels[k] = list.labels[i]!;
    if (onProgress && (k % 1000 === 999 || k === n - 1)) onProgress(k + 1);
  }
  return { images, labels, count: n, height: SIZE, width: SIZE, channels: 3 };
}

/**
 * Reads Tiny ImageNet from `dataDir/tiny-imagenet-200/` (or `dataDir`). The first call decodes
 * all JPEGs (about a minute for 110,000 images) and writes a binary cache; later calls read the cache.
 */
export function loadTinyImageNet(dataDir: string, options: TinyImageNetOptions = {}): ImageDataset {
  const dir = locate(dataDir);
  const wnids = tinyImageNetClasses(dir);
  if (wnids.length === 0) throw new DatasetFormatError(join(dir, 'train'), 'has no class folders');
  const orderSeed = options.orderSeed ?? 0;
  const cacheDir = options.cacheDir ?? join(dir, 'samrank-cache');
  const trainCache = join(cacheDir, `train-order${orderSeed}.bin`);
  const testCache = join(cacheDir, 'val.bin');

  // The caches are what later loads read: their digests are pinned when written, so a damaged cache
  // (bit rot, a partial copy) is caught instead of training on different pixels.
  const manifest = DigestManifest.open(cacheDir);
  const files: DatasetFileRecord[] = [];
  const load = (cachePath: string, build: () => ImageSet): ImageSet => {
    const name = basename(cachePath);
    if (existsSync(cachePath)) {
      const { raw, record } = manifest.read(name, {
        ...(options.onVerify ? { onVerify: options.onVerify } : {}),
        changedHint: `delete it to rebuild it from the JPEGs`,
      });
      const cached = decodeImageCache(raw, cachePath);
      if (cached.numClasses === wnids.length) {
        files.push(record);
        return cached.set;
      }
    }
    const set = build();
    const sha256 = imageCacheSha256(set, wnids.length);
    if (writeImageCache(cachePath, set, wnids.length)) manifest.pinWritten(name, sha256, `decoded from the JPEGs in ${dir} by samrank`);
    files.push({ file: name, sha256, verified: null });
    return set;
  };

  let train: ImageSet;
  let test: ImageSet;
  try {
    train = load(trainCache, () => {
      const list = trainFiles(dir, wnids);
      const order = createRng(orderSeed).permutation(list.files.length);
      return decodeAll(list, order, (d) => options.onProgress?.(d, list.files.length));
    });
    test = load(testCache, () => {
      const annotations = join(dir, 'val', 'val_annotations.txt');
      const list = parseValAnnotations(readFileSync(annotations, 'utf8'), dir, wnids, annotations);
      return decodeAll(list, undefined, (d) => options.onProgress?.(d, list.files.length));
    });
  } finally {
    manifest.save();
  }
  return {
    name: 'tiny-imagenet',
    numClasses: wnids.length,
    train,
    test,
    classNames: wnids,
    source: dir,
    files,
    digest: datasetDigest(files),
  };
}
