import { describe, expect, it } from 'vitest';
import { ChecksumMismatchError, CorruptFileError, DatasetFormatError, DatasetNotFoundError, DownloadError } from './errors.js';

describe('errors', () => {
  it('carry their names, fields and messages that say what happened', () => {
    const nf = new DatasetNotFoundError('CIFAR-10', ['/a', '/b']);
    expect(nf.name).toBe('DatasetNotFoundError');
    expect(nf.message).toBe(
      'CIFAR-10 not found (looked in: /a, /b). Run with --download to fetch it, or pass --data-dir pointing at an unpacked copy.',
    );
    expect(new DatasetFormatError('f.bin', 'bad').message).toBe('f.bin: bad');
    const cm = new ChecksumMismatchError('x.part', 'aa', 'bb');
    expect([cm.name, cm.expected, cm.actual]).toEqual(['ChecksumMismatchError', 'aa', 'bb']);
    const de = new DownloadError('http://h/x', 'HTTP 500', { cause: 'c' });
    expect(de.message).toBe('download of http://h/x failed: HTTP 500');
    expect(de.cause).toBe('c');
    for (const e of [nf, cm, de]) expect(e).toBeInstanceOf(Error);
  });

  it('ChecksumMismatchError says what happened to the file; CorruptFileError is a DatasetFormatError with the failed check', () => {
    expect(new ChecksumMismatchError('a.gz', 'aa', 'bb').message).toBe(
      'a.gz: MD5 bb does not match the expected aa (corrupt or wrong file)',
    );
    const moved = new ChecksumMismatchError('a.gz', 'aa', 'bb', { note: 'moved to a.gz.mismatch-1', movedTo: 'a.gz.mismatch-1' });
    expect([moved.message, moved.movedTo]).toEqual([
      'a.gz: MD5 bb does not match the expected aa (moved to a.gz.mismatch-1)',
      'a.gz.mismatch-1',
    ]);
    expect(new ChecksumMismatchError('f', 'x', 'y', { algorithm: 'SHA-256' }).message).toBe(
      'f: SHA-256 y does not match the expected x (corrupt or wrong file)',
    );
    const cf = new CorruptFileError('t.gz', 'crc32', 'gzip CRC-32 check failed');
    expect([cf.name, cf.check, cf.message, cf.file]).toEqual(['CorruptFileError', 'crc32', 't.gz: gzip CRC-32 check failed', 't.gz']);
    expect(cf).toBeInstanceOf(DatasetFormatError);
    expect(new DownloadError('u', 'HTTP 404').problem).toBe('HTTP 404');
  });
});
