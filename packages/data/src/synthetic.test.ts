import { describe, expect, it } from 'vitest';
import { DATASET_SHAPES, syntheticImageDataset } from './synthetic.js';

describe('syntheticImageDataset', () => {
  it('has the real shapes and class counts, is seeded, and its classes are separable', () => {
    const ds = syntheticImageDataset('cifar100', { trainCount: 300, testCount: 50, seed: 1 });
    expect([ds.train.height, ds.train.width, ds.train.channels, ds.numClasses]).toEqual([32, 32, 3, 100]);
    expect(ds.test.count).toBe(50);
    expect(syntheticImageDataset('cifar100', { trainCount: 300, testCount: 50, seed: 1 }).train.images).toEqual(ds.train.images);
    expect(syntheticImageDataset('cifar100', { trainCount: 300, testCount: 50, seed: 2 }).train.images).not.toEqual(ds.train.images);
    expect(DATASET_SHAPES['tiny-imagenet'].numClasses).toBe(200);
    const fm = syntheticImageDataset('fashion-mnist', { trainCount: 200, testCount: 100, seed: 3 });
    expect([fm.train.height, fm.train.channels]).toEqual([28, 1]);
    // Nearest class mean (from the training set) classifies most test images: the task is learnable.
    const size = 28 * 28;
    const means = Array.from({ length: 10 }, () => new Float64Array(size));
    const counts = new Array(10).fill(0);
    for (let i = 0; i < fm.train.count; i++) {
      const l = fm.train.labels[i]!;
      counts[l]++;
      for (let j = 0; j < size; j++) means[l]![j]! += fm.train.images[i * size + j]!;
    }
    let correct = 0;
    for (let i = 0; i < fm.test.count; i++) {
      let best = -1;
      let bestD = Infinity;
      for (let c = 0; c < 10; c++) {
        if (counts[c] === 0) continue;
        let d = 0;
        for (let j = 0; j < size; j++) d += (fm.test.images[i * size + j]! - means[c]![j]! / counts[c]) ** 2;
        if (d < bestD) [bestD, best] = [d, c];
      }
      if (best === fm.test.labels[i]) correct++;
    }
    expect(correct / fm.test.count).toBeGreaterThan(0.9);
  });
});
