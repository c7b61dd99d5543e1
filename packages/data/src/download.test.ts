import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIFAR10_RECORDS, loadCifar10 } from './cifar.js';
import { DIGEST_MANIFEST } from './digests.js';
import { download, downloadFile, md5File, type DownloadProgress } from './download.js';
import { ChecksumMismatchError, DatasetFormatError, DatasetNotFoundError, DownloadError } from './errors.js';
import { loadImageDataset } from './load.js';
import { writeTar } from './tar.js';
import {
  cifar100Archive,
  cifar10Archive,
  fashionMnistFiles,
  md5,
  randomImageSet,
  startTestServer,
  tinyImageNetZip,
  type TestServer,
} from './test-archives.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-dl-'));
const c10 = cifar10Archive(20);
const c100 = cifar100Archive(12, 4);
const tiny = tinyImageNetZip(2);
const fm = fashionMnistFiles(randomImageSet(9, 28, 28, 1, 10, 5), randomImageSet(4, 28, 28, 1, 10, 6));
const wrongLayout = gzipSync(writeTar([{ path: 'something-else/data.bin', data: new Uint8Array(10) }]));
const checksums: Record<string, string> = {
  'cifar-10-binary.tar.gz': md5(c10.archive),
  'cifar-100-binary.tar.gz': md5(c100.archive),
  'tiny-imagenet-200.zip': md5(tiny),
  ...Object.fromEntries(Object.entries(fm).map(([k, v]) => [k, md5(v)])),
};
/** The generated archives hold fewer records than the official files. */
const c10Counts = { recordCounts: Object.fromEntries(Object.keys(CIFAR10_RECORDS).map((n) => [n, 20])) };
const c100Counts = { 'train.bin': 12, 'test.bin': 4 };
let server: TestServer;
let n = 0;
const freshDir = () => join(tmp, `d${n++}`);
/** Folders the install may create beside the data set: only the data set itself must remain. */
const leftovers = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('.')) : []);

beforeAll(async () => {
  server = await startTestServer({
    'cifar-10-binary.tar.gz': c10.archive,
    'cifar-100-binary.tar.gz': c100.archive,
    'tiny-imagenet-200.zip': tiny,
    'wrong/cifar-10-binary.tar.gz': wrongLayout,
    ...fm,
  });
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('download: good path', () => {
  it('downloads, verifies and unpacks CIFAR-10 atomically; readers see the generated data', async () => {
    const dataDir = freshDir();
    const progress: DownloadProgress[] = [];
    const result = await download('cifar10', { dataDir, baseUrl: server.baseUrl, checksums, onProgress: (p) => progress.push(p) });
    expect(result).toEqual({ path: join(dataDir, 'cifar-10-batches-bin'), downloaded: true });
    const ds = loadCifar10(dataDir, c10Counts);
    expect(ds.train.count).toBe(100);
    expect(ds.test.images).toEqual(c10.batches[5]!.images);
    expect(progress.some((p) => p.phase === 'download' && p.bytes === c10.archive.length && p.totalBytes === c10.archive.length)).toBe(
      true,
    );
    expect(progress.some((p) => p.phase === 'verify')).toBe(true);
    expect(progress.some((p) => p.phase === 'unpack')).toBe(true);
    expect(readdirSync(dataDir)).toEqual(['cifar-10-batches-bin']);

    const before = server.requests.length;
    expect(await download('cifar10', { dataDir, baseUrl: server.baseUrl, checksums })).toEqual({ path: result.path, downloaded: false });
    expect(server.requests.length).toBe(before);
  });

  it('loadImageDataset downloads only when asked, then reads (CIFAR-100, Tiny ImageNet zip, Fashion-MNIST files)', async () => {
    const dataDir = freshDir();
    await expect(loadImageDataset('cifar100', { dataDir })).rejects.toThrow(DatasetNotFoundError);
    const ds = await loadImageDataset('cifar100', {
      dataDir,
      download: true,
      baseUrl: server.baseUrl,
      checksums,
      recordCounts: c100Counts,
    });
    expect(ds.train.labels).toEqual(c100.train.labels);
    const ti = await loadImageDataset('tiny-imagenet', { dataDir, download: true, baseUrl: server.baseUrl, checksums });
    expect(ti.train.count).toBe(6);
    expect(ti.test.count).toBe(6);
    const fmDir = freshDir();
    const res = await download('fashion-mnist', { dataDir: fmDir, baseUrl: server.baseUrl, checksums, keepArchives: false });
    expect(readdirSync(res.path).sort()).toEqual([DIGEST_MANIFEST, ...Object.keys(fm)].sort());
    expect(readdirSync(fmDir)).toEqual(['fashion-mnist']);
    const f = await loadImageDataset('fashion-mnist', { dataDir: fmDir, checksums });
    expect(f.source).toBe(res.path);
    expect(f.train.count).toBe(9);
  });
});

describe('download: failures leave no half data set', () => {
  it('a temporary folder left by a killed unpack is removed by the next install', async () => {
    const dataDir = freshDir();
    mkdirSync(join(dataDir, '.cifar-100-binary.tmp-stale', 'cifar-100-binary'), { recursive: true });
    await download('cifar100', { dataDir, baseUrl: server.baseUrl, checksums });
    expect(readdirSync(dataDir)).toEqual(['cifar-100-binary']);
  });

  it('truncated download: DownloadError, .part kept, no folder; the next call resumes with Range', async () => {
    const dataDir = freshDir();
    server.modes.set('cifar-10-binary.tar.gz', 'truncate');
    const err = await download('cifar10', { dataDir, baseUrl: server.baseUrl, checksums }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(String(err)).toMatch(/after \d+ of \d+ bytes.*run again to resume/);
    const part = join(dataDir, 'cifar-10-binary.tar.gz.part');
    const half = Math.floor(c10.archive.length / 2);
    expect(statSync(part).size).toBe(half);
    expect(existsSync(join(dataDir, 'cifar-10-batches-bin'))).toBe(false);
    expect(() => loadCifar10(dataDir)).toThrow(DatasetNotFoundError);

    server.modes.set('cifar-10-binary.tar.gz', 'ok');
    const progress: DownloadProgress[] = [];
    await download('cifar10', { dataDir, baseUrl: server.baseUrl, checksums, onProgress: (p) => progress.push(p) });
    expect(server.requests.at(-1)).toEqual({ path: 'cifar-10-binary.tar.gz', range: `bytes=${half}-` });
    expect(progress.find((p) => p.phase === 'download')?.resumedFrom).toBe(half);
    expect(loadCifar10(dataDir, c10Counts).train.count).toBe(100);
    expect(existsSync(part)).toBe(false);
    expect(leftovers(dataDir)).toEqual([]);
  });

  it('a server that ignores Range restarts the file from zero and still verifies', async () => {
    const dataDir = freshDir();
    server.modes.set('cifar-10-binary.tar.gz', 'truncate');
    await expect(download('cifar10', { dataDir, baseUrl: server.baseUrl, checksums })).rejects.toThrow(DownloadError);
    server.modes.set('cifar-10-binary.tar.gz', 'no-range');
    await download('cifar10', { dataDir, baseUrl: server.baseUrl, checksums });
    server.modes.delete('cifar-10-binary.tar.gz');
    expect(loadCifar10(dataDir, c10Counts).train.count).toBe(100);
  });

  it('corrupted archive: ChecksumMismatchError, part deleted, nothing installed', async () => {
    const dataDir = freshDir();
    server.modes.set('cifar-100-binary.tar.gz', 'corrupt');
    const err = await download('cifar100', { dataDir, baseUrl: server.baseUrl, checksums }).catch((e: unknown) => e);
    server.modes.delete('cifar-100-binary.tar.gz');
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect((err as ChecksumMismatchError).expected).toBe(checksums['cifar-100-binary.tar.gz']);
    expect(String(err)).toMatch(/does not match the expected/);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('the official MD5 is enforced by default (a generated archive is not the real one)', async () => {
    const dataDir = freshDir();
    await expect(download('cifar10', { dataDir, baseUrl: server.baseUrl })).rejects.toThrow(/expected c32a1d4ab5d03f1284b67883e8d87530/);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('an archive without the official layout: DatasetFormatError, temp folder removed, nothing installed', async () => {
    const dataDir = freshDir();
    const err = await download('cifar10', {
      dataDir,
      baseUrl: `${server.baseUrl}wrong/`,
      checksums: { 'cifar-10-binary.tar.gz': md5(wrongLayout) },
      keepArchives: true,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetFormatError);
    expect(String(err)).toMatch(/does not contain cifar-10-batches-bin\/data_batch_1.bin/);
    expect(readdirSync(dataDir)).toEqual(['cifar-10-binary.tar.gz']);
  });

  it('HTTP errors are DownloadErrors naming the status', async () => {
    const dataDir = freshDir();
    server.modes.set('tiny-imagenet-200.zip', 'missing');
    await expect(download('tiny-imagenet', { dataDir, baseUrl: server.baseUrl, checksums })).rejects.toThrow(/HTTP 404/);
    server.modes.delete('tiny-imagenet-200.zip');
    await expect(downloadFile('http://127.0.0.1:1/x', join(dataDir, 'x'), { md5: 'x' })).rejects.toThrow(/cannot connect/);
  });

  it('a complete .part (server answers 416) is verified instead of refetched', async () => {
    const dataDir = freshDir();
    const dest = join(dataDir, 'cifar-10-binary.tar.gz');
    await download('cifar10', { dataDir, baseUrl: server.baseUrl, checksums, keepArchives: true });
    writeFileSync(`${dest}.part`, c10.archive);
    rmSync(dest);
    await downloadFile(`${server.baseUrl}cifar-10-binary.tar.gz`, dest, { md5: checksums['cifar-10-binary.tar.gz']! });
    expect(server.requests.at(-1)?.range).toBe(`bytes=${c10.archive.length}-`);
    expect(await md5File(dest)).toBe(checksums['cifar-10-binary.tar.gz']);
  });
});

describe('download: files it did not create are never deleted', () => {
  const name = 'cifar-10-binary.tar.gz';
  const placed = Uint8Array.from({ length: 4096 }, (_, i) => (i * 13) % 256);

  it('a user-placed archive with the wrong MD5 is moved aside; the error says expected, actual and where (server unreachable)', async () => {
    const dataDir = freshDir();
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, name), placed);
    const err = (await download('cifar10', { dataDir, baseUrl: 'http://127.0.0.1:1/', checksums }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(DownloadError);
    const moved = readdirSync(dataDir).filter((f) => f.startsWith(`${name}.mismatch-`));
    expect(moved).toHaveLength(1);
    const movedTo = join(dataDir, moved[0]!);
    expect(new Uint8Array(readFileSync(movedTo))).toEqual(placed);
    expect(existsSync(join(dataDir, name))).toBe(false);
    expect(err.message).toMatch(/cannot connect/);
    expect(err.message).toContain(
      `${join(dataDir, name)} has MD5 ${md5(placed)}, expected ${checksums[name]}: it was moved to ${movedTo} (not deleted)`,
    );
  });

  it('with the server up: moved aside, a fresh copy installed, and the result and the dataset notes say so', async () => {
    const dataDir = freshDir();
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, name), placed);
    const notices: string[] = [];
    const ds = await loadImageDataset('cifar10', {
      dataDir,
      download: true,
      baseUrl: server.baseUrl,
      checksums,
      ...c10Counts,
      onNotice: (m) => notices.push(m),
    });
    expect(ds.train.count).toBe(100);
    const moved = readdirSync(dataDir).filter((f) => f.startsWith(`${name}.mismatch-`));
    expect(moved).toHaveLength(1);
    expect(new Uint8Array(readFileSync(join(dataDir, moved[0]!)))).toEqual(placed);
    const line = `${join(dataDir, name)} has MD5 ${md5(placed)}, expected ${checksums[name]}: it was moved to ${join(dataDir, moved[0]!)} (not deleted); a fresh copy was downloaded`;
    expect(ds.notes).toEqual([line]);
    expect(notices).toEqual([line]);
    // The downloaded archive (ours) is removed after unpacking; the moved-aside file stays.
    expect(readdirSync(dataDir).sort()).toEqual(['cifar-10-batches-bin', moved[0]!].sort());
  });

  it('downloadFile reports the moved-aside file in its result and through onNotice', async () => {
    const dataDir = freshDir();
    mkdirSync(dataDir, { recursive: true });
    const dest = join(dataDir, name);
    writeFileSync(dest, placed);
    const notices: string[] = [];
    const result = await downloadFile(`${server.baseUrl}${name}`, dest, { md5: checksums[name]!, onNotice: (m) => notices.push(m) });
    expect(result.downloaded).toBe(true);
    expect(result.movedAside).toMatchObject({ file: dest, expected: checksums[name], actual: md5(placed) });
    expect(notices[0]).toContain(`it was moved to ${result.movedAside!.movedTo} (not deleted); fetching a fresh copy from`);
    expect(await md5File(dest)).toBe(checksums[name]);
  });

  it('an archive the user placed with the right MD5 is used offline and kept after the install', async () => {
    const dataDir = freshDir();
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, name), c10.archive);
    const before = server.requests.length;
    await download('cifar10', { dataDir, baseUrl: 'http://127.0.0.1:1/', checksums });
    expect(server.requests.length).toBe(before);
    expect(readdirSync(dataDir).sort()).toEqual(['cifar-10-batches-bin', name]);
    expect(await md5File(join(dataDir, name))).toBe(checksums[name]);
  });

  it('unpacked files are pinned: the second read hashes nothing; a byte changed later is a ChecksumMismatchError', async () => {
    const dataDir = freshDir();
    const { path } = await download('cifar10', { dataDir, baseUrl: server.baseUrl, checksums });
    expect(existsSync(join(path, DIGEST_MANIFEST))).toBe(true);
    const first: boolean[] = [];
    const ds = loadCifar10(dataDir, { ...c10Counts, onVerify: (_f, h) => first.push(h) });
    // Pinned at install with their stat keys: nothing to hash on the first read either.
    expect(first).toEqual(new Array(6).fill(false));
    const origin = `installed by samrank from cifar-10-binary.tar.gz (MD5 ${checksums[name]})`;
    expect(ds.files!.map((f) => f.verified)).toEqual(new Array(6).fill(origin));
    const file = join(path, 'data_batch_3.bin');
    const bytes = new Uint8Array(readFileSync(file));
    bytes[5000]! ^= 0x01;
    writeFileSync(file, bytes);
    const err = (() => {
      try {
        loadCifar10(dataDir, c10Counts);
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a throw');
    })();
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(err.message).toMatch(
      new RegExp(
        `^${file}: SHA-256 [0-9a-f]{64} does not match the expected [0-9a-f]{64} \\(the file changed after it was ${origin.replace(/[()]/g, '\\$&')}`,
      ),
    );
    expect((err as ChecksumMismatchError).expected).toBe(ds.files![2]!.sha256);
  });
});
