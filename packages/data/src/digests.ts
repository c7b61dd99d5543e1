/**
 * Digests of the data files: each file is hashed once and its digest remembered in a small JSON manifest
 * beside the data, keyed by the file's size, mtime, ctime and inode, so later loads verify it without
 * re-reading the hash of hundreds of megabytes. A changed file (any key part differs) is hashed again.
 *
 * Two kinds of expectation exist. A known digest (the official Fashion-MNIST checksums, or one the caller
 * passes) must match every time. A pinned digest is recorded when samrank itself wrote the file from a
 * verified source (unpacked from an MD5-verified archive, or a decoded image cache): later content must
 * match it. Files with neither are hashed and recorded, so results can name exactly what was read.
 */
import { createHash } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  type BigIntStats,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomicSync } from './atomic-write.js';
import { ChecksumMismatchError } from './errors.js';
import { defaultDataDir } from './paths.js';

/** Name of the manifest file inside a data set folder. */
export const DIGEST_MANIFEST = '.samrank-digests.json';
const FORMAT = 'samrank-digests/1';

/** A digest a file is known to have; matching any one given field is enough. */
export interface KnownDigest {
  /** MD5 (hex) of the file as stored. */
  md5?: string;
  /** SHA-256 (hex) of the gunzipped content: recompressed copies (Debian's) share it. */
  contentSha256?: string;
  /** Where the expectation comes from, for messages and records ("the official Fashion-MNIST checksums"). */
  origin: string;
}

/** One file read for a data set, as results record it. */
export interface DatasetFileRecord {
  /** Path relative to the data set folder. */
  file: string;
  /** SHA-256 (hex) of what was read: for gzip files the gunzipped content, so any faithful copy gives the same. */
  sha256: string;
  /** What the file was checked against (a known or pinned digest), or null when no digest was known. */
  verified: string | null;
}

interface FileKey {
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  ino: string;
}

interface Entry extends FileKey {
  md5?: string;
  sha256: string;
  contentSha256?: string;
  verified: string | null;
  /** Set when samrank wrote the file from a verified source: later content must match. */
  pinned?: string;
}

/** Options of {@link DigestManifest.read}. */
export interface ReadVerifiedOptions {
  /** Pinned digests (MD5 of the raw file and/or SHA-256 of its content) the file must match. */
  known?: KnownDigest;
  /** Derives the content from the raw bytes (gunzip); its SHA-256 is recorded and compared with `known.contentSha256`. */
  content?: (raw: Uint8Array) => Uint8Array;
  /** Called once per file: `hashed` is false when the manifest's digest was used. */
  onVerify?: (file: string, hashed: boolean) => void;
  /** What to do when a pinned file changed (default: restore it, or delete the manifest to accept it). */
  changedHint?: string;
}

/** What {@link DigestManifest.read} returns. */
export interface VerifiedRead {
  raw: Uint8Array;
  /** `options.content(raw)`, when given. */
  content?: Uint8Array;
  record: DatasetFileRecord;
}

/**
 * The part of a bigint `fs.Stats` that identifies a file's version. Declared here rather than as `fs.BigIntStats`
 * so that this package's types do not need `@types/node`.
 */
export interface FileStat {
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
}

function keyOf(st: FileStat): FileKey {
  return { size: Number(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), ino: String(st.ino) };
}

function sameKey(a: FileKey, b: FileKey): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino;
}

function hex(algorithm: 'md5' | 'sha256', bytes: Uint8Array): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

function matches(d: { md5?: string | undefined; contentSha256?: string | undefined }, known: KnownDigest): boolean {
  return (known.md5 !== undefined && d.md5 === known.md5) || (known.contentSha256 !== undefined && d.contentSha256 === known.contentSha256);
}

function isEntry(v: unknown): v is Entry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  const str = (k: string) => typeof e[k] === 'string';
  const optStr = (k: string) => e[k] === undefined || typeof e[k] === 'string';
  return (
    typeof e['size'] === 'number' &&
    str('mtimeNs') &&
    str('ctimeNs') &&
    str('ino') &&
    str('sha256') &&
    optStr('md5') &&
    optStr('contentSha256') &&
    optStr('pinned') &&
    (e['verified'] === null || typeof e['verified'] === 'string')
  );
}

function readEntries(path: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    // Missing or unreadable: every file is simply hashed again.
    return entries;
  }
  const files = (parsed as { format?: unknown; files?: unknown } | null)?.files;
  if ((parsed as { format?: unknown }).format !== FORMAT || typeof files !== 'object' || files === null) return entries;
  for (const [name, entry] of Object.entries(files)) if (isEntry(entry)) entries.set(name, entry);
  return entries;
}

/** Whether `dir` (or, while it does not exist yet, the nearest folder above it) can be written. */
function isWritableFolder(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(d)) {
      try {
        accessSync(d, constants.W_OK);
        return true;
      } catch {
        return false;
      }
    }
    if (dirname(d) === d) return false;
  }
}

/**
 * Where the manifest of `dir` lives: inside it, except for folders samrank does not own (system folders
 * such as Debian's /usr/share/datasets, read-only mounts), whose manifest goes under the default data dir.
 */
export function digestManifestPath(dir: string): string {
  const abs = resolve(dir);
  if (!abs.startsWith('/usr/') && isWritableFolder(abs)) return join(abs, DIGEST_MANIFEST);
  return fallbackManifestPath(abs);
}

function fallbackManifestPath(abs: string): string {
  const id = createHash('sha256').update(abs).digest('hex').slice(0, 16);
  return join(defaultDataDir(), '.digests', `${basename(abs) || 'root'}-${id}.json`);
}

/** SHA-256 over the records' names and digests (sorted by name): one digest for everything a data set read. */
export function datasetDigest(files: readonly DatasetFileRecord[]): string {
  const hash = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))) hash.update(`${f.file}\t${f.sha256}\n`);
  return hash.digest('hex');
}

/** MD5 and SHA-256 of a file, read in 1 MiB chunks, with the stat it was read under. */
export function hashFileSync(path: string): { md5: string; sha256: string; stat: FileStat } {
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd, { bigint: true });
    const md5 = createHash('md5');
    const sha256 = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      md5.update(buf.subarray(0, n));
      sha256.update(buf.subarray(0, n));
    }
    return { md5: md5.digest('hex'), sha256: sha256.digest('hex'), stat };
  } finally {
    closeSync(fd);
  }
}

/** The digest manifest of one data set folder. Call {@link save} after reading. */
export class DigestManifest {
  private readonly changed = new Set<string>();

  private constructor(
    /** The data set folder; entry names are relative to it. */
    readonly dir: string,
    /** Where the manifest is read from and written to. */
    readonly path: string,
    private readonly entries: Map<string, Entry>,
  ) {}

  /** Opens (or starts) the manifest of `dir`; a missing or damaged manifest counts as empty. */
  static open(dir: string, path = digestManifestPath(dir)): DigestManifest {
    return new DigestManifest(dir, path, readEntries(path));
  }

  /**
   * Reads `name` whole and verifies it: against `options.known` when given, else against its pinned digest
   * when it has one. Throws {@link ChecksumMismatchError} with both digests. The digest is computed only when
   * the file's size/mtime/ctime/inode differ from the manifest's entry.
   */
  read(name: string, options: ReadVerifiedOptions = {}): VerifiedRead {
    const path = join(this.dir, name);
    const fd = openSync(path, 'r');
    let raw: Uint8Array;
    let stat: BigIntStats;
    try {
      stat = fstatSync(fd, { bigint: true });
      const buf = readFileSync(fd);
      raw = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } finally {
      closeSync(fd);
    }
    const content = options.content?.(raw);
    const key = keyOf(stat);
    const known = options.known;
    const entry = this.entries.get(name);
    const contentOf = (e: { sha256: string; contentSha256?: string | undefined }) => (options.content ? e.contentSha256 : e.sha256);
    if (entry && sameKey(entry, key) && raw.length === entry.size && contentOf(entry) !== undefined && (!known || matches(entry, known))) {
      options.onVerify?.(path, false);
      return {
        raw,
        ...(content ? { content } : {}),
        record: { file: name, sha256: contentOf(entry)!, verified: known ? known.origin : entry.verified },
      };
    }
    options.onVerify?.(path, true);
    // MD5 only where a known MD5 needs it: SHA-256 is what is recorded.
    const md5 = known?.md5 !== undefined ? hex('md5', raw) : undefined;
    const sha256 = hex('sha256', raw);
    const contentSha256 = content ? hex('sha256', content) : undefined;
    let verified: string | null = null;
    if (known) {
      if (!matches({ md5, contentSha256 }, known)) {
        const expected = [
          ...(known.md5 !== undefined ? [`MD5 ${known.md5}`] : []),
          ...(known.contentSha256 !== undefined ? [`SHA-256 ${known.contentSha256} of the gunzipped content`] : []),
        ].join(' or ');
        const actual = [
          ...(md5 !== undefined ? [`MD5 ${md5}`] : []),
          ...(contentSha256 !== undefined ? [`gunzipped SHA-256 ${contentSha256}`] : [`SHA-256 ${sha256}`]),
        ].join(', ');
        throw new ChecksumMismatchError(path, expected, actual, {
          algorithm: '',
          note: `checked against ${known.origin}; the file is damaged or a different version: replace it with the official file`,
        });
      }
      verified = known.origin;
    } else if (entry?.pinned !== undefined) {
      if (entry.sha256 !== sha256) {
        throw new ChecksumMismatchError(path, entry.sha256, sha256, {
          algorithm: 'SHA-256',
          note: `the file changed after it was ${entry.pinned}; ${options.changedHint ?? `restore it, or delete ${this.path} to accept it unverified`}`,
        });
      }
      verified = entry.pinned;
    }
    this.set(name, {
      ...key,
      ...(md5 !== undefined ? { md5 } : {}),
      sha256,
      ...(contentSha256 !== undefined ? { contentSha256 } : {}),
      verified,
      ...(entry?.pinned !== undefined ? { pinned: entry.pinned } : {}),
    });
    return { raw, ...(content ? { content } : {}), record: { file: name, sha256: contentSha256 ?? sha256, verified } };
  }

  /** Hashes `name` from disk and pins its digest: later reads must find the same content (`origin` says why it is trusted). */
  pin(name: string, origin: string): void {
    const { md5, sha256, stat } = hashFileSync(join(this.dir, name));
    this.set(name, { ...keyOf(stat), md5, sha256, verified: origin, pinned: origin });
  }

  /** Pins a file samrank has just written, whose SHA-256 it computed while writing. */
  pinWritten(name: string, sha256: string, origin: string): void {
    const stat = statSync(join(this.dir, name), { bigint: true });
    this.set(name, { ...keyOf(stat), sha256, verified: origin, pinned: origin });
  }

  private set(name: string, entry: Entry): void {
    this.entries.set(name, entry);
    this.changed.add(name);
  }

  /**
   * Writes the manifest atomically when something changed, merged with what another process may have
   * written meanwhile. A folder that cannot be written only costs re-hashing next time, unless `required`
   * (pins made during an install must be kept: then the error is thrown).
   */
  save(options: { required?: boolean } = {}): void {
    if (this.changed.size === 0) return;
    try {
      const merged = readEntries(this.path);
      for (const name of this.changed) merged.set(name, this.entries.get(name)!);
      const files = Object.fromEntries([...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileAtomicSync(this.path, `${JSON.stringify({ format: FORMAT, files }, null, 1)}\n`);
      this.changed.clear();
    } catch (error) {
      if (options.required) throw error;
      // Read-only folder, no space, ...: a digest cache that cannot be written is not worth failing a load for.
    }
  }
}
