import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImageCache, encodeImageCache, readImageCache, writeImageCache } from './image-cache.js';
import { randomImageSet } from './test-archives.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-cache-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('image cache', () => {
  it('round-trips through a file', () => {
    const set = randomImageSet(6, 4, 5, 3, 7, 1);
    const path = join(tmp, 'sub', 'c.bin');
    expect(readImageCache(path)).toBeUndefined();
    expect(writeImageCache(path, set, 7)).toBe(true);
    const back = readImageCache(path)!;
    expect(back.numClasses).toBe(7);
    expect(back.set.images).toEqual(set.images);
    expect(back.set.labels).toEqual(set.labels);
    expect([back.set.count, back.set.height, back.set.width, back.set.channels]).toEqual([6, 4, 5, 3]);
  });

  it('rejects a damaged or truncated cache, saying to delete it', () => {
    const bytes = encodeImageCache(randomImageSet(2, 2, 2, 1, 3, 2), 3);
    expect(() => decodeImageCache(bytes.subarray(0, bytes.length - 1), 'c')).toThrow(/c: cache holds .* delete it to rebuild/);
    const bad = bytes.slice();
    bad[0] = 0;
    expect(() => decodeImageCache(bad)).toThrow(/not a samrank image cache/);
    const path = join(tmp, 'bad.bin');
    writeFileSync(path, bad);
    expect(() => readImageCache(path)).toThrow(/bad header/);
  });
});
