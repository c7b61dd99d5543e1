/**
 * CIFAR-10 / CIFAR-100 binary versions (Krizhevsky): records of label byte(s) followed by 3072 pixel
 * bytes, channel-planar (1024 R, 1024 G, 1024 B, each 32×32 row-major). We transpose to HWC so
 * tfjs NHWC batches are plain slices.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { datasetDigest, DigestManifest, type DatasetFileRecord } from './digests.js';
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

/** Records in each file of the official binary versions. */
export const CIFAR10_RECORDS: Readonly<Record<string, number>> = {
  'data_batch_1.bin': 10_000,
  'data_batch_2.bin': 10_000,
  'data_batch_3.bin': 10_000,
  'data_batch_4.bin': 10_000,
  'data_batch_5.bin': 10_000,
  'test_batch.bin': 10_000,
};
export const CIFAR100_RECORDS: Readonly<Record<string, number>> = { 'train.bin': 50_000, 'test.bin': 10_000 };

/**
 * Parses the bytes of one CIFAR binary file into an HWC image set. With `expectedRecords`, a file holding
 * any other number of records (a truncated or concatenated copy) is a {@link DatasetFormatError}.
 */
export function parseCifarBinary(bytes: Uint8Array, layout: CifarLayout, file = 'CIFAR binary', expectedRecords?: number): ImageSet {
  const recordSize = layout.labelBytes + 3 * PIXELS;
  const whole = Math.floor(bytes.length / recordSize);
  const partial = bytes.length % recordSize;
  const partialText = partial > 0 ? ` and a trailing partial record of ${partial} byte${partial === 1 ? '' : 's'}` : '';
  const recordText = `${layout.labelBytes} label byte${layout.labelBytes > 1 ? 's' : ''} + 3072 pixels`;
  if (expectedRecords !== undefined && (whole !== expectedRecords || partial !== 0)) {
    throw new DatasetFormatError(
      file,
      `holds ${whole} record${whole === 1 ? '' : 's'} of ${recordSize} bytes${partialText} (${bytes.length} bytes), ` +
        `expected exactly ${expectedRecords} records (${expectedRecords * recordSize} bytes): the file is truncated or not the official one`,
    );
  }
  if (bytes.length === 0 || partial !== 0) {
    throw new DatasetFormatError(
      file,
      `size ${bytes.length} bytes is not a positive multiple of the ${recordSize}-byte record (${recordText}): ` +
        `${whole} whole record${whole === 1 ? '' : 's'}${partialText}`,
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

/** Options of {@link loadCifar10} and {@link loadCifar100}. */
export interface CifarOptions {
  /**
   * Records each file must hold, by file name (default: the official counts, {@link CIFAR10_RECORDS} /
   * {@link CIFAR100_RECORDS}); `false` accepts any whole number of records (own subsets, tests).
   */
  recordCounts?: Readonly<Record<string, number>> | false;
  /** Called per file: `hashed` is false when the digest manifest's entry was used. */
  onVerify?: (file: string, hashed: boolean) => void;
}

function readNames(path: string): string[] | undefined {
  if (!existsSync(path)) return undefined;
  return readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Reads and parses the named files of a CIFAR folder. Each file is checked against the digest pinned when
 * samrank unpacked it from the MD5-verified archive (when it did), and its record count.
 */
function readCifarFiles(
  dir: string,
  names: readonly string[],
  layout: CifarLayout,
  official: Readonly<Record<string, number>>,
  options: CifarOptions,
) {
  for (const name of names) {
    const path = join(dir, name);
    if (!existsSync(path) || !statSync(path).isFile()) throw new DatasetFormatError(path, 'file is missing (incomplete unpack?)');
  }
  const manifest = DigestManifest.open(dir);
  const files: DatasetFileRecord[] = [];
  try {
    const sets = names.map((name) => {
      const path = join(dir, name);
      const { raw, record } = manifest.read(name, options.onVerify ? { onVerify: options.onVerify } : {});
      files.push(record);
      const expected = options.recordCounts === false ? undefined : (options.recordCounts ?? official)[name];
      return parseCifarBinary(raw, layout, path, expected);
    });
    return { sets, files };
  } finally {
    manifest.save();
  }
}

/**
 * Reads CIFAR-10 from `dataDir/cifar-10-batches-bin/` (or `dataDir` itself if it holds the .bin files):
 * 50,000 training images from data_batch_1..5.bin and 10,000 test images from test_batch.bin.
 */
export function loadCifar10(dataDir: string, options: CifarOptions = {}): ImageDataset {
  const dir = findFolder('CIFAR-10', dataDir, CIFAR10_FOLDER, 'data_batch_1.bin');
  const { sets, files } = readCifarFiles(dir, [...CIFAR10_TRAIN, 'test_batch.bin'], CIFAR10_LAYOUT, CIFAR10_RECORDS, options);
  const train = concatImageSets(sets.slice(0, CIFAR10_TRAIN.length));
  const test = sets[CIFAR10_TRAIN.length]!;
  const classNames = readNames(join(dir, 'batches.meta.txt'));
  return {
    name: 'cifar10',
    numClasses: 10,
    train,
    test,
    source: dir,
    files,
    digest: datasetDigest(files),
    ...(classNames ? { classNames } : {}),
  };
}

/** Reads CIFAR-100 (fine labels) from `dataDir/cifar-100-binary/` (or `dataDir`): train.bin and test.bin. */
export function loadCifar100(dataDir: string, options: CifarOptions = {}): ImageDataset {
  const dir = findFolder('CIFAR-100', dataDir, CIFAR100_FOLDER, 'train.bin');
  const { sets, files } = readCifarFiles(dir, ['train.bin', 'test.bin'], CIFAR100_LAYOUT, CIFAR100_RECORDS, options);
  const classNames = readNames(join(dir, 'fine_label_names.txt'));
  return {
    name: 'cifar100',
    numClasses: 100,
    train: sets[0]!,
    test: sets[1]!,
    source: dir,
    files,
    digest: datasetDigest(files),
    ...(classNames ? { classNames } : {}),
  };
}
