/**
 * Streaming unpack of .tar.gz and .zip archives into a folder. Used by {@link installArchive}, which
 * unpacks into a temporary folder and renames it into place, so a failure here never leaves a half
 * data set where the readers look.
 */
import { closeSync, createReadStream, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Unzip, UnzipInflate } from 'fflate';
import { DatasetFormatError } from './errors.js';
import { gzipError } from './gzip.js';
import { TarFormatError, TarReader } from './tar.js';

/** Archive formats of the official data set files. */
export type ArchiveKind = 'tar.gz' | 'zip';

/** The archive kind from a file name. */
export function archiveKind(fileName: string): ArchiveKind {
  if (fileName.endsWith('.tar.gz') || fileName.endsWith('.tgz')) return 'tar.gz';
  if (fileName.endsWith('.zip')) return 'zip';
  throw new RangeError(`unknown archive type: ${fileName} (expected .tar.gz or .zip)`);
}

/** Joins a member path under `root`, refusing absolute paths and `..` escapes. */
export function safeMemberPath(root: string, member: string, archive: string): string {
  const clean = normalize(member);
  if (isAbsolute(member) || clean === '..' || clean.startsWith(`..${sep}`) || clean.startsWith('../')) {
    throw new DatasetFormatError(archive, `member "${member}" would be written outside the target folder`);
  }
  return join(root, clean);
}

function fileSink(path: string): { write(chunk: Uint8Array): void; end(): void } {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  return {
    write(chunk) {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    },
    end() {
      closeSync(fd);
    },
  };
}

/** Progress of an unpack: bytes of the archive consumed so far. */
export type UnpackProgress = (consumedBytes: number) => void;

/** Unpacks `archive` (streaming) into `destDir`, which is created. Returns the number of files written. */
export async function unpackArchive(
  archive: string,
  destDir: string,
  kind = archiveKind(archive),
  onProgress?: UnpackProgress,
): Promise<number> {
  mkdirSync(destDir, { recursive: true });
  let files = 0;
  let consumed = 0;
  const fail = (err: unknown): never => {
    if (err instanceof DatasetFormatError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new DatasetFormatError(archive, `cannot unpack ${kind} archive: ${msg}`);
  };
  if (kind === 'tar.gz') {
    // The member being written when the stream fails is closed, so no descriptor is left open.
    let current: ReturnType<typeof fileSink> | undefined;
    const tar = new TarReader({
      onDirectory: (p) => mkdirSync(safeMemberPath(destDir, p, archive), { recursive: true }),
      onFile: (h) => {
        files++;
        const sink = fileSink(safeMemberPath(destDir, h.path, archive));
        current = sink;
        return {
          write: (chunk) => sink.write(chunk),
          end: () => {
            current = undefined;
            sink.end();
          },
        };
      },
    });
    // zlib, not fflate: it checks every member's CRC-32 and ISIZE and reports a stream cut short.
    const input = createReadStream(archive, { highWaterMark: 1 << 20 });
    input.on('data', (chunk) => {
      consumed += chunk.length;
      onProgress?.(consumed);
    });
    const gunzip = createGunzip();
    let tarError: unknown;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        try {
          tar.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          done();
        } catch (err) {
          tarError = err;
          done(err as Error);
        }
      },
    });
    try {
      await pipeline(input, gunzip, sink);
      tar.end();
    } catch (err) {
      current?.end();
      if (tarError === undefined && (err as NodeJS.ErrnoException).code?.startsWith('Z_')) throw gzipError(archive, err);
      fail(err instanceof TarFormatError ? new DatasetFormatError(archive, err.message) : err);
    }
    return files;
  }
  let error: unknown;
  const unzip = new Unzip((file) => {
    if (file.name.endsWith('/')) {
      mkdirSync(safeMemberPath(destDir, file.name, archive), { recursive: true });
      return;
    }
    let sink: ReturnType<typeof fileSink>;
    try {
      sink = fileSink(safeMemberPath(destDir, file.name, archive));
    } catch (err) {
      error ??= err;
      return;
    }
    files++;
    file.ondata = (err, data, final) => {
      if (err) {
        error ??= err;
        return;
      }
      sink.write(data);
      if (final) sink.end();
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  const push = (chunk: Uint8Array, final: boolean) => {
    unzip.push(chunk, final);
    if (error) throw error;
  };
  try {
    for await (const chunk of createReadStream(archive, { highWaterMark: 1 << 20 })) {
      const bytes = chunk as Buffer;
      push(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), false);
      consumed += bytes.byteLength;
      onProgress?.(consumed);
    }
    push(new Uint8Array(0), true);
  } catch (err) {
    fail(err instanceof TarFormatError ? new DatasetFormatError(archive, err.message) : err);
  }
  return files;
}
