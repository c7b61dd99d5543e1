import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { OutputFolderError } from '../errors.js';
import { acquireRunLock, checkOutputFolder, createUniqueFolder, removeStaleTemporaries, writeFileAtomic } from './files.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const child = fileURLToPath(new URL('../../test/atomic-writer.child.ts', import.meta.url));

describe('writeFileAtomic', () => {
  it('replaces the file and leaves no temporary behind', async () => {
    const dir = join(tmp, 'plain');
    mkdirSync(dir);
    const file = join(dir, 'results.json');
    await writeFileAtomic(file, 'first');
    await writeFileAtomic(file, new Uint8Array([104, 105]));
    expect(readFileSync(file, 'utf8')).toBe('hi');
    expect(readdirSync(dir)).toEqual(['results.json']);
  });

  it("concurrent writers never share a temporary file: the result is one writer's whole text", async () => {
    const dir = join(tmp, 'concurrent');
    mkdirSync(dir);
    const file = join(dir, 'checkpoint.json');
    const texts = Array.from({ length: 20 }, (_, i) => `${i}:`.padEnd(20_000, String.fromCharCode(97 + i)));
    await Promise.all(texts.map((t) => writeFileAtomic(file, t)));
    expect(texts).toContain(readFileSync(file, 'utf8'));
    expect(readdirSync(dir)).toEqual(['checkpoint.json']);
  });

  it('a writer killed with SIGKILL between write and rename leaves the old file whole', async () => {
    const dir = join(tmp, 'crash');
    mkdirSync(dir);
    const file = join(dir, 'results.json');
    writeFileSync(file, 'old results');
    const temps = () => readdirSync(dir).filter((f) => f.endsWith('.tmp')).length;
    for (let attempt = 0; attempt < 3; attempt++) {
      const proc = spawn(process.execPath, ['--import', 'tsx', child, file, 'new results'.repeat(1000)], {
        env: { ...process.env, SAMRANK_TEST_WRITE_PAUSE_MS: '5000' },
        stdio: 'ignore',
      });
      const exited = new Promise((r) => proc.on('exit', r));
      const t0 = Date.now();
      while (temps() === attempt) {
        if (Date.now() - t0 > 30_000) throw new Error('the child never started writing');
        await new Promise((r) => setTimeout(r, 20));
      }
      proc.kill('SIGKILL');
      await exited;
      expect(readFileSync(file, 'utf8')).toBe('old results');
    }
    // The next run holding the folder's lock clears the torn temporaries.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toHaveLength(3);
    expect(await removeStaleTemporaries(dir)).toHaveLength(3);
    expect(readdirSync(dir)).toEqual(['results.json']);
  }, 60_000);

  it('a writer that finishes leaves the new file whole', async () => {
    const dir = join(tmp, 'finish');
    mkdirSync(dir);
    const file = join(dir, 'results.json');
    writeFileSync(file, 'old');
    const proc = spawn(process.execPath, ['--import', 'tsx', child, file, 'new'], {
      env: { ...process.env, SAMRANK_TEST_WRITE_PAUSE_MS: '10' },
      stdio: 'ignore',
    });
    expect(await new Promise((r) => proc.on('exit', r))).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('new');
  }, 30_000);
});

describe('checkOutputFolder', () => {
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'x');
  it.each([
    ['/proc/x', /--out \/proc\/x: \/proc is a virtual file system/],
    ['/sys/x', /\/sys is a virtual file system/],
    ['/dev/samrank', /\/dev is a virtual file system/],
    [file, /is a file, not a folder/],
    [join(file, 'sub'), /is a file, not a folder/],
  ])('%s is refused with one line', async (path, message) => {
    await expect(checkOutputFolder(path)).rejects.toThrow(OutputFolderError);
    await expect(checkOutputFolder(path)).rejects.toThrow(message);
    expect(existsSync(join(file, 'sub'))).toBe(false);
  });

  it('accepts a new folder inside a writable one, and refuses one inside a read-only folder (non-root only)', async () => {
    await expect(checkOutputFolder(join(tmp, 'new', 'deeper'))).resolves.toBeUndefined();
    if (process.getuid?.() === 0) return; // root writes anywhere: the permission case cannot happen
    const ro = join(tmp, 'read-only');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    await expect(checkOutputFolder(join(ro, 'out'))).rejects.toThrow(/is not writable/);
  });
});

describe('run folders', () => {
  it('createUniqueFolder counts up on collisions', async () => {
    const parent = join(tmp, 'unique');
    expect(await createUniqueFolder(parent, 'x')).toBe(join(parent, 'x'));
    expect(await createUniqueFolder(parent, 'x')).toBe(join(parent, 'x-2'));
    expect(await createUniqueFolder(parent, 'x')).toBe(join(parent, 'x-3'));
  });

  it('the lock is exclusive within a process too, and released', async () => {
    const dir = join(tmp, 'lock');
    mkdirSync(dir);
    const a = await acquireRunLock(dir);
    // The same pid holds it: a second acquisition is a takeover only after release.
    const lock = JSON.parse(readFileSync(a.file, 'utf8'));
    expect(lock).toMatchObject({ pid: process.pid });
    await a.release();
    expect(existsSync(a.file)).toBe(false);
    const b = await acquireRunLock(dir);
    expect(b.takeover).toBeNull();
    await b.release();
  });
});
