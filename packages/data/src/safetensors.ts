/**
 * The safetensors format of Hugging Face checkpoints (`model.safetensors` of `bert-base-cased`): an 8-byte
 * little-endian header length, a JSON header `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__ }`,
 * then the raw little-endian data, offsets counted from its start. Float arrays (F32, F64, F16, BF16) come back as
 * float32; integer ones (a BERT's `position_ids` buffer) are listed, not decoded.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { DatasetFormatError } from './errors.js';

/** What is wrong with a safetensors file: its header, an entry's dtype or shape, or where its data lies. */
export class SafetensorsFormatError extends DatasetFormatError {
  override name = 'SafetensorsFormatError';
}

/** The dtypes stored as floats, with their bytes per element. */
const FLOAT_BYTES = { F32: 4, F64: 8, F16: 2, BF16: 2 } as const;
const INTEGER_BYTES: Record<string, number> = { I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1 };

/** A decoded safetensors file. */
export interface Safetensors {
  /** Float arrays by name, as float32, row-major. */
  arrays: Record<string, { shape: number[]; data: Float32Array }>;
  /** Arrays of integer or boolean dtypes, left undecoded. */
  nonFloat: { name: string; dtype: string }[];
  /** The header's `__metadata__` (string to string), if any. */
  metadata: Record<string, string>;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function decodeFloats(view: DataView, begin: number, count: number, dtype: keyof typeof FLOAT_BYTES): Float32Array {
  const out = new Float32Array(count);
  // One loop per dtype: a checkpoint holds up to ~10⁸ values, so the dtype is not decided per element.
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(begin + 4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(begin + 8 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(begin + 2 * i, true));
      break;
    case 'BF16': {
      // bfloat16 is the upper half of a float32.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(begin + 2 * i, true) << 16;
      break;
    }
  }
  return out;
}

/** One array as a safetensors header declares it, checked against the file's length. */
export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte range within the data section (after the header). */
  begin: number;
  end: number;
  /** Whether the dtype is one of the float types this reader decodes. */
  float: boolean;
}

/** A safetensors header: where the data starts, every array's entry, and `__metadata__`. */
export interface SafetensorsHeader {
  dataStart: number;
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
}

/**
 * Parses and checks a safetensors header: `head` holds at least the file's first 8 + header-length bytes, and
 * `fileLength` is the whole file's size, so every entry's dtype, shape and data range are checked without reading
 * (or decoding) the data. `file` names the source in errors.
 */
export function parseSafetensorsHeader(head: Uint8Array, fileLength: number, file: string): SafetensorsHeader {
  const fail = (problem: string): never => {
    throw new SafetensorsFormatError(file, problem);
  };
  if (fileLength < 8 || head.length < 8) fail(`${fileLength} bytes is too short for a safetensors file (no header length)`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > fileLength - 8) fail(`the header claims ${headerLength} bytes but the file has ${fileLength - 8} after the length`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(8, 8 + headerLength)));
  } catch (err) {
    return fail(`the header is not JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('the header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = fileLength - dataStart;
  const out: SafetensorsHeader = { dataStart, entries: [], metadata: {} };
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (entry && typeof entry === 'object') out.metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(`entry '${name}' is not an object`);
    const { dtype, shape, data_offsets: offsets } = e;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`entry '${name}' has no valid shape`);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      fail(`entry '${name}' has no valid data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLength) fail(`entry '${name}' ends at byte ${end} of the data, which has ${dataLength} (a truncated file?)`);
    const count = (shape as number[]).reduce((a, d) => a * d, 1);
    const itemBytes = FLOAT_BYTES[dtype as keyof typeof FLOAT_BYTES] ?? INTEGER_BYTES[dtype as string];
    if (itemBytes === undefined) fail(`entry '${name}' has dtype ${JSON.stringify(dtype)}, which safetensors does not define`);
    if (end - begin !== count * itemBytes!) {
      fail(`entry '${name}' holds ${end - begin} bytes, but [${shape}] of ${dtype} needs ${count * itemBytes!}`);
    }
    out.entries.push({
      name,
      dtype: dtype as string,
      shape: [...(shape as number[])],
      begin,
      end,
      float: (dtype as string) in FLOAT_BYTES,
    });
  }
  return out;
}

/** Decodes safetensors bytes; `file` names the source in errors. */
export function decodeSafetensors(bytes: Uint8Array, file: string): Safetensors {
  const header = parseSafetensorsHeader(bytes, bytes.length, file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Safetensors = { arrays: {}, nonFloat: [], metadata: header.metadata };
  for (const e of header.entries) {
    if (e.float) {
      const count = e.shape.reduce((a, d) => a * d, 1);
      out.arrays[e.name] = {
        shape: e.shape,
        data: decodeFloats(view, header.dataStart + e.begin, count, e.dtype as keyof typeof FLOAT_BYTES),
      };
    } else {
      out.nonFloat.push({ name: e.name, dtype: e.dtype });
    }
  }
  return out;
}

/**
 * Reads only the header of a `.safetensors` file (and its size): the checks of {@link parseSafetensorsHeader}
 * without reading the data, for a file that may be hundreds of megabytes.
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const lengthBytes = new Uint8Array(8);
    readSync(fd, lengthBytes, 0, 8, 0);
    const headerLength = size >= 8 ? Number(new DataView(lengthBytes.buffer).getBigUint64(0, true)) : 0;
    const head = new Uint8Array(8 + Math.min(headerLength, Math.max(0, size - 8)));
    readSync(fd, head, 0, head.length, 0);
    return parseSafetensorsHeader(head, size, path);
  } catch (err) {
    if (err instanceof SafetensorsFormatError) throw err;
    throw new SafetensorsFormatError(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Reads and decodes a `.safetensors` file. */
export function readSafetensors(path: string): Safetensors {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new SafetensorsFormatError(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return decodeSafetensors(bytes, path);
}

/** Encodes float32 arrays as safetensors (F32, in the given order), e.g. to hand a model's weights to PyTorch. */
export function encodeSafetensors(
  arrays: Record<string, { shape: readonly number[]; data: Float32Array }>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const [name, { shape, data }] of Object.entries(arrays)) {
    if (data.length !== shape.reduce((a, d) => a * d, 1)) throw new RangeError(`'${name}': ${data.length} values for shape [${shape}]`);
    header[name] = { dtype: 'F32', shape: [...shape], data_offsets: [offset, offset + 4 * data.length] };
    offset += 4 * data.length;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const { data } of Object.values(arrays)) {
    for (let i = 0; i < data.length; i++) view.setFloat32(at + 4 * i, data[i]!, true);
    at += 4 * data.length;
  }
  return out;
}
