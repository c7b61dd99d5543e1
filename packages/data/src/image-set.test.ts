import { describe, expect, it } from 'vitest';
import { checkLabels, concatImageSets, headImages, padImages, selectImages, type ImageSet } from './image-set.js';

const set: ImageSet = {
  images: Uint8Array.from({ length: 3 * 4 }, (_, i) => i + 1),
  labels: Int32Array.of(0, 1, 2),
  count: 3,
  height: 2,
  width: 2,
  channels: 1,
};

describe('image sets', () => {
  it('select, head, concat', () => {
    const s = selectImages(set, [2, 0]);
    expect(Array.from(s.images)).toEqual([9, 10, 11, 12, 1, 2, 3, 4]);
    expect(Array.from(s.labels)).toEqual([2, 0]);
    expect(() => selectImages(set, [3])).toThrow(RangeError);
    expect(headImages(set, 2).count).toBe(2);
    expect(headImages(set, 10).count).toBe(3);
    const c = concatImageSets([set, s]);
    expect(c.count).toBe(5);
    expect(Array.from(c.labels)).toEqual([0, 1, 2, 2, 0]);
    expect(() => concatImageSets([set, { ...set, channels: 3 }])).toThrow(/cannot concatenate/);
  });

  it('pads centred with zeros (28 → 32 puts the image at offset 2)', () => {
    const p = padImages(set, 4);
    expect([p.height, p.width]).toEqual([4, 4]);
    expect(Array.from(p.images.subarray(0, 16))).toEqual([0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0]);
    const big: ImageSet = {
      images: new Uint8Array(28 * 28).fill(7),
      labels: Int32Array.of(1),
      count: 1,
      height: 28,
      width: 28,
      channels: 1,
    };
    const q = padImages(big, 32);
    expect(q.images[2 * 32 + 2]).toBe(7);
    expect(q.images[2 * 32 + 1]).toBe(0);
    expect(q.images[29 * 32 + 29]).toBe(7);
    expect(q.images[30 * 32 + 30]).toBe(0);
    expect(q.images.reduce((a, b) => a + b, 0)).toBe(7 * 784);
    expect(() => padImages(big, 20)).toThrow(/cannot pad/);
  });

  it('checkLabels names the bad record', () => {
    expect(() => checkLabels([0, 3, -1], 4, 'f')).toThrow(/f: label -1 of record 2 is outside 0..3/);
  });
});
