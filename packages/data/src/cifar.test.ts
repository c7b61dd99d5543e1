import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CIFAR100_LAYOUT,
  CIFAR100_RECORDS,
  CIFAR10_LAYOUT,
  CIFAR10_RECORDS,
  encodeCifarBinary,
  loadCifar10,
  loadCifar100,
  parseCifarBinary,
} from './cifar.js';
import { DatasetFormatError, DatasetNotFoundError } from './errors.js';
import { randomImageSet } from './test-archives.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-cifar-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('parseCifarBinary', () => {
  it('reads a hand-made CIFAR-10 record: label byte, then R, G, B planes, transposed to HWC', () => {
    const rec = new Uint8Array(3073);
    rec[0] = 7;
    // Pixel (y=1, x=2) = plane offset 1*32+2 = 34: R=10, G=20, B=30.
    rec[1 + 34] = 10;
    rec[1 + 1024 + 34] = 20;
    rec[1 + 2048 + 34] = 30;
    const set = parseCifarBinary(rec, CIFAR10_LAYOUT);
    expect(set.count).toBe(1);
    expect(set.labels[0]).toBe(7);
    const hwc = (1 * 32 + 2) * 3;
    expect(Array.from(set.images.subarray(hwc, hwc + 3))).toEqual([10, 20, 30]);
    expect(set.images.reduce((s, v) => s + v, 0)).toBe(60);
  });

  it('uses the fine (second) label of CIFAR-100 records', () => {
    const rec = new Uint8Array(3074 * 2);
    rec[0] = 3;
    rec[1] = 57;
    rec[3074] = 19;
    rec[3075] = 99;
    const set = parseCifarBinary(rec, CIFAR100_LAYOUT);
    expect(Array.from(set.labels)).toEqual([57, 99]);
  });

  it('round-trips through encodeCifarBinary', () => {
    const set = randomImageSet(5, 32, 32, 3, 100, 3);
    const back = parseCifarBinary(encodeCifarBinary(set, CIFAR100_LAYOUT), CIFAR100_LAYOUT);
    expect(back.images).toEqual(set.images);
    expect(back.labels).toEqual(set.labels);
  });

  it('rejects wrong sizes and bad labels with DatasetFormatError naming the problem', () => {
    expect(() => parseCifarBinary(new Uint8Array(3074), CIFAR10_LAYOUT, 'x.bin')).toThrow(
      'x.bin: size 3074 bytes is not a positive multiple of the 3073-byte record (1 label byte + 3072 pixels): 1 whole record and a trailing partial record of 1 byte',
    );
    expect(() => parseCifarBinary(new Uint8Array(0), CIFAR10_LAYOUT)).toThrow(DatasetFormatError);
    const bad = new Uint8Array(3073 * 2);
    bad[3073] = 10;
    expect(() => parseCifarBinary(bad, CIFAR10_LAYOUT, 'b.bin')).toThrow(/label 10 of record 1 is outside 0..9/);
    const bad100 = new Uint8Array(3074);
    bad100[1] = 100;
    expect(() => parseCifarBinary(bad100, CIFAR100_LAYOUT)).toThrow(/label 100 of record 0 is outside 0..99/);
    const badCoarse = new Uint8Array(3074);
    badCoarse[0] = 20;
    expect(() => parseCifarBinary(badCoarse, CIFAR100_LAYOUT)).toThrow(/coarse label 20/);
  });
});

describe('CIFAR record counts', () => {
  it('the official counts: 10,000 per CIFAR-10 batch, 50,000 / 10,000 for CIFAR-100', () => {
    expect(Object.values(CIFAR10_RECORDS)).toEqual([10_000, 10_000, 10_000, 10_000, 10_000, 10_000]);
    expect(CIFAR100_RECORDS).toEqual({ 'train.bin': 50_000, 'test.bin': 10_000 });
  });

  it('a wrong record count and a trailing partial record are DatasetFormatErrors naming file, expected and actual', () => {
    const three = encodeCifarBinary(randomImageSet(3, 32, 32, 3, 10, 4), CIFAR10_LAYOUT);
    expect(parseCifarBinary(three, CIFAR10_LAYOUT, 'ok.bin', 3).count).toBe(3);
    const err = (() => {
      try {
        parseCifarBinary(three, CIFAR10_LAYOUT, 'd.bin', 4);
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a throw');
    })();
    expect(err).toBeInstanceOf(DatasetFormatError);
    expect(err.message).toBe(
      'd.bin: holds 3 records of 3073 bytes (9219 bytes), expected exactly 4 records (12292 bytes): the file is truncated or not the official one',
    );
    const partial = new Uint8Array(three.length + 100);
    partial.set(three);
    expect(() => parseCifarBinary(partial, CIFAR10_LAYOUT, 'p.bin', 3)).toThrow(
      'p.bin: holds 3 records of 3073 bytes and a trailing partial record of 100 bytes (9319 bytes), expected exactly 3 records (9219 bytes)',
    );
    expect(() => parseCifarBinary(three.subarray(0, 3073 * 2 + 5), CIFAR100_LAYOUT, 'c.bin', 2)).toThrow(
      /c.bin: holds 2 records of 3074 bytes and a trailing partial record of 3 bytes/,
    );
  });

  it('loadCifar10 checks the official counts per file by default, and the count given in recordCounts', () => {
    const dir = join(tmp, 'counts', 'cifar-10-batches-bin');
    mkdirSync(dir, { recursive: true });
    const names = Object.keys(CIFAR10_RECORDS);
    names.forEach((n, i) => writeFileSync(join(dir, n), encodeCifarBinary(randomImageSet(2, 32, 32, 3, 10, 20 + i), CIFAR10_LAYOUT)));
    expect(() => loadCifar10(join(tmp, 'counts'))).toThrow(
      /data_batch_1.bin: holds 2 records of 3073 bytes .*expected exactly 10000 records/,
    );
    const two = Object.fromEntries(names.map((n) => [n, 2]));
    expect(loadCifar10(join(tmp, 'counts'), { recordCounts: two }).train.count).toBe(10);
    // One batch one record short: that file is named, the others pass.
    writeFileSync(join(dir, 'data_batch_4.bin'), encodeCifarBinary(randomImageSet(1, 32, 32, 3, 10, 9), CIFAR10_LAYOUT));
    expect(() => loadCifar10(join(tmp, 'counts'), { recordCounts: two })).toThrow(
      /data_batch_4.bin: holds 1 record of 3073 bytes .*expected exactly 2 records/,
    );
    expect(loadCifar10(join(tmp, 'counts'), { recordCounts: false }).train.count).toBe(9);
  });
});

describe('loadCifar10 / loadCifar100', () => {
  it('reads the official folder layout in batch order', () => {
    const dir = join(tmp, 'c10', 'cifar-10-batches-bin');
    mkdirSync(dir, { recursive: true });
    const sets = [1, 2, 3, 4, 5, 6].map((i) => randomImageSet(3, 32, 32, 3, 10, i));
    ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5', 'test_batch'].forEach((n, i) =>
      writeFileSync(join(dir, `${n}.bin`), encodeCifarBinary(sets[i]!, CIFAR10_LAYOUT)),
    );
    writeFileSync(join(dir, 'batches.meta.txt'), 'airplane\nautomobile\n\n');
    const threeEach = { recordCounts: Object.fromEntries(Object.keys(CIFAR10_RECORDS).map((n) => [n, 3])) };
    for (const root of [join(tmp, 'c10'), dir]) {
      const ds = loadCifar10(root, threeEach);
      expect(ds.train.count).toBe(15);
      expect(ds.test.count).toBe(3);
      expect(ds.train.images.subarray(3 * 3072, 4 * 3072)).toEqual(sets[1]!.images.subarray(0, 3072));
      expect(Array.from(ds.train.labels.subarray(12))).toEqual(Array.from(sets[4]!.labels));
      expect(ds.test.labels).toEqual(sets[5]!.labels);
      expect(ds.classNames).toEqual(['airplane', 'automobile']);
    }
  });

  it('reads CIFAR-100 train.bin / test.bin', () => {
    const dir = join(tmp, 'c100', 'cifar-100-binary');
    mkdirSync(dir, { recursive: true });
    const train = randomImageSet(4, 32, 32, 3, 100, 9);
    const test = randomImageSet(2, 32, 32, 3, 100, 10);
    writeFileSync(join(dir, 'train.bin'), encodeCifarBinary(train, CIFAR100_LAYOUT));
    writeFileSync(join(dir, 'test.bin'), encodeCifarBinary(test, CIFAR100_LAYOUT));
    const ds = loadCifar100(join(tmp, 'c100'), { recordCounts: { 'train.bin': 4, 'test.bin': 2 } });
    expect(ds.source).toBe(dir);
    expect(ds.files!.map((f) => [f.file, f.verified])).toEqual([
      ['train.bin', null],
      ['test.bin', null],
    ]);
    expect(ds.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(ds.numClasses).toBe(100);
    expect(ds.train.labels).toEqual(train.labels);
    expect(ds.test.images).toEqual(test.images);
  });

  it('a missing folder is a DatasetNotFoundError with the --download hint', () => {
    expect(() => loadCifar10(join(tmp, 'nothing'))).toThrow(DatasetNotFoundError);
    expect(() => loadCifar100(join(tmp, 'nothing'))).toThrow(/CIFAR-100 not found .*--download/);
  });

  it('a missing batch file after the first is a DatasetFormatError', () => {
    const dir = join(tmp, 'partial', 'cifar-10-batches-bin');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'data_batch_1.bin'), new Uint8Array(3073));
    expect(() => loadCifar10(join(tmp, 'partial'))).toThrow(/data_batch_2.bin: file is missing/);
  });
});
