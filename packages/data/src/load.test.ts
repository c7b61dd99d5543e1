import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DatasetNotFoundError } from './errors.js';
import { DEBIAN_FASHION_MNIST_DIR } from './fashion-mnist.js';
import { defaultDataDir, IMAGE_DATASETS, loadImageDataset } from './load.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-load-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const saved = process.env['SAMRANK_DATA_DIR'];
afterEach(() => {
  if (saved === undefined) delete process.env['SAMRANK_DATA_DIR'];
  else process.env['SAMRANK_DATA_DIR'] = saved;
});

describe('loadImageDataset', () => {
  it('default data dir: $SAMRANK_DATA_DIR, else ~/.cache/samrank/datasets', () => {
    delete process.env['SAMRANK_DATA_DIR'];
    expect(defaultDataDir()).toBe(join(homedir(), '.cache', 'samrank', 'datasets'));
    process.env['SAMRANK_DATA_DIR'] = '/x/y';
    expect(defaultDataDir()).toBe('/x/y');
  });

  it('names every data set and rejects unknown names', async () => {
    expect(IMAGE_DATASETS).toEqual(['cifar10', 'cifar100', 'tiny-imagenet', 'fashion-mnist']);
    await expect(loadImageDataset('mnist' as never)).rejects.toThrow(/unknown data set "mnist"/);
  });

  it('missing data without download: DatasetNotFoundError with the --download hint', async () => {
    for (const name of ['cifar10', 'cifar100', 'tiny-imagenet'] as const) {
      const err = await loadImageDataset(name, { dataDir: join(tmp, 'empty') }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatasetNotFoundError);
      expect(String(err)).toMatch(/--download/);
    }
  });

  it.skipIf(!existsSync(DEBIAN_FASHION_MNIST_DIR))(
    "without --data-dir, Fashion-MNIST comes from Debian's folder, and the result says so",
    async () => {
      process.env['SAMRANK_DATA_DIR'] = join(tmp, 'default-empty');
      const notices: string[] = [];
      const ds = await loadImageDataset('fashion-mnist', { onNotice: (m) => notices.push(m) });
      expect(ds.source).toBe(DEBIAN_FASHION_MNIST_DIR);
      expect(ds.test.count).toBe(10_000);
      expect(ds.digest).toMatch(/^[0-9a-f]{64}$/);
      expect(ds.files!.every((f) => f.verified === 'the official Fashion-MNIST checksums')).toBe(true);
      const note = `Fashion-MNIST was read from Debian's copy in ${DEBIAN_FASHION_MNIST_DIR} (not found under ${join(tmp, 'default-empty')})`;
      expect(ds.notes).toEqual([note]);
      expect(notices).toEqual([note]);
    },
  );

  it('with an explicit dataDir that lacks Fashion-MNIST: an error naming that folder, no fallback to another copy', async () => {
    const dataDir = join(tmp, 'explicit');
    const err = (await loadImageDataset('fashion-mnist', { dataDir }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(DatasetNotFoundError);
    expect(err.message).toContain(`looked in: ${join(dataDir, 'fashion-mnist')}, ${dataDir})`);
    if (existsSync(DEBIAN_FASHION_MNIST_DIR)) expect(err.message).toContain(`Debian's copy exists at ${DEBIAN_FASHION_MNIST_DIR}`);
  });
});
