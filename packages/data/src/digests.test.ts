import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomicSync } from './atomic-write.js';
import { datasetDigest, DIGEST_MANIFEST, DigestManifest, digestManifestPath, hashFileSync } from './digests.js';
import { ChecksumMismatchError } from './errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-digests-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const saved = process.env['SAMRANK_DATA_DIR'];
beforeEach(() => {
  process.env['SAMRANK_DATA_DIR'] = join(tmp, 'default-data');
});
afterEach(() => {
  if (saved === undefined) delete process.env['SAMRANK_DATA_DIR'];
  else process.env['SAMRANK_DATA_DIR'] = saved;
});

let n = 0;
function folder(files: Record<string, string | Uint8Array>): string {
  const dir = join(tmp, `f${n++}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  return dir;
}
const sha = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex');

describe('DigestManifest', () => {
  it('hashes a file once; the key is size, mtime, ctime and inode, so even a same-size edit with the old mtime is hashed again', () => {
    const dir = folder({ 'a.bin': 'hello world' });
    const hashed: boolean[] = [];
    const onVerify = (_f: string, h: boolean) => hashed.push(h);
    const m1 = DigestManifest.open(dir);
    expect(m1.read('a.bin', { onVerify }).record).toEqual({ file: 'a.bin', sha256: sha('hello world'), verified: null });
    m1.save();
    expect(DigestManifest.open(dir).read('a.bin', { onVerify }).record.sha256).toBe(sha('hello world'));
    expect(hashed).toEqual([true, false]);
    // Same size, mtime put back: ctime still moves, so the new content is hashed, not trusted from the cache.
    const path = join(dir, 'a.bin');
    const before = new Date('2020-01-01T00:00:00Z');
    utimesSync(path, before, before);
    const m2 = DigestManifest.open(dir);
    m2.read('a.bin', { onVerify });
    m2.save();
    writeFileSync(path, 'hello WORLD');
    utimesSync(path, before, before);
    expect(DigestManifest.open(dir).read('a.bin', { onVerify }).record.sha256).toBe(sha('hello WORLD'));
    expect(hashed.at(-1)).toBe(true);
  });

  it('a known digest must match every time (MD5 of the file or SHA-256 of its derived content)', () => {
    const dir = folder({ 'x.txt': 'abc' });
    const md5 = createHash('md5').update('abc').digest('hex');
    const m = DigestManifest.open(dir);
    expect(m.read('x.txt', { known: { md5, origin: 'the test' } }).record.verified).toBe('the test');
    const upper = (raw: Uint8Array) => new TextEncoder().encode(new TextDecoder().decode(raw).toUpperCase());
    const viaContent = m.read('x.txt', { known: { md5: '0'.repeat(32), contentSha256: sha('ABC'), origin: 'content' }, content: upper });
    expect(viaContent.record).toEqual({ file: 'x.txt', sha256: sha('ABC'), verified: 'content' });
    expect(new TextDecoder().decode(viaContent.content)).toBe('ABC');
    let err: unknown;
    try {
      m.read('x.txt', { known: { md5: 'f'.repeat(32), origin: 'the official list' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect((err as Error).message).toBe(
      `${join(dir, 'x.txt')}: MD5 ${md5}, SHA-256 ${sha('abc')} does not match the expected MD5 ${'f'.repeat(32)} ` +
        '(checked against the official list; the file is damaged or a different version: replace it with the official file)',
    );
  });

  it('a pinned file that changed is a ChecksumMismatchError with the pinned and the actual SHA-256; restoring it passes', () => {
    const dir = folder({ 'p.bin': 'pinned content' });
    const m = DigestManifest.open(dir);
    m.pin('p.bin', 'unpacked from a verified archive');
    m.save({ required: true });
    const manifest = JSON.parse(readFileSync(join(dir, DIGEST_MANIFEST), 'utf8'));
    expect(manifest.format).toBe('samrank-digests/1');
    expect(manifest.files['p.bin']).toMatchObject({ sha256: sha('pinned content'), pinned: 'unpacked from a verified archive' });
    writeFileSync(join(dir, 'p.bin'), 'pinned CONTENT');
    expect(() => DigestManifest.open(dir).read('p.bin')).toThrow(
      `${join(dir, 'p.bin')}: SHA-256 ${sha('pinned CONTENT')} does not match the expected ${sha('pinned content')} ` +
        `(the file changed after it was unpacked from a verified archive; restore it, or delete ${join(dir, DIGEST_MANIFEST)} to accept it unverified)`,
    );
    writeFileSync(join(dir, 'p.bin'), 'pinned content');
    const back = DigestManifest.open(dir);
    expect(back.read('p.bin').record.verified).toBe('unpacked from a verified archive');
    back.save();
    // The pin survives the rewrite with the new stat key.
    expect(JSON.parse(readFileSync(join(dir, DIGEST_MANIFEST), 'utf8')).files['p.bin'].pinned).toBe('unpacked from a verified archive');
  });

  it('a damaged or foreign manifest is ignored (files are hashed again), then replaced', () => {
    for (const junk of ['{not json', '{"format":"other/9","files":{}}', '{"format":"samrank-digests/1","files":{"a":{"size":"x"}}}']) {
      const dir = folder({ a: 'data', [DIGEST_MANIFEST]: junk });
      const hashed: boolean[] = [];
      const m = DigestManifest.open(dir);
      expect(m.read('a', { onVerify: (_f, h) => hashed.push(h) }).record.sha256).toBe(sha('data'));
      m.save();
      expect(hashed).toEqual([true]);
      expect(JSON.parse(readFileSync(join(dir, DIGEST_MANIFEST), 'utf8')).files.a.sha256).toBe(sha('data'));
    }
  });

  it('two manifests saved one after the other keep both entries (merged, not overwritten)', () => {
    const dir = folder({ a: 'A', b: 'B' });
    const m1 = DigestManifest.open(dir);
    const m2 = DigestManifest.open(dir);
    m1.read('a');
    m2.read('b');
    m1.save();
    m2.save();
    expect(Object.keys(JSON.parse(readFileSync(join(dir, DIGEST_MANIFEST), 'utf8')).files).sort()).toEqual(['a', 'b']);
  });

  it('folders samrank does not own keep their manifest under the default data dir; writing never fails a read', () => {
    expect(digestManifestPath('/usr/share/datasets/fashion-mnist')).toMatch(
      new RegExp(`^${join(tmp, 'default-data', '.digests', 'fashion-mnist-')}[0-9a-f]{16}\\.json$`),
    );
    const dir = folder({ a: 'x' });
    expect(digestManifestPath(dir)).toBe(join(dir, DIGEST_MANIFEST));
    // A manifest path that cannot be created: the read still succeeds, nothing is left behind.
    const blocked = join(folder({ file: 'not a folder' }), 'file', 'm.json');
    const m = DigestManifest.open(dir, blocked);
    expect(m.read('a').record.sha256).toBe(sha('x'));
    expect(() => m.save()).not.toThrow();
    expect(() => m.save({ required: true })).toThrow();
  });

  it.skipIf(process.getuid?.() === 0)('a read-only folder gets its manifest under the default data dir', () => {
    const dir = folder({ a: 'x' });
    chmodSync(dir, 0o555);
    try {
      expect(digestManifestPath(dir).startsWith(join(tmp, 'default-data', '.digests'))).toBe(true);
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  it('datasetDigest is one SHA-256 over the sorted names and digests; hashFileSync streams MD5 and SHA-256', () => {
    const a = { file: 'a', sha256: sha('1'), verified: null };
    const b = { file: 'b', sha256: sha('2'), verified: 'x' };
    expect(datasetDigest([b, a])).toBe(datasetDigest([a, b]));
    expect(datasetDigest([a, b])).toBe(sha(`a\t${sha('1')}\nb\t${sha('2')}\n`));
    const big = new Uint8Array(3 * (1 << 20) + 17).map((_, i) => i % 251);
    const dir = folder({ big });
    const h = hashFileSync(join(dir, 'big'));
    expect(h.sha256).toBe(sha(big));
    expect(h.md5).toBe(createHash('md5').update(big).digest('hex'));
  });
});

describe('writeFileAtomicSync', () => {
  it('replaces the file whole (string, buffer, or chunks) and leaves no temporary file', () => {
    const dir = folder({ t: 'old' });
    const path = join(dir, 't');
    writeFileAtomicSync(path, 'new');
    expect(readFileSync(path, 'utf8')).toBe('new');
    writeFileAtomicSync(path, [Uint8Array.of(65, 66), Uint8Array.of(67)]);
    expect(readFileSync(path, 'utf8')).toBe('ABC');
    writeFileAtomicSync(path, Uint8Array.of(68));
    expect(readFileSync(path, 'utf8')).toBe('D');
    expect(readdirSync(dir)).toEqual(['t']);
  });

  it('a failed rename removes its temporary file and keeps the old content', () => {
    const dir = folder({});
    mkdirSync(join(dir, 'target'));
    writeFileSync(join(dir, 'target', 'inside'), 'x');
    // Renaming a file over a non-empty folder fails.
    expect(() => writeFileAtomicSync(join(dir, 'target'), 'data')).toThrow();
    expect(readdirSync(dir)).toEqual(['target']);
    expect(existsSync(join(dir, 'target', 'inside'))).toBe(true);
  });
});
