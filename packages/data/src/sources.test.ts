import { describe, expect, it } from 'vitest';
import { DATASET_SOURCES } from './sources.js';

describe('DATASET_SOURCES', () => {
  it('carries the official archive names and MD5s (docs/paper-notes.md §8.5, torchvision for Fashion-MNIST)', () => {
    expect(DATASET_SOURCES.cifar10.files).toEqual([
      { name: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530', bytes: 170_052_171 },
    ]);
    expect(DATASET_SOURCES.cifar100.files[0]).toEqual({ name: 'cifar-100-binary.tar.gz', md5: '03b5dce01913d631647c71ecec9e9cb8' });
    expect(DATASET_SOURCES['tiny-imagenet'].files[0]!.md5).toBe('90528d7ca1a48142e341f4ef8d21d0de');
    expect(DATASET_SOURCES['fashion-mnist'].files.map((f) => f.md5)).toEqual([
      '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
      '25c81989df183df01b3e8a0aad5dffbe',
      'bef4ecab320f06d8554ea6380940ec79',
      'bb300cfdad3c16e7a12a480ee83cd310',
    ]);
    for (const s of Object.values(DATASET_SOURCES)) {
      for (const f of s.files) expect(f.md5).toMatch(/^[0-9a-f]{32}$/);
      expect(s.required.length).toBeGreaterThan(0);
      expect(() => new URL(s.baseUrl)).not.toThrow();
    }
  });
});
