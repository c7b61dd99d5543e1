/**
 * Augmentation and normalization of one image, in plain typed-array code (fast and exactly
 * reproducible): random crop with zero padding, then horizontal flip, then per-channel
 * normalization via lookup tables — torchvision's RandomCrop(padding) + RandomHorizontalFlip +
 * Normalize on a uint8 image (docs/paper-notes.md §8.1).
 */
import type { Rng } from '@samrank/core';

/** Where the crop window starts in the zero-padded image, and whether to mirror. */
export interface CropFlip {
  /** Top-left corner of the window in padded coordinates, each in [0, 2·padding]. */
  top: number;
  left: number;
  flip: boolean;
}

/** No crop shift and no flip: the image as it is (evaluation). */
export const IDENTITY_CROP: (padding: number) => CropFlip = (padding) => ({ top: padding, left: padding, flip: false });

/** Draws a crop offset and a flip, in that order, from `rng` (three draws per image). */
export function drawCropFlip(rng: Rng, padding: number, flip = true): CropFlip {
  const top = rng.int(2 * padding + 1);
  const left = rng.int(2 * padding + 1);
  const doFlip = rng.next() < 0.5;
  return { top, left, flip: flip && doFlip };
}

/** Shape of a source image and of the written image. */
export interface ImageGeometry {
  height: number;
  width: number;
  /** Channels stored in the source. */
  channels: number;
  /** Channels written (equal to `channels`, or 3 from a 1-channel source: grey replicated). */
  outChannels: number;
}

/**
 * Writes one normalized, augmented HWC image into `dst` at `dstOffset`:
 * `dst[y, x, c] = table[c][padded(y + top − padding, x' + left − padding)]` with `x' = width−1−x`
 * when flipped, and 0 (black) outside the source before normalization.
 */
export function writeAugmentedImage(
  src: Uint8Array,
  srcOffset: number,
  geom: ImageGeometry,
  padding: number,
  crop: CropFlip,
  tables: readonly Float32Array[],
  dst: Float32Array,
  dstOffset: number,
): void {
  const { height: H, width: W, channels: C, outChannels: OC } = geom;
  const dy = crop.top - padding;
  const dx = crop.left - padding;
  let o = dstOffset;
  for (let y = 0; y < H; y++) {
    const sy = y + dy;
    const rowInside = sy >= 0 && sy < H;
    for (let x = 0; x < W; x++) {
      // Flip after crop: output column x shows cropped column W−1−x.
      const sx = (crop.flip ? W - 1 - x : x) + dx;
      if (rowInside && sx >= 0 && sx < W) {
        const s = srcOffset + (sy * W + sx) * C;
        for (let c = 0; c < OC; c++) dst[o++] = tables[c]![src[s + (C === 1 ? 0 : c)]!]!;
      } else {
        for (let c = 0; c < OC; c++) dst[o++] = tables[c]![0]!;
      }
    }
  }
}
