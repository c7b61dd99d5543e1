/**
 * Durable atomic writes for the files this package writes beside the data (digest manifests, decoded
 * image caches): a crash at any moment leaves the previous file or the new one, never a torn one.
 *
 * This duplicates `writeFileAtomic` of @samrank/experiments (runner/files.ts) in synchronous form,
 * because data must not depend on experiments and its loaders are synchronous; the two belong together
 * in @samrank/core once that package exists.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

function syncDir(dir: string): void {
  // fsync of the folder makes the rename itself durable; some file systems refuse it, which changes nothing.
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Not supported here (e.g. some network file systems): the data itself was synced already.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/**
 * Writes `data` (one buffer, a string, or several buffers written back to back, so large payloads need
 * not be joined first) to `file` through a unique temporary file in the same folder: written, fsynced,
 * renamed over `file`, and the folder fsynced. Concurrent writers never share a temporary file.
 */
export function writeFileAtomicSync(file: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    try {
      const parts = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
      for (const part of parts) writeAll(fd, part);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  syncDir(dir);
}

/** True for the errors of a folder we may not write to (read-only mounts, system folders). */
export function isPermissionError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EACCES' || code === 'EROFS' || code === 'EPERM';
}
