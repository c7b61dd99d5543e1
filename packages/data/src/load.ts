/** One entry point for every image data set: find it, optionally download it, read it. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadCifar10, loadCifar100 } from './cifar.js';
import { download, type DownloadProgress } from './download.js';
import { DatasetNotFoundError } from './errors.js';
import { findFashionMnist, loadFashionMnist } from './fashion-mnist.js';
import type { ImageDataset, ImageDatasetName } from './image-set.js';
import { loadTinyImageNet } from './tiny-imagenet.js';

/** All image data set names. */
export const IMAGE_DATASETS: readonly ImageDatasetName[] = ['cifar10', 'cifar100', 'tiny-imagenet', 'fashion-mnist'];

/** `$SAMRANK_DATA_DIR`, else `~/.cache/samrank/datasets`. */
export function defaultDataDir(): string {
  return process.env['SAMRANK_DATA_DIR'] ?? join(homedir(), '.cache', 'samrank', 'datasets');
}

/** Options of {@link loadImageDataset}. */
export interface LoadOptions {
  /** Folder holding the data sets (default {@link defaultDataDir}). */
  dataDir?: string;
  /** Fetch the official files when the data set is missing (the CLI's `--download`). */
  download?: boolean;
  /** Mirror base URL for downloads. */
  baseUrl?: string;
  /** Replaces MD5s by file name (a mirror that repackages; tests). */
  checksums?: Record<string, string>;
  onProgress?: (p: DownloadProgress) => void;
  /** Tiny ImageNet decoding progress (first load only). */
  onDecodeProgress?: (decoded: number, total: number) => void;
}

function read(name: ImageDatasetName, dataDir: string, options: LoadOptions): ImageDataset {
  switch (name) {
    case 'cifar10':
      return loadCifar10(dataDir);
    case 'cifar100':
      return loadCifar100(dataDir);
    case 'tiny-imagenet':
      return loadTinyImageNet(dataDir, options.onDecodeProgress ? { onProgress: options.onDecodeProgress } : {});
    case 'fashion-mnist':
      return loadFashionMnist(dataDir);
  }
}

/**
 * Reads a data set from `dataDir` (Fashion-MNIST also from Debian's install folder). When it is
 * missing: downloads it if `download` is set, else throws {@link DatasetNotFoundError} with the hint.
 */
export async function loadImageDataset(name: ImageDatasetName, options: LoadOptions = {}): Promise<ImageDataset> {
  if (!IMAGE_DATASETS.includes(name)) throw new RangeError(`unknown data set "${name}" (${IMAGE_DATASETS.join(', ')})`);
  const dataDir = options.dataDir ?? defaultDataDir();
  try {
    return read(name, dataDir, options);
  } catch (err) {
    if (!(err instanceof DatasetNotFoundError) || !options.download) throw err;
  }
  if (name === 'fashion-mnist' && findFashionMnist(dataDir)) return loadFashionMnist(dataDir);
  await download(name, {
    dataDir,
    ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    ...(options.checksums ? { checksums: options.checksums } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  return read(name, dataDir, options);
}
