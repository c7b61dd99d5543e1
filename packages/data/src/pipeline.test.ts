import { describe, expect, it } from 'vitest';
import type { ImageDataset, ImageSet } from './image-set.js';
import { CIFAR100_STATS, CIFAR10_STATS, FASHION_MNIST_STATS, IMAGENET_STATS } from './normalization.js';
import { createPipeline, evalBatchArrays } from './pipeline.js';
import { syntheticImageDataset } from './synthetic.js';

/** Images whose every pixel is the image's index mod 256, so batches reveal which images they hold. */
function indexedSet(count: number, h: number, w: number, c: number): ImageSet {
  const size = h * w * c;
  const images = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) images.fill(i % 256, i * size, (i + 1) * size);
  return { images, labels: Int32Array.from({ length: count }, (_, i) => i % 10), count, height: h, width: w, channels: c };
}

function dataset(name: ImageDataset['name'], count: number, h = 4, c = 3): ImageDataset {
  return { name, numClasses: 10, train: indexedSet(count, h, h, c), test: indexedSet(20, h, h, c) };
}

describe('createPipeline: splits and subsets', () => {
  it('removes 0.1 % for validation: 49,950 of 50,000; rank subset = first 10,240 left', () => {
    const p = createPipeline(dataset('cifar10', 50_000, 2), { seed: 0 });
    expect(p.train.count).toBe(49_950);
    expect(p.validation.count).toBe(50);
    expect(p.rankSubset.count).toBe(10_240);
    expect(p.stepsPerEpoch(256)).toBe(195);
    expect(Array.from(p.rankSubset.labels.subarray(0, 100))).toEqual(Array.from(p.train.labels.subarray(0, 100)));
    expect(p.rankSubset.images.subarray(0, 4000)).toEqual(p.train.images.subarray(0, 4000));
  });

  it('trainSubset keeps the first N after the split; rank subset never exceeds the training set', () => {
    const p = createPipeline(dataset('cifar10', 5000), { trainSubset: 300, rankExamples: 1000 });
    expect(p.train.count).toBe(300);
    expect(p.rankSubset.count).toBe(300);
    expect(() => createPipeline(dataset('cifar10', 50), { trainSubset: 0 })).toThrow(/trainSubset/);
  });
});

describe('createPipeline: batches', () => {
  const ds = dataset('cifar10', 1000, 8);

  it('same seed ⇒ same batches; another epoch or seed ⇒ different; any batch can be rebuilt alone (resume)', () => {
    const a = createPipeline(ds, { seed: 1 });
    const b = createPipeline(ds, { seed: 1 });
    expect(a.trainBatchArrays(0, 2, 64)).toEqual(b.trainBatchArrays(0, 2, 64));
    const fresh = createPipeline(ds, { seed: 1 });
    for (let s = 0; s < 5; s++) a.trainBatchArrays(3, s, 64);
    expect(fresh.trainBatchArrays(3, 5, 64)).toEqual(a.trainBatchArrays(3, 5, 64));
    expect(a.trainBatchArrays(1, 0, 64).y).not.toEqual(a.trainBatchArrays(2, 0, 64).y);
    expect(createPipeline(ds, { seed: 2 }).trainBatchArrays(0, 0, 64).y).not.toEqual(a.trainBatchArrays(0, 0, 64).y);
  });

  it('an epoch visits each training image at most once, drops the last partial batch', () => {
    const p = createPipeline(ds, { seed: 0, augment: false, normalization: { mean: [0], std: [1 / 255] } });
    expect(p.train.count).toBe(999);
    expect(p.stepsPerEpoch(100)).toBe(9);
    expect(() => p.trainBatchArrays(0, 9, 100)).toThrow(/step 9 outside 0..8 \(drop_last\)/);
    expect(() => createPipeline(dataset('cifar10', 20), {}).trainBatchArrays(0, 0, 64)).toThrow(/smaller than one batch/);
    const order = p.epochOrder(0);
    expect(new Set(order).size).toBe(999);
    const seen = new Set<number>();
    for (let s = 0; s < 9; s++) {
      const b = p.trainBatchArrays(0, s, 100);
      expect(b.shape).toEqual([100, 8, 8, 3]);
      for (let k = 0; k < 100; k++) {
        const idx = order[s * 100 + k]!;
        // Unaugmented, normalization x·255/255 = the pixel value = original image index mod 256.
        const imgPixel = p.train.images[idx * 8 * 8 * 3]!;
        expect(b.x[k * 192]).toBeCloseTo(imgPixel, 4);
        expect(b.y[k]).toBe(p.train.labels[idx]);
        seen.add(idx);
      }
    }
    expect(seen.size).toBe(900);
  });

  it('augmented batches are crops/flips of the right images: every pixel is the image value or padding', () => {
    const p = createPipeline(ds, { seed: 4, normalization: { mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] } });
    expect(p.padding).toBe(1);
    const b = p.trainBatchArrays(0, 0, 50);
    const order = p.epochOrder(0);
    let padded = 0;
    for (let k = 0; k < 50; k++) {
      const v = p.train.images[order[k]! * 192]!;
      for (let j = 0; j < 192; j++) {
        const x = Math.round(b.x[k * 192 + j]!);
        expect(x === v || x === 0).toBe(true);
        if (x === 0 && v !== 0) padded++;
      }
    }
    expect(padded).toBeGreaterThan(0);
  });

  it('padding defaults to size/8: 4 at 32 px, 8 at 64 px', () => {
    expect(createPipeline(dataset('cifar10', 100, 32)).padding).toBe(4);
    expect(createPipeline(dataset('tiny-imagenet', 100, 64)).padding).toBe(8);
    expect(createPipeline(dataset('cifar10', 100, 32), { augment: false }).padding).toBe(0);
  });
});

describe('createPipeline: normalization and formats', () => {
  it('CIFAR-100 uses CIFAR-10 constants by default (original code), its own on request; Tiny ImageNet uses ImageNet', () => {
    expect(createPipeline(dataset('cifar100', 100)).normalization).toBe(CIFAR10_STATS);
    expect(createPipeline(dataset('cifar100', 100), { normalization: 'cifar100' }).normalization).toBe(CIFAR100_STATS);
    expect(createPipeline(dataset('tiny-imagenet', 100)).normalization).toBe(IMAGENET_STATS);
    const p = createPipeline(dataset('cifar10', 300), { seed: 0 });
    const b = p.evalBatchArrays(p.test, 0, 20);
    // Test image 5 has every pixel = 5.
    const at = 5 * 4 * 4 * 3;
    for (let c = 0; c < 3; c++) {
      expect(b.x[at + c]).toBeCloseTo((5 / 255 - CIFAR10_STATS.mean[c]!) / CIFAR10_STATS.std[c]!, 5);
    }
  });

  it('Fashion-MNIST: 28 px padded to 32, grey replicated to 3 channels or kept as 1; border = −mean/std', () => {
    const fm: ImageDataset = { name: 'fashion-mnist', numClasses: 10, train: indexedSet(200, 28, 28, 1), test: indexedSet(10, 28, 28, 1) };
    const p3 = createPipeline(fm, { augment: false });
    expect(p3.inputShape).toEqual([32, 32, 3]);
    expect(p3.normalization).toBe(FASHION_MNIST_STATS);
    const b = p3.evalBatchArrays(p3.test, 7, 1);
    expect(b.shape).toEqual([1, 32, 32, 3]);
    const border = -FASHION_MNIST_STATS.mean[0]! / FASHION_MNIST_STATS.std[0]!;
    expect(b.x[0]).toBeCloseTo(border, 5);
    const inside = (2 * 32 + 2) * 3;
    expect(Array.from(b.x.subarray(inside, inside + 3)).map((v) => v.toFixed(4))).toEqual(
      new Array(3).fill(((7 / 255 - 0.286) / 0.353).toFixed(4)),
    );
    const p1 = createPipeline(fm, { channels: 1 });
    expect(p1.inputShape).toEqual([32, 32, 1]);
    expect(p1.trainBatchArrays(0, 0, 16).shape).toEqual([16, 32, 32, 1]);
    expect(() => createPipeline(dataset('cifar10', 50), { channels: 1 })).toThrow(/cannot make 1-channel batches from 3-channel/);
  });

  it('evalBatchArrays handles any set (k-NN transfer) with a chosen normalization; the last batch may be short', () => {
    const set = indexedSet(10, 4, 4, 3);
    const b = evalBatchArrays(set, 8, 5, 'cifar10');
    expect(b.shape).toEqual([2, 4, 4, 3]);
    expect(b.x[0]).toBeCloseTo((8 / 255 - 0.4914) / 0.2023, 5);
  });

  it('works on the synthetic stand-ins of every data set', () => {
    for (const name of ['cifar10', 'cifar100', 'tiny-imagenet', 'fashion-mnist'] as const) {
      const ds = syntheticImageDataset(name, { trainCount: 40, testCount: 8 });
      const p = createPipeline(ds, { validationFraction: 0 });
      const b = p.trainBatchArrays(0, 0, 16);
      expect(b.shape).toEqual([16, ...p.inputShape]);
      expect(b.x.every(Number.isFinite)).toBe(true);
    }
  });
});
