import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useCpu } from '../test/helpers.js';
import { chunkRange, sliceChunk } from './chunks.js';
import { InvalidOptionError } from './errors.js';

beforeAll(useCpu);

describe('chunkRange / sliceChunk', () => {
  it('covers the batch exactly once, sizes differing by at most one', () => {
    for (const [n, k] of [
      [8, 2],
      [10, 3],
      [7, 7],
      [5, 1],
    ] as const) {
      const ranges = Array.from({ length: k }, (_, c) => chunkRange(n, { chunk: c, chunks: k }));
      expect(ranges.reduce((s, r) => s + r.size, 0)).toBe(n);
      ranges.forEach((r, c) => expect(r.start).toBe(c === 0 ? 0 : ranges[c - 1]!.start + ranges[c - 1]!.size));
      const sizes = ranges.map((r) => r.size);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
    expect(chunkRange(10, { chunk: 1, chunks: 3 })).toEqual({ start: 4, size: 3 });
  });

  it('slices along the chosen axis and returns the input itself for one chunk', () => {
    const x = tf.tensor2d([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    expect(sliceChunk(x, { chunk: 0, chunks: 1 })).toBe(x);
    expect(Array.from(sliceChunk(x, { chunk: 1, chunks: 2 }, 1).dataSync())).toEqual([3, 4, 7, 8]);
    expect(Array.from(sliceChunk(x, { chunk: 1, chunks: 2 }).dataSync())).toEqual([5, 6, 7, 8]);
    x.dispose();
  });

  it('rejects impossible splits with a typed error', () => {
    expect(() => chunkRange(3, { chunk: 0, chunks: 4 })).toThrow(InvalidOptionError);
    expect(() => chunkRange(3, { chunk: 2, chunks: 2 })).toThrow(InvalidOptionError);
    expect(() => chunkRange(0, { chunk: 0, chunks: 1 })).toThrow(InvalidOptionError);
  });
});
