/**
 * CIFAR-10 / CIFAR-100 binary versions (Krizhevsky): records of label byte(s) followed by 3072 pixel
 * bytes, channel-planar (1024 R, 1024 G, 1024 B, each 32×32 row-major). We transpose to HWC so
 * tfjs NHWC batches are plain slices.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetFormatError, DatasetNotFoundError } from './errors.js';
import { checkLabels, concatImageSets, type ImageDataset, type ImageSet } from './image-set.js';

const PIXELS = 32 * 32;

/** Layout of one CIFAR binary flavour. */
export interface CifarLayout {
  /** Label bytes before the pixels: 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine). */
  labelBytes: 1 | 2;
  /** Which label byte is the class (CIFAR-100: 1 = fine). */
  labelIndex: number;
  numClasses: number;
}

/** CIFAR-10: 3073-byte records. */
export const CIFAR10_LAYOUT: CifarLayout = { labelBytes: 1, labelIndex: 0, numClasses: 10 };
/** CIFAR-100: 3074-byte records, coarse then fine label; the fine label (100 classes) is used. */
export const CIFAR100_LAYOUT: CifarLayout = { labelBytes: 2, labelIndex: 1, numClasses: 100 };

/** Parses the bytes of one CIFAR binary file into an HWC image set. */
export function parseCifarBinary(bytes: Uint8Array, layout: CifarLayout, file = 'CIFAR binary'): ImageSet {
  const recordSize = layout.labelBytes + 3 * PIXELS;
  if (bytes.length === 0 || bytes.length % recordSize !== 0) {
    throw new DatasetFormatError(
      file,
      `size ${bytes.length} bytes is not a positive multiple of the ${recordSize}-byte record ` +
        `(${layout.labelBytes} label byte${layout.labelBytes > 1 ? 's' : ''} + 3072 pixels)`,
    );
  }
  const count = bytes.length / recordSize;
  const labels = new Int32Array(count);
  const images = new Uint8Array(count * 3 * PIXELS);
  for (let i = 0; i < count; i++) {
    const rec = i * recordSize;
    labels[i] = bytes[rec + layout.labelIndex]!;
    if (layout.labelBytes === 2 && bytes[rec]! >= 20) {
      throw new DatasetFormatError(file, `coarse label ${bytes[rec]} of record ${i} is outside 0..19`);
    }
    const px = rec + layout.labelBytes;
    const out = i * 3 * PIXELS;
    for (let p = 0; p < PIXELS; p++) {
      images[out + 3 * p] = bytes[px + p]!;
      images[out + 3 * p + 1] = bytes[px + PIXELS + p]!;
      images[out + 3 * p + 2] = bytes[px + 2 * PIXELS + p]!;
    }
  }
  checkLabels(labels, layout.numClasses, file);
  return { images, labels, count, height: 32, width: 32, channels: 3 };
}

/** Encodes an HWC 32×32×3 set as CIFAR binary records (for tests and for writing fixtures). */
export function encodeCifarBinary(set: ImageSet, layout: CifarLayout, coarseLabels?: ArrayLike<number>): Uint8Array {
  if (set.height !== 32 || set.width !== 32 || set.channels !== 3) {
    throw new RangeError(`CIFAR records hold 32x32x3 images, got ${set.height}x${set.width}x${set.channels}`);
  }
  const recordSize = layout.labelBytes + 3 * PIXELS;
  const out = new Uint8Array(set.count * recordSize);
  for (let i = 0; i < set.count; i++) {
    const rec = i * recordSize;
    if (layout.labelBytes === 2) out[rec] = coarseLabels ? coarseLabels[i]! : 0;
    out[rec + layout.labelIndex] = set.labels[i]!;
    const px = rec + layout.labelBytes;
    const src = i * 3 * PIXELS;
    for (let p = 0; p < PIXELS; p++) {
      out[px + p] = set.images[src + 3 * p]!;
      out[px + PIXELS + p] = set.images[src + 3 * p + 1]!;
      out[px + 2 * PIXELS + p] = set.images[src + 3 * p + 2]!;
    }
  }
  return out;
}

/** Folder names the official archives unpack to. */
export const CIFAR10_FOLDER = 'cifar-10-batches-bin';
export const CIFAR100_FOLDER = 'cifar-100-binary';

const CIFAR10_TRAIN = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];

function findFolder(dataset: string, dataDir: string, folder: string, marker: string): string {
  const candidates = [join(dataDir, folder), dataDir];
  for (const c of candidates) {
    if (existsSync(join(c, marker))) return c;
  }
  throw new DatasetNotFoundError(
    dataset,
    candidates.map((c) => join(c, marker)),
  );
}

function readFile(path: string): Uint8Array {
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new DatasetFormatError(path, 'file is missing (incomplete unpack?)');
  }
  return new Uint8Array(readFileSync(path));
}

function readNames(path: string): string[] | undefined {
  if (!existsSync(path)) return undefined;
  return readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Reads CIFAR-10 from `dataDir/cifar-10-batches-bin/` (or `dataDir` itself if it holds the .bin files):
 * 50,000 training images from data_batch_1..5.bin and 10,000 test images from test_batch.bin.
 */
export function loadCifar10(dataDir: string): ImageDataset {
  const dir = findFolder('CIFAR-10', dataDir, CIFAR10_FOLDER, 'data_batch_1.bin');
  const train = concatImageSets(CIFAR10_TRAIN.map((f) => parseCifarBinary(readFile(join(dir, f)), CIFAR10_LAYOUT, join(dir, f))));
  const testFile = join(dir, 'test_batch.bin');
  const test = parseCifarBinary(readFile(testFile), CIFAR10_LAYOUT, testFile);
  const classNames = readNames(join(dir, 'batches.meta.txt'));
  return { name: 'cifar10', numClasses: 10, train, test, source: dir, ...(classNames ? { classNames } : {}) };
}

/** Reads CIFAR-100 (fine labels) from `dataDir/cifar-100-binary/` (or `dataDir`): train.bin and test.bin. */
export function loadCifar100(dataDir: string): ImageDataset {
  const dir = findFolder('CIFAR-100', dataDir, CIFAR100_FOLDER, 'train.bin');
  const trainFile = join(dir, 'train.bin');
  const testFile = join(dir, 'test.bin');
  const train = parseCifarBinary(readFile(trainFile), CIFAR100_LAYOUT, trainFile);
  const test = parseCifarBinary(readFile(testFile), CIFAR100_LAYOUT, testFile);
  const classNames = readNames(join(dir, 'fine_label_names.txt'));
  return { name: 'cifar100', numClasses: 100, train, test, source: dir, ...(classNames ? { classNames } : {}) };
}
