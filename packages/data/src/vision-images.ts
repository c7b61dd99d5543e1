/**
 * Images for probing ImageNet ViTs and Mixers (docs/paper-notes.md §13.1): an .npy uint8 array [N, H, W, 3] or a
 * folder of JPEGs (ImageNet's `train/<wnid>/*.JPEG`), read in a fixed order and batch by batch, resized bilinearly
 * to the checkpoint's resolution (TF's `tf.image.resize` default: half-pixel centres, no antialiasing), scaled to
 * [0, 1] and mapped to [−1, 1] as 2(x − 0.5).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { DatasetFormatError, DatasetNotFoundError } from './errors.js';
import { NpyFile, NpyFormatError } from './npy.js';

/**
 * Bilinear resize of an interleaved image [h, w, c] (any numeric values) to [outH, outW, c] as TF2's
 * `tf.image.resize(…, 'bilinear')`: output pixel i samples the input at (i + 0.5)·h/outH − 0.5, clamped to the
 * edge, no antialiasing. Float64 arithmetic, float32 result.
 */
export function resizeBilinear(src: ArrayLike<number>, h: number, w: number, c: number, outH: number, outW: number): Float32Array {
  const out = new Float32Array(outH * outW * c);
  const sy = h / outH;
  const sx = w / outW;
  const xs = new Int32Array(outW * 2);
  const fx = new Float64Array(outW);
  for (let j = 0; j < outW; j++) {
    const x = Math.min(Math.max((j + 0.5) * sx - 0.5, 0), w - 1);
    const x0 = Math.floor(x);
    xs[2 * j] = x0;
    xs[2 * j + 1] = Math.min(x0 + 1, w - 1);
    fx[j] = x - x0;
  }
  for (let i = 0; i < outH; i++) {
    const y = Math.min(Math.max((i + 0.5) * sy - 0.5, 0), h - 1);
    const y0 = Math.floor(y);
    const y1 = Math.min(y0 + 1, h - 1);
    const fy = y - y0;
    for (let j = 0; j < outW; j++) {
      const a = (y0 * w + xs[2 * j]!) * c;
      const b = (y0 * w + xs[2 * j + 1]!) * c;
      const d = (y1 * w + xs[2 * j]!) * c;
      const e = (y1 * w + xs[2 * j + 1]!) * c;
      const f = fx[j]!;
      const o = (i * outW + j) * c;
      for (let k = 0; k < c; k++) {
        const top = src[a + k]! + (src[b + k]! - src[a + k]!) * f;
        const bottom = src[d + k]! + (src[e + k]! - src[d + k]!) * f;
        out[o + k] = top + (bottom - top) * fy;
      }
    }
  }
  return out;
}

/** Pixel values 0…255 → 2(x/255 − 0.5), in place. */
export function toUnitRange(pixels: Float32Array): Float32Array {
  for (let i = 0; i < pixels.length; i++) pixels[i] = 2 * (pixels[i]! / 255 - 0.5);
  return pixels;
}

/** Where the images come from and how many there are. */
export interface VisionImageSource {
  readonly kind: 'npy' | 'folder';
  /** The file or folder read. */
  readonly location: string;
  /** Images available (after `limit`). */
  readonly count: number;
  /** How the order was made (for the report). */
  readonly order: string;
  /**
   * Images [start, start + count) as one float32 NHWC batch [count, size, size, 3]: resized to size × size,
   * mapped to [−1, 1].
   */
  read(start: number, count: number, size: number): Float32Array;
  /** Names of images [start, start + count) (file paths relative to the folder, or `#i` for an array). */
  names(start: number, count: number): string[];
  close(): void;
}

const IMAGE_EXT = new Set(['.jpeg', '.jpg', '.png']);

/**
 * Decodes one JPEG to RGB. A PNG (by its magic bytes: ImageNet's train split has one PNG named .JPEG) is a
 * `DatasetFormatError`: this package decodes JPEG only.
 */
export function decodeImageRgb(bytes: Uint8Array, file: string): { width: number; height: number; data: Uint8Array } {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    throw new DatasetFormatError(
      file,
      'is a PNG image; only JPEG is decoded (convert it to JPEG, or pass the images as an .npy uint8 array [N, H, W, 3])',
    );
  }
  try {
    const d = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: 200, maxMemoryUsageInMB: 2048 });
    return { width: d.width, height: d.height, data: d.data };
  } catch (err) {
    throw new DatasetFormatError(file, `cannot decode JPEG (${(err as Error).message})`);
  }
}

class NpyImages implements VisionImageSource {
  readonly kind = 'npy';
  readonly count: number;
  readonly order = 'array order';
  private readonly file: NpyFile;

  constructor(
    readonly location: string,
    limit: number,
  ) {
    this.file = new NpyFile(location);
    const { shape, dtype } = this.file.header;
    if (dtype !== '|u1' || shape.length !== 4 || shape[3] !== 3) {
      this.file.close();
      throw new NpyFormatError(
        location,
        dtype !== '|u1' ? 'dtype' : 'header',
        `expected a uint8 array [N, H, W, 3] of RGB images, got ${dtype} [${shape}]`,
      );
    }
    this.count = Math.min(limit, shape[0]!);
  }

  read(start: number, count: number, size: number): Float32Array {
    const [, h, w] = this.file.header.shape as [number, number, number, number];
    const raw = this.file.readRows(start, count) as Uint8Array;
    const out = new Float32Array(count * size * size * 3);
    for (let i = 0; i < count; i++) {
      const img = raw.subarray(i * h * w * 3, (i + 1) * h * w * 3);
      if (h === size && w === size) for (let k = 0; k < img.length; k++) out[i * size * size * 3 + k] = img[k]!;
      else out.set(resizeBilinear(img, h, w, 3, size, size), i * size * size * 3);
    }
    return toUnitRange(out);
  }

  names(start: number, count: number): string[] {
    return Array.from({ length: count }, (_, i) => `#${start + i}`);
  }

  close(): void {
    this.file.close();
  }
}

function imageFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && IMAGE_EXT.has(extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort();
}

class FolderImages implements VisionImageSource {
  readonly kind = 'folder';
  readonly count: number;
  readonly order: string;
  private readonly files: string[];

  constructor(
    readonly location: string,
    limit: number,
  ) {
    const classes = readdirSync(location, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    let files: string[];
    if (classes.length > 0) {
      // Class folders (ImageNet's train/<wnid>/): round-robin over the sorted classes, each in sorted file order,
      // so the first N images span every class as the unshuffled TFDS split does (not the first few classes).
      const lists = classes.map((c) => imageFiles(join(location, c)).map((f) => `${c}/${f}`));
      files = [];
      const longest = Math.max(0, ...lists.map((l) => l.length));
      for (let i = 0; i < longest && files.length < limit; i++)
        for (const l of lists) if (i < l.length && files.length < limit) files.push(l[i]!);
      this.order = `round-robin over ${classes.length} class folders (sorted), files sorted within each`;
    } else {
      files = imageFiles(location).slice(0, limit);
      this.order = 'file names sorted';
    }
    if (files.length === 0)
      throw new DatasetNotFoundError('images', [location], 'No .JPEG/.jpg images found there (nor in class subfolders).');
    this.files = files;
    this.count = files.length;
  }

  read(start: number, count: number, size: number): Float32Array {
    const out = new Float32Array(count * size * size * 3);
    for (let i = 0; i < count; i++) {
      const file = join(this.location, this.files[start + i]!);
      const { width, height, data } = decodeImageRgb(new Uint8Array(readFileSync(file)), file);
      out.set(resizeBilinear(data, height, width, 3, size, size), i * size * size * 3);
    }
    return toUnitRange(out);
  }

  names(start: number, count: number): string[] {
    return this.files.slice(start, start + count);
  }

  close(): void {}
}

/**
 * Opens images for a vision probe: an .npy uint8 array [N, H, W, 3] (read row by row, never whole), or a folder
 * of JPEGs — flat (sorted names) or with class subfolders (round-robin over the sorted classes, sorted names
 * within each, so that the first N cover all classes). An ImageNet root (with `train/`) means its `train/`.
 * At most `limit` images are used. Missing path → `DatasetNotFoundError`; a bad array → `NpyFormatError`.
 */
export function openVisionImages(path: string, options: { limit?: number } = {}): VisionImageSource {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (!existsSync(path))
    throw new DatasetNotFoundError('images', [path], 'Pass --images an .npy uint8 array [N, H, W, 3] or a folder of JPEG images.');
  if (statSync(path).isDirectory()) {
    const train = join(path, 'train');
    return new FolderImages(existsSync(train) && statSync(train).isDirectory() ? train : path, limit);
  }
  return new NpyImages(path, limit);
}
