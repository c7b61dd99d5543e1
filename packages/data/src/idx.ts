/**
 * IDX files (MNIST / Fashion-MNIST): big-endian header `0 0 <type> <ndims>`, one uint32 per dimension,
 * then the data. Only unsigned bytes (type 0x08) occur in these data sets.
 */
import { DatasetFormatError } from './errors.js';
import { gunzipVerified, isGzip } from './gzip.js';

export { isGzip };

/** A parsed IDX array of unsigned bytes. */
export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

/**
 * Parses IDX bytes, gunzipping first when they are gzip (CRC-32 and length verified: a damaged member
 * is a {@link CorruptFileError}, never silently different data).
 */
export function parseIdx(raw: Uint8Array, file = 'IDX file'): IdxArray {
  const bytes = isGzip(raw) ? gunzipVerified(raw, file) : raw;
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DatasetFormatError(file, 'not an IDX file (bad magic number)');
  }
  if (bytes[2] !== 0x08) {
    throw new DatasetFormatError(file, `IDX data type 0x${bytes[2]!.toString(16)} is not unsigned byte (0x08)`);
  }
  const ndims = bytes[3]!;
  const headerSize = 4 + 4 * ndims;
  if (ndims === 0 || bytes.length < headerSize) throw new DatasetFormatError(file, 'IDX header is truncated');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let d = 0; d < ndims; d++) shape.push(view.getUint32(4 + 4 * d, false));
  const expected = shape.reduce((a, b) => a * b, 1);
  if (bytes.length - headerSize !== expected) {
    throw new DatasetFormatError(
      file,
      `IDX header says ${shape.join('x')} = ${expected} bytes of data, file has ${bytes.length - headerSize}`,
    );
  }
  return { shape, data: bytes.subarray(headerSize) };
}

/** Encodes an unsigned-byte IDX array (for tests and fixtures). */
export function encodeIdx(shape: readonly number[], data: Uint8Array): Uint8Array {
  const headerSize = 4 + 4 * shape.length;
  const out = new Uint8Array(headerSize + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = shape.length;
  shape.forEach((s, d) => view.setUint32(4 + 4 * d, s, false));
  out.set(data, headerSize);
  return out;
}
