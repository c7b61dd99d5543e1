/**
 * Resumable, MD5-verified downloads and atomic installs of the official data set files.
 *
 * A download goes to `<file>.part`; an interrupted one keeps the part so the next call resumes it
 * with an HTTP Range request. Only a file whose MD5 matches is renamed to its final name; a
 * mismatching part, which the downloader created, is deleted (resuming a corrupt file cannot fix it).
 * A file the downloader did not create is never deleted: one with the wrong MD5 is moved aside
 * and reported with both digests. Archives are unpacked into a temporary folder beside the target
 * and renamed into place only when complete, so readers never see half a data set; the digests of the
 * unpacked files are pinned in the folder's manifest, so later reads detect a changed file.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { DIGEST_MANIFEST, DigestManifest } from './digests.js';
import { ChecksumMismatchError, DatasetFormatError, DownloadError } from './errors.js';
import type { ImageDatasetName } from './image-set.js';
import { DATASET_SOURCES, type DatasetSource } from './sources.js';
import { unpackArchive } from './unpack.js';

/** What a progress callback is told. */
export interface DownloadProgress {
  phase: 'download' | 'verify' | 'unpack';
  file: string;
  /** Bytes done in this phase (for 'download': bytes present in the part file, resumed bytes included). */
  bytes: number;
  /** Total bytes when known. */
  totalBytes?: number;
  /** For 'download': bytes that were already present from an earlier, interrupted attempt. */
  resumedFrom?: number;
}

/** Options of {@link downloadFile}. */
export interface DownloadFileOptions {
  /** The file's expected MD5 (hex); a mismatch removes the download and throws. */
  md5: string;
  /** Called as bytes arrive and while the finished file is verified. */
  onProgress?: (p: DownloadProgress) => void;
  /** Told, as one line, about a file that was moved aside. */
  onNotice?: (message: string) => void;
  /** Aborts the download (the partial file stays for a later resume). */
  signal?: AbortSignal;
  /** Size hint for progress before the server answers. */
  expectedBytes?: number;
}

/** A file found where a download was to go, with the wrong MD5, and where it was moved. */
export interface MovedAsideFile {
  file: string;
  movedTo: string;
  expected: string;
  actual: string;
}

/** What {@link downloadFile} did. */
export interface DownloadFileResult {
  /** False when `dest` already held the right file and nothing was fetched. */
  downloaded: boolean;
  /** The mismatching file that was in `dest`, if there was one. */
  movedAside?: MovedAsideFile;
}

/** The one-line report of a moved-aside file. */
export function movedAsideMessage(m: MovedAsideFile): string {
  return `${m.file} has MD5 ${m.actual}, expected ${m.expected}: it was moved to ${m.movedTo} (not deleted)`;
}

function moveAside(dest: string, expected: string, actual: string): MovedAsideFile {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  let target = `${dest}.mismatch-${stamp}`;
  for (let n = 1; existsSync(target); n++) target = `${dest}.mismatch-${stamp}-${n}`;
  try {
    renameSync(dest, target);
  } catch (err) {
    throw new ChecksumMismatchError(dest, expected, actual, {
      note: `it could not be moved aside (${(err as Error).message}) and was left in place: move or delete it yourself, then retry`,
    });
  }
  return { file: dest, movedTo: target, expected, actual };
}

/** MD5 of a file, streamed, as lowercase hex. */
export async function md5File(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function sizeOf(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

/**
 * Downloads `url` to `dest`, resuming `dest + '.part'` if present, and verifies the MD5.
 * Throws {@link DownloadError} (part kept, call again to resume) or {@link ChecksumMismatchError}
 * (part deleted). Does nothing when `dest` already exists with the right MD5; an existing `dest`
 * with another MD5 is renamed to `<dest>.mismatch-<time>` (reported through `onNotice`, the result and
 * any error) and a fresh copy is fetched.
 */
export async function downloadFile(url: string, dest: string, options: DownloadFileOptions): Promise<DownloadFileResult> {
  let movedAside: MovedAsideFile | undefined;
  if (existsSync(dest)) {
    const actual = await md5File(dest);
    if (actual === options.md5) return { downloaded: false };
    movedAside = moveAside(dest, options.md5, actual);
    options.onNotice?.(`${movedAsideMessage(movedAside)}; fetching a fresh copy from ${url}`);
  }
  try {
    await fetchVerified(url, dest, options);
  } catch (err) {
    if (!movedAside) throw err;
    const note = movedAsideMessage(movedAside);
    if (err instanceof DownloadError) throw new DownloadError(url, `${err.problem}. Before that, ${note}`, { cause: err });
    if (err instanceof ChecksumMismatchError) {
      throw new ChecksumMismatchError(err.file, err.expected, err.actual, {
        note: `the downloaded part was removed; before that, ${note}`,
        movedTo: movedAside.movedTo,
      });
    }
    throw err;
  }
  return { downloaded: true, ...(movedAside ? { movedAside } : {}) };
}

/**
 * Fetches `url` into `dest + '.part'` (resuming it), runs `check` on the complete part and renames it to `dest`.
 * `check` throws for a bad file; the part is then removed (the downloader created it, and resuming cannot fix it).
 */
async function fetchChecked(
  url: string,
  dest: string,
  options: Pick<DownloadFileOptions, 'onProgress' | 'signal' | 'expectedBytes'>,
  check: (part: string) => Promise<void>,
): Promise<void> {
  const file = basename(dest);
  const part = `${dest}.part`;
  const resumedFrom = sizeOf(part);
  const headers: Record<string, string> = {};
  if (resumedFrom > 0) headers['range'] = `bytes=${resumedFrom}-`;
  let response: Response;
  try {
    response = await fetch(url, { headers, ...(options.signal ? { signal: options.signal } : {}) });
  } catch (err) {
    throw new DownloadError(url, `cannot connect (${(err as Error).message})`, { cause: err });
  }
  let append = false;
  let total: number | undefined;
  const length = Number(response.headers.get('content-length') ?? NaN);
  if (response.status === 206 && resumedFrom > 0) {
    append = true;
    const range = /\/(\d+)\s*$/.exec(response.headers.get('content-range') ?? '');
    total = range ? Number(range[1]) : Number.isFinite(length) ? resumedFrom + length : undefined;
  } else if (response.status === 416 && resumedFrom > 0) {
    // The part already holds every byte the server has: only the checksum can tell if it is right.
    await response.body?.cancel();
    append = true;
    total = resumedFrom;
  } else if (response.ok) {
    total = Number.isFinite(length) ? length : options.expectedBytes;
  } else {
    await response.body?.cancel();
    throw new DownloadError(url, `HTTP ${response.status} ${response.statusText}`);
  }

  let received = append ? resumedFrom : 0;
  if (response.status !== 416) {
    const fd = openSync(part, append ? 'a' : 'w');
    try {
      const report = () =>
        options.onProgress?.({
          phase: 'download',
          file,
          bytes: received,
          ...(total !== undefined ? { totalBytes: total } : {}),
          resumedFrom: append ? resumedFrom : 0,
        });
      report();
      if (!response.body) throw new DownloadError(url, 'response has no body');
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
        received += chunk.length;
        report();
      }
    } catch (err) {
      if (err instanceof DownloadError) throw err;
      throw new DownloadError(
        url,
        `connection lost after ${received}${total !== undefined ? ` of ${total}` : ''} bytes ` +
          `(${(err as Error).message}); the partial file ${part} was kept: run again to resume`,
        { cause: err },
      );
    } finally {
      closeSync(fd);
    }
  }
  if (total !== undefined && received < total) {
    throw new DownloadError(
      url,
      `server closed the connection after ${received} of ${total} bytes; the partial file ${part} was kept: run again to resume`,
    );
  }
  options.onProgress?.({ phase: 'verify', file, bytes: received, totalBytes: received });
  try {
    await check(part);
  } catch (error) {
    rmSync(part, { force: true });
    throw error;
  }
  renameSync(part, dest);
}

async function fetchVerified(url: string, dest: string, options: DownloadFileOptions): Promise<void> {
  await fetchChecked(url, dest, options, async (part) => {
    const actual = await md5File(part);
    if (actual !== options.md5)
      throw new ChecksumMismatchError(part, options.md5, actual, { note: 'corrupt or wrong file; the downloaded part was removed' });
  });
}

/** Options of {@link downloadChecked}. */
export interface DownloadCheckedOptions {
  /**
   * Checks a complete file (the finished download, or a file already at `dest`) and throws a typed error when it
   * is not the expected one: for files whose digest is not known, e.g. a structural check of an archive.
   */
  check: (path: string) => void | Promise<void>;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  expectedBytes?: number;
}

/**
 * Downloads `url` to `dest` like {@link downloadFile} (resumable through `dest + '.part'`, renamed into place only
 * when complete and checked), for files without a published digest: `check` decides. A download is complete when
 * the server's length (Content-Length or Content-Range) is reached. An existing `dest` that passes `check` is
 * kept (nothing fetched); one that fails is left alone and the error says so (it is not the downloader's to delete).
 */
export async function downloadChecked(url: string, dest: string, options: DownloadCheckedOptions): Promise<DownloadFileResult> {
  if (existsSync(dest)) {
    try {
      await options.check(dest);
    } catch (error) {
      throw new DatasetFormatError(
        dest,
        `is already there but fails its check (${(error as Error).message}); move or delete it, then retry`,
      );
    }
    return { downloaded: false };
  }
  await fetchChecked(url, dest, options, async (part) => {
    await options.check(part);
  });
  return { downloaded: true };
}

/** Options of {@link download} and {@link installDataset}. */
export interface DownloadOptions {
  /** Folder the data set is installed under (its `folder` subfolder is created). */
  dataDir: string;
  /** Replaces the source's base URL (mirrors; the tests' local server). */
  baseUrl?: string;
  /** Replaces MD5s by file name (tests serve generated archives). */
  checksums?: Record<string, string>;
  /** Called as bytes arrive, while archives are verified and while they are unpacked. */
  onProgress?: (p: DownloadProgress) => void;
  /** Told, as one line, about a file that was moved aside. */
  onNotice?: (message: string) => void;
  /** Aborts the download (partial files stay for a later resume). */
  signal?: AbortSignal;
  /**
   * Keep the verified archives after unpacking (default false: archives this call downloaded are
   * deleted; an archive that was already there is always kept).
   */
  keepArchives?: boolean;
}

/** Result of {@link download}. */
export interface InstallResult {
  /** The installed data set folder. */
  path: string;
  /** False when the data set was already installed and nothing was fetched. */
  downloaded: boolean;
  /** Files with the wrong MD5 found where an archive was to go, and where they were moved. */
  movedAside?: MovedAsideFile[];
}

/** True when every required path of the source exists under `dir`. */
export function isInstalled(source: DatasetSource, dir: string): boolean {
  return source.required.every((r) => existsSync(join(dir, r)));
}

/**
 * Installs already-downloaded, verified files of `source` from `fromDir` into `dataDir/<folder>`:
 * unpacks (or copies) into a temporary folder, checks the required files, then renames into place.
 */
export async function installDataset(
  source: DatasetSource,
  fromDir: string,
  options: Pick<DownloadOptions, 'dataDir' | 'onProgress' | 'checksums'>,
): Promise<string> {
  const target = join(options.dataDir, source.folder);
  mkdirSync(options.dataDir, { recursive: true });
  // A process killed during an earlier unpack leaves its temporary folder behind (never the target).
  for (const entry of readdirSync(options.dataDir)) {
    if (entry.startsWith(`.${source.folder}.tmp-`)) rmSync(join(options.dataDir, entry), { recursive: true, force: true });
  }
  const tmp = mkdtempSync(join(options.dataDir, `.${source.folder}.tmp-`));
  try {
    const staged = join(tmp, source.folder);
    for (const f of source.files) {
      const path = join(fromDir, f.name);
      const expected = options.checksums?.[f.name] ?? f.md5;
      const actual = await md5File(path);
      if (actual !== expected)
        throw new ChecksumMismatchError(path, expected, actual, { note: 'corrupt or wrong file; it was left in place' });
      if (source.unpack) {
        const total = statSync(path).size;
        await unpackArchive(path, tmp, undefined, (bytes) =>
          options.onProgress?.({ phase: 'unpack', file: f.name, bytes, totalBytes: total }),
        );
      } else {
        mkdirSync(staged, { recursive: true });
        // Copy (not move) so a failure later leaves the caller's files where they were.
        copyFileSync(path, join(staged, f.name));
      }
    }
    if (!isInstalled(source, staged)) {
      const missing = source.required.filter((r) => !existsSync(join(staged, r)));
      throw new DatasetFormatError(
        source.files.map((f) => f.name).join(', '),
        `does not contain ${missing.map((m) => `${source.folder}/${m}`).join(', ')} (not the official ${source.title} layout)`,
      );
    }
    if (existsSync(target)) {
      throw new DatasetFormatError(
        target,
        `already exists but is incomplete (missing ${source.required.filter((r) => !existsSync(join(target, r))).join(', ')}); remove it and retry`,
      );
    }
    // The files came from verified archives: pin their digests so a later change is caught on read.
    const manifest = DigestManifest.open(staged, join(staged, DIGEST_MANIFEST));
    const origin = `installed by samrank from ${source.files.map((f) => `${f.name} (MD5 ${options.checksums?.[f.name] ?? f.md5})`).join(', ')}`;
    for (const r of source.required) if (statSync(join(staged, r)).isFile()) manifest.pin(r, origin);
    manifest.save({ required: true });
    renameSync(staged, target);
    return target;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Downloads and installs a data set under `options.dataDir` (what the CLI's `--download` calls):
 * resumable, MD5-verified, atomically unpacked. Returns at once when it is already installed.
 */
export async function download(dataset: ImageDatasetName, options: DownloadOptions): Promise<InstallResult> {
  const source = DATASET_SOURCES[dataset];
  const target = join(options.dataDir, source.folder);
  if (isInstalled(source, target)) return { path: target, downloaded: false };
  mkdirSync(options.dataDir, { recursive: true });
  const base = options.baseUrl ?? source.baseUrl;
  const fetched: string[] = [];
  const movedAside: MovedAsideFile[] = [];
  for (const f of source.files) {
    const url = new URL(f.name, base.endsWith('/') ? base : `${base}/`).toString();
    const result = await downloadFile(url, join(options.dataDir, f.name), {
      md5: options.checksums?.[f.name] ?? f.md5,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.onNotice ? { onNotice: options.onNotice } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(f.bytes !== undefined ? { expectedBytes: f.bytes } : {}),
    });
    if (result.downloaded) fetched.push(f.name);
    if (result.movedAside) movedAside.push(result.movedAside);
  }
  const path = await installDataset(source, options.dataDir, options);
  if (!options.keepArchives) {
    // Only what this call fetched: an archive the user put there stays theirs.
    for (const name of fetched) rmSync(join(options.dataDir, name), { force: true });
  }
  return { path, downloaded: true, ...(movedAside.length > 0 ? { movedAside } : {}) };
}
