/**
 * NumPy's .npz archives (a zip of .npy files, `np.savez` / `np.savez_compressed`), the format of the
 * vision_transformer checkpoints. Read with random access: the central directory first (ZIP64 included: numpy
 * writes ZIP64 records), then one entry at a time, so a 1.2 GB ViT-L checkpoint never sits in memory twice. Stored
 * and deflated entries; every entry's CRC-32 is checked. Damage is a typed error: `CorruptFileError` for the zip
 * (truncated, bad record, CRC), `NpyFormatError` for an array (header, dtype, length).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import * as zlib from 'node:zlib';
import { inflateSync } from 'fflate';
import { CorruptFileError } from './errors.js';
import { NpyFormatError, decodeNpy, parseNpyHeader, type NpyDtype } from './npy.js';

/** One entry of the archive's central directory. */
interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX32 = 0xffffffff;

let crcTable: Uint32Array | null = null;

/** CRC-32 (zip's polynomial): node:zlib's where it has one (Node ≥ 20.15), else a table-driven loop. */
export function crc32(bytes: Uint8Array): number {
  const native = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32;
  if (native) return native(bytes) >>> 0;
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function u64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
}

/** An .npz (zip) archive opened for reading its arrays one by one. Close it when done. */
export class NpzFile {
  /** Arrays in the archive, by name without the `.npy` suffix, in archive order. */
  readonly names: string[];
  private readonly entries = new Map<string, ZipEntry>();
  private fd: number | null;
  private readonly fileSize: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
    try {
      this.fileSize = fstatSync(this.fd).size;
      for (const e of this.readCentralDirectory()) {
        if (!e.name.endsWith('.npy')) continue;
        this.entries.set(e.name.slice(0, -4), e);
      }
      this.names = [...this.entries.keys()];
    } catch (error) {
      closeSync(this.fd);
      this.fd = null;
      throw error;
    }
  }

  private read(at: number, length: number): Uint8Array {
    if (this.fd === null) throw new Error(`${this.path} is closed`);
    if (at < 0 || at + length > this.fileSize)
      throw new CorruptFileError(
        this.path,
        'truncated',
        `the zip archive is truncated (a record at byte ${at} runs past the end of the ${this.fileSize}-byte file)`,
      );
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const got = readSync(this.fd, out, done, length - done, at + done);
      if (got === 0) throw new CorruptFileError(this.path, 'truncated', 'the zip archive ended early');
      done += got;
    }
    return out;
  }

  private readCentralDirectory(): ZipEntry[] {
    const tailLength = Math.min(this.fileSize, 22 + 0xffff);
    const tail = this.read(this.fileSize - tailLength, tailLength);
    const tv = new DataView(tail.buffer);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tv.getUint32(i, true) === EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0)
      throw new CorruptFileError(
        this.path,
        'truncated',
        'not a complete zip archive (no end-of-central-directory record: truncated, or not an .npz)',
      );
    let count = tv.getUint16(eocd + 10, true);
    let cdSize = tv.getUint32(eocd + 12, true);
    let cdOffset = tv.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === MAX32 || cdOffset === MAX32) {
      const loc = eocd - 20;
      if (loc < 0 || tv.getUint32(loc, true) !== EOCD64_LOCATOR)
        throw new CorruptFileError(this.path, 'header', 'the ZIP64 end-of-central-directory locator is missing');
      const rec = this.read(u64(tv, loc + 8), 56);
      const rv = new DataView(rec.buffer);
      if (rv.getUint32(0, true) !== EOCD64) throw new CorruptFileError(this.path, 'header', 'bad ZIP64 end-of-central-directory record');
      count = u64(rv, 32);
      cdSize = u64(rv, 40);
      cdOffset = u64(rv, 48);
    }
    const cd = this.read(cdOffset, cdSize);
    const v = new DataView(cd.buffer);
    const out: ZipEntry[] = [];
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (at + 46 > cd.length || v.getUint32(at, true) !== CENTRAL)
        throw new CorruptFileError(this.path, 'header', `bad central directory record ${i}`);
      const method = v.getUint16(at + 10, true);
      const crc = v.getUint32(at + 16, true);
      let compressedSize = v.getUint32(at + 20, true);
      let size = v.getUint32(at + 24, true);
      const nameLen = v.getUint16(at + 28, true);
      const extraLen = v.getUint16(at + 30, true);
      const commentLen = v.getUint16(at + 32, true);
      let localOffset = v.getUint32(at + 42, true);
      const name = new TextDecoder().decode(cd.subarray(at + 46, at + 46 + nameLen));
      // ZIP64 extra field (0x0001): the 64-bit values of the fields that read 0xFFFFFFFF, in this order.
      let e = at + 46 + nameLen;
      const end = e + extraLen;
      while (e + 4 <= end) {
        const id = v.getUint16(e, true);
        const len = v.getUint16(e + 2, true);
        if (id === 1) {
          let p = e + 4;
          if (size === MAX32) {
            size = u64(v, p);
            p += 8;
          }
          if (compressedSize === MAX32) {
            compressedSize = u64(v, p);
            p += 8;
          }
          if (localOffset === MAX32) localOffset = u64(v, p);
        }
        e += 4 + len;
      }
      out.push({ name, method, crc, compressedSize, size, localOffset });
      at += 46 + nameLen + extraLen + commentLen;
    }
    return out;
  }

  /** The bytes of one entry's .npy file, inflated and CRC-checked. */
  private entryBytes(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new CorruptFileError(this.path, 'header', `the archive has no array '${name}'`);
    const local = this.read(e.localOffset, 30);
    const lv = new DataView(local.buffer);
    if (lv.getUint32(0, true) !== LOCAL) throw new CorruptFileError(this.path, 'header', `bad local header of ${e.name}`);
    const start = e.localOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
    const raw = this.read(start, e.compressedSize);
    let bytes: Uint8Array;
    if (e.method === 0) bytes = raw;
    else if (e.method === 8) {
      try {
        bytes = inflateSync(raw, { out: new Uint8Array(e.size) });
      } catch (error) {
        throw new CorruptFileError(this.path, 'deflate', `${e.name}: the deflated data are corrupt (${(error as Error).message})`);
      }
    } else
      throw new CorruptFileError(this.path, 'header', `${e.name}: compression method ${e.method} is not supported (stored or deflate)`);
    if (bytes.length !== e.size) throw new CorruptFileError(this.path, 'length', `${e.name}: ${bytes.length} bytes instead of ${e.size}`);
    if (crc32(bytes) !== e.crc) throw new CorruptFileError(this.path, 'crc32', `${e.name}: CRC-32 check failed (the archive is damaged)`);
    return bytes;
  }

  /**
   * The dtype and shape of an array from the first bytes of a stored entry (a deflated one is read whole); no
   * CRC check, for a quick look at a large archive. `header` checks the whole entry.
   */
  peekHeader(name: string): { dtype: NpyDtype; shape: number[] } {
    const e = this.entries.get(name);
    if (!e) throw new CorruptFileError(this.path, 'header', `the archive has no array '${name}'`);
    if (e.method !== 0) return this.header(name);
    const local = this.read(e.localOffset, 30);
    const lv = new DataView(local.buffer);
    if (lv.getUint32(0, true) !== LOCAL) throw new CorruptFileError(this.path, 'header', `bad local header of ${e.name}`);
    const start = e.localOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
    try {
      const h = parseNpyHeader(this.read(start, Math.min(e.size, 8192)), `${this.path}:${name}`);
      if (h.dataOffset + h.size * h.itemSize > e.size)
        throw new NpyFormatError(`${this.path}:${name}`, 'truncated', `shape [${h.shape}] needs more bytes than the entry holds`);
      return { dtype: h.dtype, shape: h.shape };
    } catch (error) {
      if (error instanceof NpyFormatError && error.check === 'truncated' && e.size > 8192) return this.header(name);
      throw error;
    }
  }

  /** The dtype and shape of an array (reads and checks the entry). */
  header(name: string): { dtype: NpyDtype; shape: number[] } {
    const h = parseNpyHeader(this.entryBytes(name), `${this.path}:${name}`);
    return { dtype: h.dtype, shape: h.shape };
  }

  /** One array as float32 (float64 arrays are rounded); any other dtype is an `NpyFormatError` ('dtype'). */
  readFloat32(name: string): { shape: number[]; data: Float32Array } {
    const a = decodeNpy(this.entryBytes(name), `${this.path}:${name}`, { float: true });
    return { shape: a.shape, data: a.data as Float32Array };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * Every array of an .npz as float32 (`<f4` as is, `<f8` rounded), keyed by name. Throws `CorruptFileError` for a
 * damaged archive and `NpyFormatError` for an array that is not float32/float64 or is shorter than its shape.
 */
export function readNpz(path: string): Record<string, { shape: number[]; data: Float32Array }> {
  const npz = new NpzFile(path);
  try {
    const out: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const name of npz.names) out[name] = npz.readFloat32(name);
    if (npz.names.length === 0) throw new NpyFormatError(path, 'header', 'the archive holds no .npy arrays');
    return out;
  } finally {
    npz.close();
  }
}
