import { gunzipSync as fflateGunzipSync, gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { CorruptFileError, DatasetFormatError } from './errors.js';
import { encodeIdx, isGzip, parseIdx } from './idx.js';
import { damageGzip, randomImageSet } from './test-archives.js';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

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

  it('verifies gzip CRC-32 and ISIZE: every damage is a CorruptFileError naming the file and the failed check', () => {
    const images = randomImageSet(40, 28, 28, 1, 10, 3);
    const gz = gzipSync(encodeIdx([40, 28, 28], images.images));
    // The silent case the check exists for: fflate alone inflates the damaged member to other pixels.
    const flipped = damageGzip(gz, 'deflate');
    expect(fflateGunzipSync(flipped).length).toBe(40 * 784 + 16);
    const cases: [Uint8Array, string, RegExp][] = [
      [flipped, 'crc32', /t10k-images-idx3-ubyte.gz: gzip CRC-32 check failed/],
      [damageGzip(gz, 'crc'), 'crc32', /gzip CRC-32 check failed: the inflated data do not match the checksum in the gzip trailer/],
      [damageGzip(gz, 'isize'), 'length', /gzip length check failed: the inflated size does not match ISIZE in the gzip trailer/],
      [damageGzip(gz, 'truncate'), 'truncated', /gzip stream is truncated/],
    ];
    for (const [bytes, check, message] of cases) {
      const err = thrown(() => parseIdx(bytes, 't10k-images-idx3-ubyte.gz'));
      expect(err).toBeInstanceOf(CorruptFileError);
      expect(err).toBeInstanceOf(DatasetFormatError);
      expect(err.name).toBe('CorruptFileError');
      expect((err as CorruptFileError).check).toBe(check);
      expect(err.message).toMatch(message);
    }
    expect(parseIdx(gz).data).toEqual(images.images);
  });
});
