import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { DatasetFormatError } from './errors.js';
import { encodeIdx, isGzip, parseIdx } from './idx.js';

describe('IDX', () => {
  it('parses a hand-made header: magic 0x00000803, big-endian dims', () => {
    const bytes = Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
    const a = parseIdx(bytes);
    expect(a.shape).toEqual([2, 1, 3]);
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('round-trips through encodeIdx, also gzipped', () => {
    const data = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
    const enc = encodeIdx([3, 10, 10], data);
    const gz = gzipSync(enc);
    expect(isGzip(gz)).toBe(true);
    expect(isGzip(enc)).toBe(false);
    expect(parseIdx(gz).data).toEqual(data);
    expect(parseIdx(enc).shape).toEqual([3, 10, 10]);
  });

  it('rejects a bad magic, a wrong data type, a size mismatch and corrupt gzip', () => {
    expect(() => parseIdx(Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 0]), 'm')).toThrow(/m: not an IDX file/);
    expect(() => parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 0]))).toThrow(/data type 0xd/);
    expect(() => parseIdx(encodeIdx([5], new Uint8Array(4)))).toThrow(/says 5 = 5 bytes of data, file has 4/);
    const gz = gzipSync(encodeIdx([5], new Uint8Array(5)));
    expect(() => parseIdx(gz.subarray(0, gz.length - 12), 'g')).toThrow(DatasetFormatError);
  });
});
