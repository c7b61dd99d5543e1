import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetNotFoundError } from './errors.js';
import { DEBIAN_FASHION_MNIST_DIR, fashionMnistCandidates, loadFashionMnist, parseIdxImageSet } from './fashion-mnist.js';
import { encodeIdx } from './idx.js';
import { FASHION_MNIST_STATS } from './normalization.js';
import { fashionMnistFiles, randomImageSet } from './test-archives.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-fmnist-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const debianPresent = existsSync(join(DEBIAN_FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));

describe('Fashion-MNIST reader', () => {
  it('reads generated gzipped IDX files from dataDir/fashion-mnist', () => {
    const train = randomImageSet(7, 28, 28, 1, 10, 1);
    const test = randomImageSet(3, 28, 28, 1, 10, 2);
    const dir = join(tmp, 'data', 'fashion-mnist');
    mkdirSync(dir, { recursive: true });
    for (const [name, bytes] of Object.entries(fashionMnistFiles(train, test))) writeFileSync(join(dir, name), bytes);
    const ds = loadFashionMnist(join(tmp, 'data'));
    expect(ds.source).toBe(dir);
    expect(ds.train.images).toEqual(train.images);
    expect(ds.train.labels).toEqual(train.labels);
    expect(ds.test.count).toBe(3);
    expect([ds.train.height, ds.train.width, ds.train.channels]).toEqual([28, 28, 1]);
  });

  it('rejects label counts that do not match and labels above 9', () => {
    const imgs = encodeIdx([2, 28, 28], new Uint8Array(2 * 784));
    expect(() => parseIdxImageSet(imgs, encodeIdx([3], new Uint8Array(3)), 'i', 'l')).toThrow(/l: 3 labels for 2 images/);
    expect(() => parseIdxImageSet(imgs, encodeIdx([2], Uint8Array.from([0, 10])), 'i', 'l')).toThrow(/label 10 of record 1/);
  });

  it('searches dataDir first, then Debian', () => {
    expect(fashionMnistCandidates('/d')).toEqual(['/d/fashion-mnist', '/d', DEBIAN_FASHION_MNIST_DIR]);
    if (!debianPresent) {
      expect(() => loadFashionMnist(join(tmp, 'none'))).toThrow(DatasetNotFoundError);
    }
  });

  it.skipIf(!debianPresent)('reads the real Debian copy: 60,000 + 10,000 images, 6,000 per class, known mean/std', () => {
    const ds = loadFashionMnist();
    expect(ds.source).toBe(DEBIAN_FASHION_MNIST_DIR);
    expect(ds.train.count).toBe(60_000);
    expect(ds.test.count).toBe(10_000);
    const perClass = new Array(10).fill(0);
    for (const l of ds.train.labels) perClass[l]++;
    expect(perClass).toEqual(new Array(10).fill(6000));
    let sum = 0;
    let sq = 0;
    for (const v of ds.train.images) {
      sum += v / 255;
      sq += (v / 255) ** 2;
    }
    const n = ds.train.images.length;
    const mean = sum / n;
    const std = Math.sqrt(sq / n - mean * mean);
    expect(mean).toBeCloseTo(FASHION_MNIST_STATS.mean[0]!, 3);
    expect(std).toBeCloseTo(FASHION_MNIST_STATS.std[0]!, 3);
  });
  if (!debianPresent) {
    it('real Fashion-MNIST check skipped', () => {
      console.warn(`skipped: ${DEBIAN_FASHION_MNIST_DIR} not found (apt-get install dataset-fashion-mnist; .ci/run does)`);
    });
  }
});
