import { describe, expect, it } from 'vitest';
import { ChecksumMismatchError, DatasetFormatError, DatasetNotFoundError, DownloadError } from './errors.js';

describe('errors', () => {
  it('carry their names, fields and messages that say what happened', () => {
    const nf = new DatasetNotFoundError('CIFAR-10', ['/a', '/b']);
    expect(nf.name).toBe('DatasetNotFoundError');
    expect(nf.message).toBe('CIFAR-10 not found (looked in: /a, /b). Run with --download to fetch it, or pass --data-dir pointing at an unpacked copy.');
    expect(new DatasetFormatError('f.bin', 'bad').message).toBe('f.bin: bad');
    const cm = new ChecksumMismatchError('x.part', 'aa', 'bb');
    expect([cm.name, cm.expected, cm.actual]).toEqual(['ChecksumMismatchError', 'aa', 'bb']);
    const de = new DownloadError('http://h/x', 'HTTP 500', { cause: 'c' });
    expect(de.message).toBe('download of http://h/x failed: HTTP 500');
    expect(de.cause).toBe('c');
    for (const e of [nf, cm, de]) expect(e).toBeInstanceOf(Error);
  });
});
