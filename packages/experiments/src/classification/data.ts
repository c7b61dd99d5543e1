/**
 * Loads the images an experiment needs: the training data set and the k-NN transfer set of docs/paper-notes.md §8.3
 * (first N training images without a validation split, first M test images, CIFAR-10 normalization).
 * Smoke runs fall back to generated stand-ins when the real files are absent, and say so.
 */
import {
  DatasetNotFoundError,
  headImages,
  loadImageDataset,
  padImages,
  syntheticImageDataset,
  type ImageDataset,
  type ImageSet,
  type NormalizationName,
} from '@samrank/data';
import type { ClassificationConfig, ClassificationDataset, DataSource } from './config.js';

/** The k-NN probe's images and how to feed them. */
export interface KnnData {
  dataset: ClassificationDataset;
  train: ImageSet;
  test: ImageSet;
  normalization: NormalizationName;
  /** Folder the transfer set was read from and the digest of its files (absent for generated images). */
  source?: string;
  digest?: string;
}

/** What a sweep trains and evaluates on. */
export interface ExperimentData {
  dataset: ImageDataset;
  knn: KnnData | null;
  /** The source actually used (smoke runs may fall back to synthetic). */
  data: DataSource;
  notes: string[];
}

/** Where to look for the files. */
export interface DataLocation {
  dataDir?: string;
  download?: boolean;
  onProgress?: (line: string) => void;
}

function synthetic(name: ClassificationDataset, config: ClassificationConfig, seed: number): ImageDataset {
  // Enough training images for the subset after the 0.1 % split, and for the k-NN "train" head.
  const trainCount = Math.max(Math.ceil((config.trainSubset ?? 1024) * 1.01) + 2, config.knnTrain, config.rankExamples);
  return syntheticImageDataset(name, { trainCount, testCount: Math.max(config.evalExamples, config.knnTest), seed });
}

async function load(
  name: ClassificationDataset,
  config: ClassificationConfig,
  where: DataLocation,
): Promise<{ ds: ImageDataset; data: DataSource; note?: string }> {
  if (config.data === 'synthetic') return { ds: synthetic(name, config, 1), data: 'synthetic' };
  try {
    const ds = await loadImageDataset(name, {
      ...(where.dataDir ? { dataDir: where.dataDir } : {}),
      download: where.download ?? false,
      ...(where.onProgress
        ? { onProgress: (p) => where.onProgress!(`${p.phase} ${p.file}: ${p.bytes}${p.totalBytes ? `/${p.totalBytes}` : ''} bytes`) }
        : {}),
    });
    return { ds, data: 'real' };
  } catch (error) {
    if (error instanceof DatasetNotFoundError && config.preset === 'smoke') {
      return {
        ds: synthetic(name, config, 1),
        data: 'synthetic',
        note: `${name} not found, so the smoke run used generated images of the same shape (${error.message})`,
      };
    }
    throw error;
  }
}

/** Loads the training data set and the k-NN set for `config`. */
export async function loadExperimentData(config: ClassificationConfig, where: DataLocation = {}): Promise<ExperimentData> {
  const notes: string[] = [];
  const main = await load(config.dataset, config, where);
  if (main.note) notes.push(main.note);
  notes.push(...(main.ds.notes ?? []));
  let knnSource: ImageDataset | null = main.ds;
  if (config.knnDataset !== config.dataset) {
    try {
      const k = await load(config.knnDataset, { ...config, data: main.data }, where);
      knnSource = k.ds;
      if (k.note) notes.push(k.note);
      notes.push(...(k.ds.notes ?? []));
    } catch (error) {
      if (!(error instanceof DatasetNotFoundError)) throw error;
      knnSource = null;
      notes.push(`k-NN skipped: the transfer data set ${config.knnDataset} is absent (${error.message})`);
    }
  } else {
    notes.push(`k-NN uses ${config.dataset}'s own images: the paper defines no transfer data set for it`);
  }
  let knn: KnnData | null = null;
  if (knnSource) {
    const pad = (s: ImageSet) => (config.dataset === 'fashion-mnist' ? padImages(s, 32) : s);
    knn = {
      dataset: config.knnDataset,
      train: pad(headImages(knnSource.train, config.knnTrain)),
      test: pad(headImages(knnSource.test, config.knnTest)),
      // docs/paper-notes.md §8.3: every CIFAR k-NN set uses CIFAR-10's constants, even for Tiny ImageNet models.
      normalization: config.knnDataset === 'fashion-mnist' ? 'fashion-mnist' : 'cifar10',
      ...(knnSource.source ? { source: knnSource.source } : {}),
      ...(knnSource.digest ? { digest: knnSource.digest } : {}),
    };
  }
  return { dataset: main.ds, knn, data: main.data, notes };
}
