import { describe, expect, it } from 'vitest';
import { makeBatch, rangeIndices } from './batches.js';
import { createRng } from '@samrank/core';
import { randomImageSet } from './test-archives.js';

const tables = [0, 1, 2].map(() => Float32Array.from({ length: 256 }, (_, v) => v));

describe('makeBatch', () => {
  it('without augmentation copies the chosen images in order', () => {
    const set = randomImageSet(5, 3, 3, 3, 4, 1);
    const b = makeBatch(set, [4, 1], { tables, outChannels: 3 });
    expect(b.shape).toEqual([2, 3, 3, 3]);
    expect(Array.from(b.x.subarray(0, 27))).toEqual(Array.from(set.images.subarray(4 * 27, 5 * 27)));
    expect(Array.from(b.y)).toEqual([set.labels[4], set.labels[1]]);
    expect(() => makeBatch(set, [5], { tables, outChannels: 3 })).toThrow(/batch index 5 outside 0..4/);
  });

  it('with augmentation draws three numbers per image from the given stream', () => {
    const set = randomImageSet(4, 3, 3, 3, 4, 2);
    const a = makeBatch(set, [0, 1, 2, 3], { tables, outChannels: 3 }, { rng: createRng(5), padding: 1, flip: true });
    const b = makeBatch(set, [0, 1, 2, 3], { tables, outChannels: 3 }, { rng: createRng(5), padding: 1, flip: true });
    expect(a).toEqual(b);
    const rng = createRng(5);
    for (let i = 0; i < 12; i++) rng.next();
    const after = createRng(5);
    makeBatch(set, [0, 1, 2, 3], { tables, outChannels: 3 }, { rng: after, padding: 1, flip: true });
    expect(after.nextUint32()).toBe(rng.nextUint32());
  });

  it('rangeIndices clips at the end', () => {
    expect(Array.from(rangeIndices(8, 5, 10))).toEqual([8, 9]);
    expect(rangeIndices(12, 5, 10).length).toBe(0);
  });
});
