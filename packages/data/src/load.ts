/** One entry point for every image data set: find it, optionally download it, read it. */
import { loadCifar10, loadCifar100 } from './cifar.js';
import { download, movedAsideMessage, type DownloadProgress } from './download.js';
import { DatasetNotFoundError } from './errors.js';
import { loadFashionMnist } from './fashion-mnist.js';
import type { ImageDataset, ImageDatasetName } from './image-set.js';
import { defaultDataDir } from './paths.js';
import { loadTinyImageNet } from './tiny-imagenet.js';

/** All image data set names. */
export const IMAGE_DATASETS: readonly ImageDatasetName[] = ['cifar10', 'cifar100', 'tiny-imagenet', 'fashion-mnist'];

export { defaultDataDir };

/** Options of {@link loadImageDataset}. */
export interface LoadOptions {
  /**
   * Folder holding the data sets (default {@link defaultDataDir}). When given, only this folder is read:
   * Fashion-MNIST then never falls back to Debian's copy.
   */
  dataDir?: string;
  /** Fetch the official files when the data set is missing (the CLI's `--download`). */
  download?: boolean;
  /** Mirror base URL for downloads. */
  baseUrl?: string;
  /** Replaces MD5s by file name, for downloads and for reading Fashion-MNIST (a mirror that repackages; tests). */
  checksums?: Record<string, string>;
  /** Replaces the official CIFAR record counts by file name (own subsets; tests with small generated files). */
  recordCounts?: Record<string, number>;
  /** Download progress, when `download` fetches missing files. */
  onProgress?: (p: DownloadProgress) => void;
  /** Told, as one line, about what the loader decided (a file moved aside, a fallback folder). Also in `notes`. */
  onNotice?: (message: string) => void;
  /** Called per file verified: `hashed` is false when the digest manifest's entry was used. */
  onVerify?: (file: string, hashed: boolean) => void;
  /** Tiny ImageNet decoding progress (first load only). */
  onDecodeProgress?: (decoded: number, total: number) => void;
}

function read(name: ImageDatasetName, dataDir: string, explicit: boolean, options: LoadOptions): ImageDataset {
  const onVerify = options.onVerify ? { onVerify: options.onVerify } : {};
  const cifar = { ...onVerify, ...(options.recordCounts ? { recordCounts: options.recordCounts } : {}) };
  switch (name) {
    case 'cifar10':
      return loadCifar10(dataDir, cifar);
    case 'cifar100':
      return loadCifar100(dataDir, cifar);
    case 'tiny-imagenet':
      return loadTinyImageNet(dataDir, { ...onVerify, ...(options.onDecodeProgress ? { onProgress: options.onDecodeProgress } : {}) });
    case 'fashion-mnist':
      return loadFashionMnist(dataDir, {
        debianFallback: !explicit,
        ...onVerify,
        ...(options.checksums ? { checksums: options.checksums } : {}),
      });
  }
}

/**
 * Reads a data set from `dataDir` (Fashion-MNIST also from Debian's install folder when no `dataDir` is
 * given; the dataset's `source` says which folder was read). When it is missing: downloads it if
 * `download` is set, else throws {@link DatasetNotFoundError} with the hint. The result carries the
 * folder read (`source`), the files' digests (`files`, `digest`) and `notes` for a report.
 */
export async function loadImageDataset(name: ImageDatasetName, options: LoadOptions = {}): Promise<ImageDataset> {
  if (!IMAGE_DATASETS.includes(name)) throw new RangeError(`unknown data set "${name}" (${IMAGE_DATASETS.join(', ')})`);
  const explicit = options.dataDir !== undefined;
  const dataDir = options.dataDir ?? defaultDataDir();
  let ds: ImageDataset | undefined;
  try {
    ds = read(name, dataDir, explicit, options);
  } catch (err) {
    if (!(err instanceof DatasetNotFoundError) || !options.download) throw err;
  }
  const notes: string[] = [];
  if (!ds) {
    const installed = await download(name, {
      dataDir,
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      ...(options.checksums ? { checksums: options.checksums } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    for (const m of installed.movedAside ?? []) notes.push(`${movedAsideMessage(m)}; a fresh copy was downloaded`);
    ds = read(name, dataDir, explicit, options);
  }
  notes.push(...(ds.notes ?? []));
  for (const n of notes) options.onNotice?.(n);
  return notes.length > 0 ? { ...ds, notes } : ds;
}
