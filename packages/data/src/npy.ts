/**
 * NumPy's .npy format (version 1.0–3.0): the header parser, a reader for whole arrays and for row ranges of a file
 * too large to load (an ImageNet image array), and a streaming writer of float32 matrices (feature dumps). Only the
 * little-endian float32/float64 and uint8 dtypes the project needs are read; anything else is a typed error.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { DatasetFormatError } from './errors.js';

/** What is wrong with an .npy array: its header, its dtype, its memory order, or its length. */
export class NpyFormatError extends DatasetFormatError {
  override name = 'NpyFormatError';
  constructor(
    file: string,
    readonly check: 'header' | 'dtype' | 'order' | 'truncated',
    problem: string,
  ) {
    super(file, problem);
  }
}

/** The dtypes this reader understands (NumPy `descr` strings). */
export type NpyDtype = '<f4' | '<f8' | '|u1';

const BYTES: Record<NpyDtype, number> = { '<f4': 4, '<f8': 8, '|u1': 1 };

/** A parsed .npy header. */
export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Offset of the first data byte. */
  dataOffset: number;
  /** Bytes per element. */
  itemSize: number;
  /** Number of elements (product of the shape). */
  size: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Bytes needed to parse any header: magic, version and the length field. */
export const NPY_PREAMBLE = 12;

/**
 * Parses the header at the start of `bytes` (which must hold at least the whole header). Throws
 * {@link NpyFormatError}: 'header' for a bad magic, version or dictionary, 'dtype' for a dtype other than `<f4`,
 * `<f8` or `|u1` (e.g. int64, big-endian floats), 'order' for Fortran-ordered data.
 */
export function parseNpyHeader(bytes: Uint8Array, file: string): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b))
    throw new NpyFormatError(file, 'header', 'not an .npy array (no \\x93NUMPY magic)');
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw new NpyFormatError(file, 'header', `unsupported .npy format version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw new NpyFormatError(file, 'truncated', 'the .npy header is cut off');
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes;
  if (bytes.length < start + headerLen) throw new NpyFormatError(file, 'truncated', 'the .npy header is cut off');
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new NpyFormatError(file, 'header', `cannot parse the .npy header ${JSON.stringify(text.trim())}`);
  // '<f4' and '=f4' are the same on the little-endian machines numpy files come from; '|u1' may be spelt '<u1'.
  const normalized = descr
    .replace(/^=/, '<')
    .replace(/^[<>]u1$/, '|u1')
    .replace(/^\|f/, '<f');
  if (!(normalized in BYTES)) {
    throw new NpyFormatError(file, 'dtype', `dtype '${descr}' is not supported (float32 '<f4', float64 '<f8' or uint8 '|u1')`);
  }
  if (fortran === 'True')
    throw new NpyFormatError(file, 'order', 'Fortran-ordered arrays are not supported (save it with np.ascontiguousarray)');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Number(s.replace(/L$/, '')));
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0))
    throw new NpyFormatError(file, 'header', `bad shape (${shapeText}) in the .npy header`);
  const dtype = normalized as NpyDtype;
  return { dtype, shape, dataOffset: start + headerLen, itemSize: BYTES[dtype], size: shape.reduce((a, b) => a * b, 1) };
}

/** A whole array: its header and values (float32 for both float dtypes, uint8 for '|u1'). */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: Float32Array | Uint8Array;
}

/**
 * Converts little-endian element bytes to values: float32 copied (aligned), float64 rounded to float32, uint8 as
 * is (a copy).
 */
function decode(bytes: Uint8Array, dtype: NpyDtype): Float32Array | Uint8Array {
  if (dtype === '|u1') return bytes.slice();
  const copy = bytes.slice();
  if (dtype === '<f4') return new Float32Array(copy.buffer, 0, copy.length / 4);
  return Float32Array.from(new Float64Array(copy.buffer, 0, copy.length / 8));
}

/**
 * Reads a whole array from .npy bytes. Throws {@link NpyFormatError} for a bad header or dtype and for data shorter
 * than the shape needs ('truncated'); `float: true` also refuses uint8 ('dtype').
 */
export function decodeNpy(bytes: Uint8Array, file: string, options: { float?: boolean } = {}): NpyArray {
  const h = parseNpyHeader(bytes, file);
  if (options.float && h.dtype === '|u1')
    throw new NpyFormatError(file, 'dtype', "dtype '|u1' is not a float array (float32 '<f4' or float64 '<f8')");
  const need = h.size * h.itemSize;
  if (bytes.length - h.dataOffset < need) {
    throw new NpyFormatError(
      file,
      'truncated',
      `shape [${h.shape}] needs ${need} data bytes, the array has ${bytes.length - h.dataOffset}`,
    );
  }
  return { dtype: h.dtype, shape: h.shape, data: decode(bytes.subarray(h.dataOffset, h.dataOffset + need), h.dtype) };
}

/**
 * An .npy file opened for reading rows (entries of the first axis) without loading it: an image array of
 * ImageNet size does not fit in memory. Close it when done.
 */
export class NpyFile {
  readonly header: NpyHeader;
  /** Elements per row (product of the shape after the first axis). */
  readonly rowSize: number;
  private fd: number | null;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
    try {
      const head = new Uint8Array(4096);
      let got = readSync(this.fd, head, 0, head.length, 0);
      let bytes = head.subarray(0, got);
      if (got >= NPY_PREAMBLE && bytes[6]! >= 2) {
        // Version 2+ headers may be longer than 4 kB.
        const len = new DataView(bytes.buffer).getUint32(8, true) + NPY_PREAMBLE;
        if (len > bytes.length) {
          bytes = new Uint8Array(len);
          got = readSync(this.fd, bytes, 0, len, 0);
          bytes = bytes.subarray(0, got);
        }
      }
      this.header = parseNpyHeader(bytes, path);
      if (this.header.shape.length < 1) throw new NpyFormatError(path, 'header', 'a 0-d array has no rows');
      this.rowSize = this.header.shape.slice(1).reduce((a, b) => a * b, 1);
      const need = this.header.dataOffset + this.header.size * this.header.itemSize;
      const size = fstatSync(this.fd).size;
      if (size < need)
        throw new NpyFormatError(path, 'truncated', `shape [${this.header.shape}] needs ${need} bytes, the file has ${size}`);
    } catch (error) {
      closeSync(this.fd);
      this.fd = null;
      throw error;
    }
  }

  /** Number of rows (the first axis). */
  get rows(): number {
    return this.header.shape[0]!;
  }

  /** Rows [start, start + count) as values (see {@link NpyArray}). */
  readRows(start: number, count: number): Float32Array | Uint8Array {
    if (this.fd === null) throw new Error(`${this.path} is closed`);
    if (!(start >= 0 && count >= 0 && start + count <= this.rows))
      throw new RangeError(`rows ${start}..${start + count} are outside 0..${this.rows}`);
    const { itemSize, dataOffset, dtype } = this.header;
    const bytes = new Uint8Array(count * this.rowSize * itemSize);
    let done = 0;
    while (done < bytes.length) {
      const got = readSync(this.fd, bytes, done, bytes.length - done, dataOffset + start * this.rowSize * itemSize + done);
      if (got === 0) throw new NpyFormatError(this.path, 'truncated', 'the file ended while reading rows');
      done += got;
    }
    return dtype === '|u1' ? bytes : decode(bytes, dtype);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** The header bytes of a version 1.0 .npy file (padded so that the data start at a multiple of 64). */
export function npyHeaderBytes(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${dims}), }`;
  const unpadded = 10 + dict.length + 1;
  dict += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + dict.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  return out;
}

/** A whole array as .npy bytes. */
export function encodeNpy(dtype: NpyDtype, shape: readonly number[], data: Float32Array | Float64Array | Uint8Array): Uint8Array {
  const header = npyHeaderBytes(dtype, shape);
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(header.length + body.length);
  out.set(header, 0);
  out.set(body, header.length);
  return out;
}

/**
 * Writes a float32 matrix [rows, cols] to an .npy file row block by row block, at any row offset (so an
 * interrupted write can be continued), into `<path>.partial`; `finish()` renames it into place once every row is
 * written. Memory: one block at a time.
 */
export class NpyMatrixWriter {
  readonly partial: string;
  private fd: number | null;
  private readonly dataOffset: number;
  private readonly written: Uint8Array;

  /**
   * Opens `<path>.partial`: a new file, or with `resumeRows` the one an interrupted writer left, whose first
   * `resumeRows` rows it had written (they are kept).
   */
  constructor(
    readonly path: string,
    readonly rows: number,
    readonly cols: number,
    options: { resumeRows?: number } = {},
  ) {
    const resume = options.resumeRows !== undefined;
    this.partial = `${path}.partial`;
    const header = npyHeaderBytes('<f4', [rows, cols]);
    this.dataOffset = header.length;
    this.written = new Uint8Array(rows);
    this.fd = openSync(this.partial, resume ? 'r+' : 'w');
    if (resume && fstatSync(this.fd).size !== this.dataOffset + rows * cols * 4) {
      closeSync(this.fd);
      this.fd = null;
      throw new NpyFormatError(this.partial, 'truncated', `is not the [${rows}, ${cols}] float32 array being written`);
    }
    if (!resume) writeSync(this.fd, header, 0, header.length, 0);
    ftruncateSync(this.fd, this.dataOffset + rows * cols * 4);
    this.written.fill(1, 0, Math.min(rows, options.resumeRows ?? 0));
  }

  /** Writes rows [start, start + data.length / cols). */
  writeRows(start: number, data: Float32Array): void {
    if (this.fd === null) throw new Error(`${this.partial} is closed`);
    const count = data.length / this.cols;
    if (!Number.isInteger(count) || start < 0 || start + count > this.rows)
      throw new RangeError(`rows ${start}..${start + count} do not fit [${this.rows}, ${this.cols}]`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let done = 0;
    while (done < bytes.length)
      done += writeSync(this.fd, bytes, done, bytes.length - done, this.dataOffset + start * this.cols * 4 + done);
    this.written.fill(1, start, start + count);
  }

  /** Closes the file and renames it to `path`; every row must have been written. */
  finish(): void {
    const missing = this.written.indexOf(0);
    if (missing >= 0) throw new Error(`${this.partial}: row ${missing} was never written`);
    this.close();
    renameSync(this.partial, this.path);
  }

  /** Closes the file, leaving `<path>.partial` (for a later resume). */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
