/**
 * A binary cache for decoded image sets ("decode once"): a 32-byte header (magic, count, height,
 * width, channels, numClasses), int32 labels, then the uint8 HWC images. Written through a temporary
 * file that is fsynced and renamed, so a crash never leaves a cache that looks valid.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isPermissionError, writeFileAtomicSync } from './atomic-write.js';
import { DatasetFormatError } from './errors.js';
import { checkLabels, imageSize, type ImageSet } from './image-set.js';

const MAGIC = 'SRIMGv1\n';
const HEADER = 32;

function encodeHead(set: ImageSet, numClasses: number): Uint8Array {
  const out = new Uint8Array(HEADER + 4 * set.count);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  [set.count, set.height, set.width, set.channels, numClasses].forEach((v, i) => view.setUint32(8 + 4 * i, v, true));
  for (let i = 0; i < set.count; i++) view.setInt32(HEADER + 4 * i, set.labels[i]!, true);
  return out;
}

/** Serializes an image set to the cache layout. */
export function encodeImageCache(set: ImageSet, numClasses: number): Uint8Array {
  const head = encodeHead(set, numClasses);
  const out = new Uint8Array(head.length + set.count * imageSize(set));
  out.set(head, 0);
  out.set(set.images.subarray(0, set.count * imageSize(set)), head.length);
  return out;
}

/** Parses the cache layout; throws {@link DatasetFormatError} when it is damaged. */
export function decodeImageCache(bytes: Uint8Array, file = 'image cache'): { set: ImageSet; numClasses: number } {
  if (bytes.length < HEADER || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new DatasetFormatError(file, 'not a samrank image cache (bad header); delete it to rebuild');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [count, height, width, channels, numClasses] = [0, 1, 2, 3, 4].map((i) => view.getUint32(8 + 4 * i, true)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const expected = HEADER + 4 * count + count * height * width * channels;
  if (bytes.length !== expected) {
    throw new DatasetFormatError(file, `cache holds ${bytes.length} bytes, its header implies ${expected}; delete it to rebuild`);
  }
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = view.getInt32(HEADER + 4 * i, true);
  checkLabels(labels, numClasses, file);
  const images = bytes.subarray(HEADER + 4 * count);
  return { set: { images, labels, count, height, width, channels }, numClasses };
}

/** SHA-256 (hex) of the cache file {@link writeImageCache} writes for `set`, computed without building it. */
export function imageCacheSha256(set: ImageSet, numClasses: number): string {
  return createHash('sha256')
    .update(encodeHead(set, numClasses))
    .update(set.images.subarray(0, set.count * imageSize(set)))
    .digest('hex');
}

/** Writes a cache file atomically and durably. Returns false (and writes nothing) when the folder is not writable. */
export function writeImageCache(path: string, set: ImageSet, numClasses: number): boolean {
  try {
    mkdirSync(dirname(path), { recursive: true });
    // Header and pixels are written separately: Tiny ImageNet's pixels are 1.2 GB, not worth copying.
    writeFileAtomicSync(path, [encodeHead(set, numClasses), set.images.subarray(0, set.count * imageSize(set))]);
    return true;
  } catch (err) {
    // A read-only data folder (e.g. a shared mount) only costs a re-decode next time.
    if (isPermissionError(err)) return false;
    throw err;
  }
}

/** Reads a cache file, or undefined when it does not exist. */
export function readImageCache(path: string): { set: ImageSet; numClasses: number } | undefined {
  if (!existsSync(path)) return undefined;
  return decodeImageCache(new Uint8Array(readFileSync(path)), path);
}
