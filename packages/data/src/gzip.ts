/**
 * Gzip with its integrity checks. fflate's inflaters ignore the CRC-32 and ISIZE trailer, so a flipped
 * byte inside a member inflates "successfully" to different pixels; zlib (node:zlib) verifies both for
 * every member, in the one-shot and the streaming form.
 */
import { gunzipSync as zlibGunzipSync } from 'node:zlib';

/** Options passed on to zlib's `gunzipSync` (declared here so that this package's types do not need `@types/node`). */
export interface GunzipOptions {
  /** Largest output in bytes; larger output is an error (zlib's `maxOutputLength`). */
  maxOutputLength?: number;
  /** Chunk size in bytes (zlib's `chunkSize`). */
  chunkSize?: number;
}
import { CorruptFileError } from './errors.js';

/** True for the gzip magic bytes. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Turns a zlib failure into a {@link CorruptFileError} that says which check failed. */
export function gzipError(file: string, error: unknown): CorruptFileError {
  const message = error instanceof Error ? error.message : String(error);
  if (/incorrect data check/.test(message)) {
    return new CorruptFileError(
      file,
      'crc32',
      'gzip CRC-32 check failed: the inflated data do not match the checksum in the gzip trailer (the file is damaged)',
    );
  }
  if (/incorrect length check/.test(message)) {
    return new CorruptFileError(
      file,
      'length',
      'gzip length check failed: the inflated size does not match ISIZE in the gzip trailer (the file is damaged)',
    );
  }
  if (/unexpected end of file/.test(message)) {
    return new CorruptFileError(
      file,
      'truncated',
      'gzip stream is truncated: the file ends before the end of the compressed data and its trailer',
    );
  }
  if (/incorrect header check|unknown compression method|invalid window size|header/.test(message)) {
    return new CorruptFileError(file, 'header', `not a valid gzip member (${message}; a damaged header or bytes after the last member)`);
  }
  return new CorruptFileError(file, 'deflate', `gzip data is corrupt (${message})`);
}

/**
 * Inflates gzip bytes (all members), verifying every member's CRC-32 and ISIZE; throws
 * {@link CorruptFileError} naming `file` and the failed check.
 */
export function gunzipVerified(bytes: Uint8Array, file: string, options: GunzipOptions = {}): Uint8Array {
  try {
    const out = zlibGunzipSync(bytes, options);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (error) {
    throw gzipError(file, error);
  }
}
