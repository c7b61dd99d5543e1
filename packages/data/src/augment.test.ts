import { describe, expect, it } from 'vitest';
import { drawCropFlip, IDENTITY_CROP, writeAugmentedImage } from './augment.js';
import { createRng } from '@samrank/core';

// A 3×4 one-channel image with pixel values 1..12 and an identity lookup table (v → v).
const H = 3;
const W = 4;
const img = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
const identity = [Float32Array.from({ length: 256 }, (_, v) => v)];
const geom = { height: H, width: W, channels: 1, outChannels: 1 };
const grid = (a: Float32Array) => Array.from({ length: H }, (_, y) => Array.from(a.subarray(y * W, (y + 1) * W)));

describe('writeAugmentedImage', () => {
  it('identity crop reproduces the image', () => {
    const out = new Float32Array(12);
    writeAugmentedImage(img, 0, geom, 2, IDENTITY_CROP(2), identity, out, 0);
    expect(Array.from(out)).toEqual(Array.from(img));
  });

  it('a crop window at the padded top-left shifts the image down-right and fills zeros', () => {
    const out = new Float32Array(12);
    writeAugmentedImage(img, 0, geom, 1, { top: 0, left: 0, flip: false }, identity, out, 0);
    expect(grid(out)).toEqual([
      [0, 0, 0, 0],
      [0, 1, 2, 3],
      [0, 5, 6, 7],
    ]);
  });

  it('a window at the bottom-right shifts up-left; flip mirrors the cropped image', () => {
    const out = new Float32Array(12);
    writeAugmentedImage(img, 0, geom, 1, { top: 2, left: 2, flip: false }, identity, out, 0);
    expect(grid(out)).toEqual([
      [6, 7, 8, 0],
      [10, 11, 12, 0],
      [0, 0, 0, 0],
    ]);
    writeAugmentedImage(img, 0, geom, 1, { top: 2, left: 2, flip: true }, identity, out, 0);
    expect(grid(out)).toEqual([
      [0, 8, 7, 6],
      [0, 12, 11, 10],
      [0, 0, 0, 0],
    ]);
  });

  it('padding is black before normalization (table[0] = −mean/std), and grey replicates to 3 channels', () => {
    const tables = [0, 1, 2].map((c) => Float32Array.from({ length: 256 }, (_, v) => v * 10 + c - 100));
    const out = new Float32Array(12 * 3);
    writeAugmentedImage(img, 0, { ...geom, outChannels: 3 }, 1, { top: 0, left: 0, flip: false }, tables, out, 0);
    expect(Array.from(out.subarray(0, 3))).toEqual([-100, -99, -98]);
    // Output (1,1) = source (0,0) = 1.
    expect(Array.from(out.subarray((1 * W + 1) * 3, (1 * W + 1) * 3 + 3))).toEqual([-90, -89, -88]);
  });

  it('reads HWC colour images with channel order intact, at offsets', () => {
    const rgb = Uint8Array.from({ length: 2 * 2 * 3 * 2 }, (_, i) => i);
    const tables = [0, 1, 2].map(() => Float32Array.from({ length: 256 }, (_, v) => v));
    const out = new Float32Array(2 * 2 * 3 + 5);
    writeAugmentedImage(rgb, 12, { height: 2, width: 2, channels: 3, outChannels: 3 }, 0, { top: 0, left: 0, flip: true }, tables, out, 5);
    expect(Array.from(out.subarray(5))).toEqual([15, 16, 17, 12, 13, 14, 21, 22, 23, 18, 19, 20]);
  });
});

describe('drawCropFlip', () => {
  it('draws offsets in [0, 2·padding] and flips about half the time, deterministically', () => {
    const rng = createRng(3);
    const seen = new Set<number>();
    let flips = 0;
    for (let i = 0; i < 4000; i++) {
      const c = drawCropFlip(rng, 4);
      expect(c.top).toBeGreaterThanOrEqual(0);
      expect(c.left).toBeLessThanOrEqual(8);
      seen.add(c.top);
      if (c.flip) flips++;
    }
    expect(seen.size).toBe(9);
    expect(flips / 4000).toBeGreaterThan(0.46);
    expect(flips / 4000).toBeLessThan(0.54);
    expect(drawCropFlip(createRng(9), 4)).toEqual(drawCropFlip(createRng(9), 4));
    expect(drawCropFlip(createRng(9), 4, false).flip).toBe(false);
  });
});
