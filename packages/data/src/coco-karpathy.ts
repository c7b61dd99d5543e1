/**
 * MS-COCO captions in Karpathy's splits, the paper's contrastive image–text data (docs/paper-notes.md §6.5): one
 * JSON file (`dataset_coco.json` from Andrej Karpathy's `caption_datasets.zip`) lists every COCO 2014 image with its
 * split and its five or so human captions; the images themselves are the official `train2014/` and `val2014/`
 * folders. The paper trains on the 82,783 `train` images (not `restval`) and evaluates retrieval on `test`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { DatasetFormatError, DatasetNotFoundError } from './errors.js';
import { decodeImageRgb, resizeBilinear } from './vision-images.js';

/** File name of Karpathy's COCO split file. */
export const KARPATHY_SPLIT_FILE = 'dataset_coco.json';

/** Karpathy's four splits: `restval` is the part of COCO's val2014 that the split adds to training. */
export type KarpathySplit = 'train' | 'restval' | 'val' | 'test';

const SPLITS: readonly KarpathySplit[] = ['train', 'restval', 'val', 'test'];

/** One image of a split. */
export interface KarpathyEntry {
  /** `filepath/filename` (e.g. `val2014/COCO_val2014_000000391895.jpg`), relative to the image root. */
  path: string;
  /** The human captions, as written (`raw`), surrounding whitespace removed. */
  captions: string[];
  /** COCO's image id, or null where the file has none. */
  cocoid: number | null;
  split: KarpathySplit;
}

const SPLIT_FILE_HINT =
  "It is part of Andrej Karpathy's caption_datasets.zip (https://cs.stanford.edu/people/karpathy/deepimagesent/caption_datasets.zip); " +
  `unzip it and pass the path of ${KARPATHY_SPLIT_FILE}.`;

const IMAGES_HINT =
  'The images are the COCO 2014 train and val images (train2014.zip and val2014.zip from https://cocodataset.org); ' +
  'unzip both under the image root so that <root>/train2014/ and <root>/val2014/ exist.';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A path inside the image root: relative, without `..`, so a split file cannot point a reader elsewhere. */
function safeRelative(path: string): boolean {
  return path.length > 0 && !isAbsolute(path) && !path.split(/[\\/]/).some((part) => part === '..');
}

function captionsOf(entry: Record<string, unknown>, fail: (problem: string) => never): string[] {
  const sentences = entry['sentences'];
  if (!Array.isArray(sentences) || sentences.length === 0) fail('has no captions ("sentences" is missing or empty)');
  return sentences.map((sentence, k) => {
    if (isRecord(sentence)) {
      if (typeof sentence['raw'] === 'string' && sentence['raw'].trim() !== '') return sentence['raw'].trim();
      // Some derived files keep only the tokenized words.
      const tokens = sentence['tokens'];
      if (Array.isArray(tokens) && tokens.length > 0 && tokens.every((t) => typeof t === 'string')) return tokens.join(' ');
    }
    return fail(`caption ${k} has neither a "raw" text nor "tokens"`);
  });
}

/**
 * The entries of one split, in file order; `limit` keeps the first ones. A missing file is a
 * {@link DatasetNotFoundError} saying where the file comes from; a file that is not JSON, has no `images` array, or
 * has an entry without a file name or captions is a {@link DatasetFormatError} naming the file and the entry's index.
 */
export function readKarpathySplit(jsonPath: string, split: KarpathySplit, options: { limit?: number } = {}): KarpathyEntry[] {
  return readKarpathySplits(jsonPath, { [split]: options.limit ?? Number.POSITIVE_INFINITY }).splits[split]!;
}

/**
 * Several splits from one read of the file (COCO's is ~140 MB of JSON): for each split asked for, its first `limit`
 * entries (Infinity: all) in file order, with the same checks and errors as {@link readKarpathySplit}, and the
 * SHA-256 of the file's bytes.
 */
export function readKarpathySplits(
  jsonPath: string,
  limits: Partial<Record<KarpathySplit, number>>,
): { splits: Partial<Record<KarpathySplit, KarpathyEntry[]>>; sha256: string } {
  const wanted = Object.entries(limits) as [KarpathySplit, number][];
  for (const [split, limit] of wanted) {
    if (!SPLITS.includes(split)) throw new RangeError(`split must be one of ${SPLITS.join(', ')}, got ${JSON.stringify(split)}`);
    if (!(limit >= 0) || (limit !== Number.POSITIVE_INFINITY && !Number.isInteger(limit))) {
      throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
    }
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(jsonPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new DatasetNotFoundError(`the Karpathy split file ${KARPATHY_SPLIT_FILE}`, [jsonPath], `(${code}) ${SPLIT_FILE_HINT}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new DatasetFormatError(jsonPath, `is not valid JSON (${(err as Error).message})`);
  }
  if (!isRecord(parsed) || !Array.isArray(parsed['images'])) {
    throw new DatasetFormatError(jsonPath, `has no "images" array (is it Karpathy's ${KARPATHY_SPLIT_FILE}?)`);
  }
  const images: unknown[] = parsed['images'];
  const splits: Partial<Record<KarpathySplit, KarpathyEntry[]>> = Object.fromEntries(wanted.map(([split]) => [split, []]));
  const full = () => wanted.every(([split, limit]) => splits[split]!.length >= limit);
  for (let i = 0; i < images.length && !full(); i++) {
    const fail: (problem: string) => never = (problem) => {
      throw new DatasetFormatError(jsonPath, `image entry ${i} ${problem}`);
    };
    const record = images[i];
    if (!isRecord(record)) fail('is not an object');
    const entrySplit = record['split'];
    if (typeof entrySplit !== 'string' || !SPLITS.includes(entrySplit as KarpathySplit)) {
      fail(`has split ${JSON.stringify(entrySplit)}, not one of ${SPLITS.join(', ')}`);
    }
    const split = entrySplit as KarpathySplit;
    const into = splits[split];
    if (!into || into.length >= limits[split]!) continue;
    const filename = record['filename'];
    if (typeof filename !== 'string' || filename === '') fail('has no "filename"');
    const filepath = record['filepath'];
    if (filepath !== undefined && typeof filepath !== 'string') fail('has a "filepath" that is not a string');
    // Karpathy's Flickr files have no filepath: their images sit directly under the root.
    const path = filepath ? `${filepath}/${filename}` : filename;
    if (!safeRelative(path)) fail(`has image path ${JSON.stringify(path)} outside the image root`);
    const cocoid = record['cocoid'] ?? null;
    if (cocoid !== null && !Number.isInteger(cocoid)) fail(`has a "cocoid" that is not an integer`);
    into.push({ path, captions: captionsOf(record, fail), cocoid: cocoid as number | null, split });
  }
  return { splits, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * The entries' images as one float32 NHWC batch `[n, size, size, 3]` in [0, 1]: each JPEG decoded to RGB (a
 * greyscale one repeated over the channels), resized to size×size bilinearly without keeping the aspect ratio (as
 * `tf.image.resize`), divided by 255. A missing image is a {@link DatasetNotFoundError}, one that does not decode a
 * {@link DatasetFormatError} naming the file. The whole batch is held at once (n·size²·12 bytes): load a long split
 * in chunks of entries.
 */
export function loadCocoImages(
  root: string,
  entries: readonly KarpathyEntry[],
  size: number,
  options: { onProgress?: (done: number, total: number) => void } = {},
): Float32Array {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  const pixels = size * size * 3;
  const out = new Float32Array(entries.length * pixels);
  entries.forEach((entry, i) => {
    const file = join(root, entry.path);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new DatasetNotFoundError(`COCO image ${entry.path}`, [file], IMAGES_HINT);
      throw new DatasetFormatError(file, `cannot be read (${code ?? (err as Error).message})`);
    }
    const image = decodeImageRgb(bytes, file);
    if (image.width < 1 || image.height < 1) throw new DatasetFormatError(file, `decodes to an empty ${image.width}x${image.height} image`);
    const resized = resizeBilinear(image.data, image.height, image.width, 3, size, size);
    const at = i * pixels;
    for (let k = 0; k < pixels; k++) out[at + k] = resized[k]! / 255;
    options.onProgress?.(i + 1, entries.length);
  });
  return out;
}
