import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptFileError, DatasetFormatError } from './errors.js';
import { writeTar } from './tar.js';
import { damageGzip } from './test-archives.js';
import { archiveKind, safeMemberPath, unpackArchive } from './unpack.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-unpack-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const payload = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) % 251);

describe('unpackArchive', () => {
  it('unpacks a .tar.gz (streaming) with nested folders', async () => {
    const archive = join(tmp, 'a.tar.gz');
    writeFileSync(
      archive,
      gzipSync(
        writeTar([
          { path: 'root/sub/x.bin', data: payload },
          { path: 'root/y.txt', data: Uint8Array.of(65) },
        ]),
      ),
    );
    const progress: number[] = [];
    const n = await unpackArchive(archive, join(tmp, 'out1'), undefined, (b) => progress.push(b));
    expect(n).toBe(2);
    expect(new Uint8Array(readFileSync(join(tmp, 'out1/root/sub/x.bin')))).toEqual(payload);
    expect(readFileSync(join(tmp, 'out1/root/y.txt'), 'utf8')).toBe('A');
    expect(progress.at(-1)).toBeGreaterThan(0);
  });

  it('unpacks a .zip (streaming) with directory entries', async () => {
    const archive = join(tmp, 'a.zip');
    writeFileSync(archive, zipSync({ 'z/': {}, 'z/d/p.bin': payload, 'z/q.txt': new TextEncoder().encode('q') }));
    const n = await unpackArchive(archive, join(tmp, 'out2'));
    expect(n).toBe(2);
    expect(new Uint8Array(readFileSync(join(tmp, 'out2/z/d/p.bin')))).toEqual(payload);
  });

  it('refuses members that escape the target folder', async () => {
    expect(() => safeMemberPath('/t', '../evil', 'a')).toThrow(/outside the target folder/);
    expect(() => safeMemberPath('/t', '/etc/passwd', 'a')).toThrow(DatasetFormatError);
    expect(safeMemberPath('/t', 'a/./b', 'x')).toBe('/t/a/b');
    const archive = join(tmp, 'evil.tar.gz');
    writeFileSync(archive, gzipSync(writeTar([{ path: '../evil.txt', data: Uint8Array.of(1) }])));
    await expect(unpackArchive(archive, join(tmp, 'out3'))).rejects.toThrow(/would be written outside/);
    expect(existsSync(join(tmp, 'evil.txt'))).toBe(false);
  });

  it('reports a corrupt gzip stream as DatasetFormatError', async () => {
    const gz = gzipSync(writeTar([{ path: 'r/x.bin', data: payload }]));
    const archive = join(tmp, 'trunc.tar.gz');
    writeFileSync(archive, gz.subarray(0, Math.floor(gz.length / 2)));
    await expect(unpackArchive(archive, join(tmp, 'out4'))).rejects.toThrow(DatasetFormatError);
  });

  it('verifies every gzip member of a .tar.gz: flipped deflate byte, CRC, ISIZE, truncation are CorruptFileErrors', async () => {
    const gz = gzipSync(
      writeTar([
        { path: 'r/a.bin', data: payload },
        { path: 'r/b.bin', data: payload.slice().reverse() },
      ]),
    );
    const expected: Record<string, string> = { deflate: 'crc32', crc: 'crc32', isize: 'length', truncate: 'truncated' };
    for (const damage of ['deflate', 'crc', 'isize', 'truncate'] as const) {
      const archive = join(tmp, `damaged-${damage}.tar.gz`);
      writeFileSync(archive, damageGzip(gz, damage));
      const err = await unpackArchive(archive, join(tmp, `out-${damage}`)).catch((e: unknown) => e as Error);
      expect(err, damage).toBeInstanceOf(CorruptFileError);
      expect((err as CorruptFileError).check, damage).toBe(expected[damage]);
      expect((err as Error).message.startsWith(`${archive}: gzip `), damage).toBe(true);
    }
    // A second member with a bad CRC is caught too (multi-member streams are checked member by member).
    const two = join(tmp, 'two-members.tar.gz');
    const tarBytes = writeTar([{ path: 'r/c.bin', data: payload }]);
    const second = gzipSync(tarBytes.subarray(1024));
    writeFileSync(two, Buffer.concat([gzipSync(tarBytes.subarray(0, 1024)), damageGzip(second, 'crc')]));
    await expect(unpackArchive(two, join(tmp, 'out-two'))).rejects.toThrow(/gzip CRC-32 check failed/);
    const good = join(tmp, 'two-good.tar.gz');
    writeFileSync(good, Buffer.concat([gzipSync(tarBytes.subarray(0, 1024)), second]));
    expect(await unpackArchive(good, join(tmp, 'out-two-good'))).toBe(1);
    expect(new Uint8Array(readFileSync(join(tmp, 'out-two-good/r/c.bin')))).toEqual(payload);
  });

  it('knows archive kinds by name', () => {
    expect(archiveKind('cifar-10-binary.tar.gz')).toBe('tar.gz');
    expect(archiveKind('tiny-imagenet-200.zip')).toBe('zip');
    expect(() => archiveKind('x.rar')).toThrow(/unknown archive type/);
  });
});
