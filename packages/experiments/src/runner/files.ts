/**
 * The file system edge of a run: durable atomic writes, the lock that makes a run folder one run's own, and
 * the checks on an output folder made before any work starts. Every file a run writes goes through
 * {@link writeFileAtomic}, so a crash at any moment leaves the previous file or the new one, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, readFile, readdir, realpath, rename, rm, stat, statfs } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { OutputFolderError, RunFolderLockedError } from '../errors.js';

/** Test hook: milliseconds to pause between writing the temporary file and renaming it (crash tests). */
const PAUSE_ENV = 'SAMRANK_TEST_WRITE_PAUSE_MS';

async function syncDir(dir: string): Promise<void> {
  // fsync of the folder makes the rename itself durable; some file systems refuse it, which changes nothing.
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Not supported here (e.g. some network file systems): the data itself was synced already.
  } finally {
    await handle?.close();
  }
}

/**
 * Writes `data` to `file` through a unique temporary file in the same folder: written, fsynced, renamed
 * over `file`, and the folder fsynced. Concurrent writers never share a temporary file.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o644);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const pause = Number(process.env[PAUSE_ENV] ?? 0);
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await syncDir(dir);
}

/** Temporary files of {@link writeFileAtomic}: `.<name>.<pid>.<12 hex>.tmp`. */
const TEMP_FILE = /^\..+\.\d+\.[0-9a-f]{12}\.tmp$/;

/**
 * Removes temporary files a killed writer left in `dir`. Call it only while holding the folder's lock: then
 * no other writer can be using them.
 */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  const stale = (await listFolder(dir)).filter((f) => TEMP_FILE.test(f));
  for (const f of stale) await rm(join(dir, f), { force: true });
  return stale;
}

/** Name of the lock file inside a run folder. */
export const LOCK_FILE = '.samrank-lock';

/** Who holds a run folder. */
export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the run started. */
  started: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(file: string): Promise<LockOwner | null> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string' && typeof parsed.started === 'string') {
      return { pid: parsed.pid, host: parsed.host, started: parsed.started };
    }
  } catch {
    // Unreadable or torn (the holder died while writing it): treated as stale below.
  }
  return null;
}

/** A held run-folder lock. */
export interface RunLock {
  readonly file: string;
  /** A message to show when a stale lock of a dead process was taken over. */
  readonly takeover: string | null;
  release(): Promise<void>;
}

/**
 * Takes the exclusive lock of `dir` (a lock file created with O_EXCL holding pid, host and start time). A lock
 * left by a dead process on this host is taken over (with a message); a live holder, or one on another host
 * (whose liveness cannot be checked), gives {@link RunFolderLockedError}.
 */
export async function acquireRunLock(dir: string): Promise<RunLock> {
  const file = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  let takeover: string | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o644);
      try {
        await handle.writeFile(`${JSON.stringify(me)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      let released = false;
      return {
        file,
        takeover,
        async release() {
          if (released) return;
          released = true;
          const owner = await readOwner(file);
          if (owner && owner.pid === me.pid && owner.host === me.host) await rm(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readOwner(file);
    if (owner && owner.host !== me.host) {
      throw new RunFolderLockedError(
        `${dir} is in use by pid ${owner.pid} on host ${owner.host} since ${owner.started}; if that run is gone, delete ${file}`,
      );
    }
    if (owner && isAlive(owner.pid) && owner.pid !== process.pid) {
      throw new RunFolderLockedError(`${dir} is in use by another run (pid ${owner.pid} on ${owner.host}, started ${owner.started})`);
    }
    takeover = owner
      ? `took over the lock of ${dir} left by pid ${owner.pid} (started ${owner.started}), which is no longer running`
      : `took over an unreadable lock file in ${dir}`;
    await rm(file, { force: true });
  }
  throw new RunFolderLockedError(`could not lock ${dir}: another run keeps taking it`);
}

const SPECIAL_ROOTS = ['/proc', '/sys', '/dev'];
/** Free space a run needs at the least before it starts (results, figures, checkpoints). */
const MIN_FREE_BYTES = 16 * 1024 * 1024;

/** The deepest existing folder on the way to `path` (its real path), or an error naming the blocker. */
async function existingAncestor(path: string): Promise<string> {
  let current = resolve(path);
  for (;;) {
    try {
      const s = await stat(current);
      if (!s.isDirectory()) throw new OutputFolderError(`--out ${path}: ${current} is a file, not a folder`);
      return await realpath(current);
    } catch (error) {
      if (error instanceof OutputFolderError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new OutputFolderError(`--out ${path}: a part of the path is a file, not a folder`);
      if (code !== 'ENOENT') throw new OutputFolderError(`--out ${path}: cannot inspect ${current} (${code ?? String(error)})`);
      const parent = dirname(current);
      if (parent === current) throw new OutputFolderError(`--out ${path}: no part of the path exists`);
      current = parent;
    }
  }
}

/**
 * Checks before any work that `dir` can be a run folder: not under /proc, /sys or /dev, not a file, inside a
 * writable folder with room to spare. Throws {@link OutputFolderError} naming the problem.
 */
export async function checkOutputFolder(dir: string): Promise<void> {
  const absolute = resolve(dir);
  const base = await existingAncestor(absolute);
  const under = (root: string) => base === root || base.startsWith(root + sep) || absolute === root || absolute.startsWith(root + sep);
  const special = SPECIAL_ROOTS.find(under);
  if (special) throw new OutputFolderError(`--out ${dir}: ${special} is a virtual file system, not a place for results`);
  try {
    await access(base, fsConstants.W_OK | fsConstants.X_OK);
  } catch {
    throw new OutputFolderError(`--out ${dir}: ${base} is not writable`);
  }
  try {
    const fs = await statfs(base);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < MIN_FREE_BYTES) {
      throw new OutputFolderError(`--out ${dir}: only ${(free / 1024 / 1024).toFixed(1)} MB free on the file system of ${base}`);
    }
  } catch (error) {
    if (error instanceof OutputFolderError) throw error;
    // statfs is unsupported on some platforms: skip the space check there.
  }
}

/**
 * Creates a fresh folder `<parent>/<name>`, or `<name>-2`, `<name>-3`, … when that exists (two runs started in
 * the same second get different folders). Returns its path.
 */
export async function createUniqueFolder(parent: string, name: string): Promise<string> {
  await mkdir(parent, { recursive: true });
  for (let i = 1; i < 10_000; i++) {
    const dir = join(parent, i === 1 ? name : `${name}-${i}`);
    try {
      await mkdir(dir);
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  throw new OutputFolderError(`no free folder name for ${join(parent, name)}`);
}

/** The entries of `dir` (empty when it does not exist). */
export async function listFolder(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
