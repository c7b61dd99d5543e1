import { existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIGEST_MANIFEST, digestManifestPath } from './digests.js';
import { ChecksumMismatchError, CorruptFileError, DatasetNotFoundError } from './errors.js';
import {
  DEBIAN_FASHION_MNIST_DIR,
  FASHION_MNIST_FILES,
  fashionMnistCandidates,
  loadFashionMnist,
  parseIdxImageSet,
} from './fashion-mnist.js';
import { encodeIdx } from './idx.js';
import { FASHION_MNIST_STATS } from './normalization.js';
import { damageGzip, fashionMnistFiles, md5, randomImageSet } from './test-archives.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-fmnist-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const debianPresent = existsSync(join(DEBIAN_FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));
// Digest manifests of folders samrank does not own (Debian's) go under the default data dir: keep them here.
const savedDataDir = process.env['SAMRANK_DATA_DIR'];
beforeEach(() => {
  process.env['SAMRANK_DATA_DIR'] = join(tmp, 'default-data');
});
afterEach(() => {
  if (savedDataDir === undefined) delete process.env['SAMRANK_DATA_DIR'];
  else process.env['SAMRANK_DATA_DIR'] = savedDataDir;
});

let folders = 0;
/** A data dir whose fashion-mnist/ holds generated files; returns the files and their MD5s. */
function generated(seed = 1): { dataDir: string; dir: string; files: Record<string, Uint8Array>; checksums: Record<string, string> } {
  const dataDir = join(tmp, `gen${folders++}`);
  const dir = join(dataDir, 'fashion-mnist');
  mkdirSync(dir, { recursive: true });
  const files = fashionMnistFiles(randomImageSet(7, 28, 28, 1, 10, seed), randomImageSet(3, 28, 28, 1, 10, seed + 1));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return { dataDir, dir, files, checksums: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, md5(v)])) };
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('Fashion-MNIST reader', () => {
  it('reads generated gzipped IDX files from dataDir/fashion-mnist', () => {
    const train = randomImageSet(7, 28, 28, 1, 10, 1);
    const test = randomImageSet(3, 28, 28, 1, 10, 2);
    const dir = join(tmp, 'data', 'fashion-mnist');
    mkdirSync(dir, { recursive: true });
    const files = fashionMnistFiles(train, test);
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
    const checksums = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, md5(v)]));
    const ds = loadFashionMnist(join(tmp, 'data'), { checksums });
    expect(ds.source).toBe(dir);
    expect(ds.files!.map((f) => f.verified)).toEqual(new Array(4).fill('the checksum given for it'));
    expect(ds.digest).toMatch(/^[0-9a-f]{64}$/);
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

  it('searches dataDir only when one is given; Debian only without one (or when asked)', () => {
    expect(fashionMnistCandidates('/d')).toEqual(['/d/fashion-mnist', '/d']);
    expect(fashionMnistCandidates('/d', true)).toEqual(['/d/fashion-mnist', '/d', DEBIAN_FASHION_MNIST_DIR]);
    expect(fashionMnistCandidates()).toEqual([DEBIAN_FASHION_MNIST_DIR]);
    if (!debianPresent) {
      expect(() => loadFashionMnist(join(tmp, 'none'), { debianFallback: true })).toThrow(DatasetNotFoundError);
    }
  });

  it("an explicit folder without the files is an error naming it (and Debian's copy), never a silent fallback", () => {
    const empty = join(tmp, 'explicit-empty');
    mkdirSync(empty, { recursive: true });
    const err = thrown(() => loadFashionMnist(empty));
    expect(err).toBeInstanceOf(DatasetNotFoundError);
    expect(err.message).toContain(`Fashion-MNIST not found (looked in: ${join(empty, 'fashion-mnist')}, ${empty})`);
    if (debianPresent) {
      expect(err.message).toContain(
        `Debian's copy exists at ${DEBIAN_FASHION_MNIST_DIR}: pass --data-dir ${DEBIAN_FASHION_MNIST_DIR} to use it`,
      );
    } else {
      expect(err.message).not.toContain("Debian's copy exists");
    }
  });

  it('a folder missing one of the four files names the missing file', () => {
    const { dataDir, dir } = generated(40);
    unlinkSync(join(dir, FASHION_MNIST_FILES.testLabels));
    const err = thrown(() => loadFashionMnist(dataDir));
    expect(err).toBeInstanceOf(DatasetNotFoundError);
    expect(err.message).toContain(`${dir} holds only 3 of the 4 files (missing t10k-labels-idx1-ubyte.gz)`);
  });

  it('files that are not the official ones: ChecksumMismatchError with expected and actual digests and the path', () => {
    const { dataDir, dir, files } = generated(50);
    const err = thrown(() => loadFashionMnist(dataDir));
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    const path = join(dir, FASHION_MNIST_FILES.trainImages);
    expect((err as ChecksumMismatchError).file).toBe(path);
    expect(err.message).toContain(`${path}: MD5 ${md5(files[FASHION_MNIST_FILES.trainImages]!)}, gunzipped SHA-256 `);
    expect(err.message).toContain(
      'does not match the expected MD5 8d4fb7e6c68d591d4c3dfef9ec88bf0d or SHA-256 c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888 of the gunzipped content (checked against the official Fashion-MNIST checksums',
    );
    // Own files in the official format can be read without a known checksum; their digests are still recorded.
    const ds = loadFashionMnist(dataDir, { verify: false });
    expect(ds.files!.every((f) => f.verified === null && /^[0-9a-f]{64}$/.test(f.sha256))).toBe(true);
  });

  it('a flipped byte inside t10k-images (right MD5 given for the original) is caught by the gzip CRC, not read as other pixels', () => {
    const { dataDir, dir, files, checksums } = generated(60);
    const name = FASHION_MNIST_FILES.testImages;
    writeFileSync(join(dir, name), damageGzip(files[name]!, 'deflate'));
    const err = thrown(() => loadFashionMnist(dataDir, { checksums }));
    expect(err).toBeInstanceOf(CorruptFileError);
    expect(err.message).toMatch(new RegExp(`^${join(dir, name)}: gzip CRC-32 check failed`));
    for (const damage of ['isize', 'truncate'] as const) {
      writeFileSync(join(dir, name), damageGzip(files[name]!, damage));
      expect(() => loadFashionMnist(dataDir, { checksums }), damage).toThrow(CorruptFileError);
    }
  });

  it("digests are cached in the folder's manifest: the second load hashes nothing; a changed file is hashed again and caught", () => {
    const { dataDir, dir, files, checksums } = generated(70);
    const hashed: string[] = [];
    const onVerify = (file: string, h: boolean) => {
      if (h) hashed.push(file);
    };
    const first = loadFashionMnist(dataDir, { checksums, onVerify });
    expect(hashed).toHaveLength(4);
    expect(existsSync(join(dir, DIGEST_MANIFEST))).toBe(true);
    const seen: boolean[] = [];
    const second = loadFashionMnist(dataDir, { checksums, onVerify: (_f, h) => seen.push(h) });
    expect(seen).toEqual([false, false, false, false]);
    expect(second.digest).toBe(first.digest);
    expect(second.files).toEqual(first.files);
    // Same size, other content: the key (size, mtime, ctime, inode) changed, so it is hashed and compared again.
    const name = FASHION_MNIST_FILES.trainLabels;
    const other = fashionMnistFiles(randomImageSet(7, 28, 28, 1, 10, 99), randomImageSet(3, 28, 28, 1, 10, 98))[name]!;
    writeFileSync(join(dir, name), other);
    hashed.length = 0;
    const err = thrown(() => loadFashionMnist(dataDir, { checksums, onVerify }));
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(err.message).toContain(`${join(dir, name)}: MD5 ${md5(other)}`);
    expect(err.message).toContain(`does not match the expected MD5 ${checksums[name]}`);
    expect(hashed).toContain(join(dir, name));
    // Restored: accepted again.
    writeFileSync(join(dir, name), files[name]!);
    expect(loadFashionMnist(dataDir, { checksums }).digest).toBe(first.digest);
  });

  it.skipIf(!debianPresent)("Debian's recompressed copy passes verification (gunzipped SHA-256), cached outside /usr", () => {
    const hashed: boolean[] = [];
    const ds = loadFashionMnist(undefined, { onVerify: (_f, h) => hashed.push(h) });
    expect(ds.source).toBe(DEBIAN_FASHION_MNIST_DIR);
    expect(ds.files).toEqual([
      {
        file: 'train-images-idx3-ubyte.gz',
        sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
        verified: 'the official Fashion-MNIST checksums',
      },
      {
        file: 'train-labels-idx1-ubyte.gz',
        sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
        verified: 'the official Fashion-MNIST checksums',
      },
      {
        file: 't10k-images-idx3-ubyte.gz',
        sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
        verified: 'the official Fashion-MNIST checksums',
      },
      {
        file: 't10k-labels-idx1-ubyte.gz',
        sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
        verified: 'the official Fashion-MNIST checksums',
      },
    ]);
    // The content digest is the same for the official download and Debian's copy.
    expect(ds.digest).toBe('c3ca91aaadb71d5c91f4473b00cf9a24212a7af421fb65099d6aff4a9b3f408a');
    expect(existsSync(join(DEBIAN_FASHION_MNIST_DIR, DIGEST_MANIFEST))).toBe(false);
    const manifest = digestManifestPath(DEBIAN_FASHION_MNIST_DIR);
    expect(manifest.startsWith(join(tmp, 'default-data', '.digests'))).toBe(true);
    expect(existsSync(manifest)).toBe(true);
    const again: boolean[] = [];
    loadFashionMnist(undefined, { onVerify: (_f, h) => again.push(h) });
    expect(again).toEqual([false, false, false, false]);
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
