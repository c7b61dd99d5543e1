import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChecksumMismatchError, DatasetFormatError, DatasetNotFoundError } from './errors.js';
import { createRng } from '@samrank/core';
import { greyJpeg, solidJpeg, TINY_COLOURS, tinyImageNetZip } from './test-archives.js';
import { decodeJpegRgb, loadTinyImageNet, parseValAnnotations } from './tiny-imagenet.js';
import { unpackArchive } from './unpack.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-tiny-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const perClass = 4;

beforeAll(async () => {
  writeFileSync(join(tmp, 'tiny.zip'), tinyImageNetZip(perClass));
  await unpackArchive(join(tmp, 'tiny.zip'), join(tmp, 'data'));
});

describe('decodeJpegRgb', () => {
  it('decodes colour JPEGs to 64x64x3', () => {
    const px = decodeJpegRgb(solidJpeg(200, 30, 30), 'a.JPEG');
    expect(px.length).toBe(64 * 64 * 3);
    expect(Math.abs(px[0]! - 200)).toBeLessThanOrEqual(3);
    expect(Math.abs(px[1]! - 30)).toBeLessThanOrEqual(3);
  });

  it('expands a grey (1-component) JPEG to three equal channels', () => {
    const px = decodeJpegRgb(greyJpeg(64, 64), 'g.JPEG');
    expect(px.length).toBe(64 * 64 * 3);
    for (let i = 0; i < px.length; i += 997) expect(px[i]).toBe(136);
  });

  it('rejects a wrong size and broken bytes with DatasetFormatError', () => {
    expect(() => decodeJpegRgb(solidJpeg(1, 2, 3, 32), 'small.JPEG')).toThrow(/small.JPEG: image is 32x32, expected 64x64/);
    expect(() => decodeJpegRgb(Uint8Array.of(1, 2, 3), 'junk.JPEG')).toThrow(DatasetFormatError);
  });
});

describe('loadTinyImageNet', () => {
  it('reads train folders (sorted wnids, seeded order) and val as test, then caches', () => {
    const ds = loadTinyImageNet(join(tmp, 'data'));
    const wnids = Object.keys(TINY_COLOURS).sort();
    expect(ds.classNames).toEqual(wnids);
    expect(ds.numClasses).toBe(3);
    expect(ds.train.count).toBe(3 * perClass);
    expect(ds.test.count).toBe(6);
    expect([ds.train.height, ds.train.width, ds.train.channels]).toEqual([64, 64, 3]);
    // Training order = permutation(seed 0) of the class-sorted file list.
    const order = createRng(0).permutation(3 * perClass);
    for (let k = 0; k < ds.train.count; k++) expect(ds.train.labels[k]).toBe(Math.floor(order[k]! / perClass));
    // Each image's colour matches its label (the grey one is class 2's first image).
    for (let k = 0; k < ds.train.count; k++) {
      const label = ds.train.labels[k]!;
      const r = ds.train.images[k * 64 * 64 * 3]!;
      if (order[k] === 2 * perClass) expect(r).toBe(136);
      else expect(Math.abs(r - TINY_COLOURS[wnids[label]!]![0])).toBeLessThanOrEqual(3);
    }
    // val_annotations.txt lists classes in TINY_COLOURS order, which is sorted.
    expect(Array.from(ds.test.labels)).toEqual([0, 0, 1, 1, 2, 2]);
    const cache = join(tmp, 'data', 'tiny-imagenet-200', 'samrank-cache', 'train-order0.bin');
    expect(existsSync(cache)).toBe(true);
    const mtime = statSync(cache).mtimeMs;
    const again = loadTinyImageNet(join(tmp, 'data', 'tiny-imagenet-200'));
    expect(statSync(cache).mtimeMs).toBe(mtime);
    expect(again.train.images).toEqual(ds.train.images);
    expect(again.test.labels).toEqual(ds.test.labels);
  });

  it("records the decoded caches' digests, pins them, and catches a damaged cache instead of training on other pixels", () => {
    const cacheDir = join(tmp, 'cache-digests');
    const first = loadTinyImageNet(join(tmp, 'data'), { cacheDir });
    expect(first.files!.map((f) => f.file)).toEqual(['train-order0.bin', 'val.bin']);
    expect(first.digest).toMatch(/^[0-9a-f]{64}$/);
    const hashed: boolean[] = [];
    const second = loadTinyImageNet(join(tmp, 'data'), { cacheDir, onVerify: (_f, h) => hashed.push(h) });
    expect(hashed).toEqual([false, false]);
    expect(second.digest).toBe(first.digest);
    expect(second.files!.every((f) => f.verified?.startsWith('decoded from the JPEGs in '))).toBe(true);
    const cache = join(cacheDir, 'val.bin');
    const bytes = new Uint8Array(readFileSync(cache));
    bytes[bytes.length - 10]! ^= 0x40;
    writeFileSync(cache, bytes);
    const err = (() => {
      try {
        loadTinyImageNet(join(tmp, 'data'), { cacheDir });
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a throw');
    })();
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(err.message).toMatch(
      new RegExp(
        `^${cache}: SHA-256 [0-9a-f]{64} does not match the expected ${second.files![1]!.sha256} .*delete it to rebuild it from the JPEGs\\)$`,
      ),
    );
    rmSync(cache);
    expect(loadTinyImageNet(join(tmp, 'data'), { cacheDir }).digest).toBe(first.digest);
  });

  it('val annotations with an unknown class are a DatasetFormatError', () => {
    expect(() => parseValAnnotations('val_0.JPEG\tn999\t0\t0\t1\t1\n', '/d', ['n1'], 'ann')).toThrow(
      /ann: line 1: class n999 has no training folder/,
    );
    expect(() => parseValAnnotations('garbage\n', '/d', ['n1'], 'ann')).toThrow(DatasetFormatError);
  });

  it('a missing folder is a DatasetNotFoundError', () => {
    expect(() => loadTinyImageNet(join(tmp, 'none'))).toThrow(DatasetNotFoundError);
  });
});
