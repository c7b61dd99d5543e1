/**
 * The classification data pipeline of docs/paper-notes.md §8.1–8.2: seeded 0.1 % validation split, optional training
 * subset, per-epoch seeded reshuffling, random crop (zero padding 4, or 8 at 64 px) + horizontal
 * flip per sample, per-channel normalization, drop-last batches; plus the fixed, unaugmented first
 * 10,240 training images for rank and k-NN (`rankSubset`).
 *
 * Every random draw is a fork of the run seed named after what it is for (split, epoch order,
 * augmentation of one batch), so any batch can be rebuilt on its own: resuming mid-epoch gives the
 * same batches as an uninterrupted run.
 */
import { makeBatch, rangeIndices, type BatchArrays, type BatchFormat } from './batches.js';
import { headImages, padImages, selectImages, type ImageDataset, type ImageDatasetName, type ImageSet } from './image-set.js';
import { channelStats, normalizationTables, type ChannelStats, type NormalizationName } from './normalization.js';
import { createRng } from '@samrank/core';
import { validationSplit } from './split.js';

/** Options of {@link createPipeline}. */
export interface PipelineOptions {
  /** Run seed: validation split, epoch order and augmentation all derive from it. Default 0. */
  seed?: number;
  /** Fraction of the training set held out (default 0.001, as the original code). */
  validationFraction?: number;
  /** Train on only the first N training images left after the split (default: all). */
  trainSubset?: number;
  /** Size of the fixed rank / k-NN subset taken from the start of the training images (default 10,240). */
  rankExamples?: number;
  /** Random crop + flip on training batches (default true). */
  augment?: boolean;
  /** Zero padding of the random crop (default: 4 at 32 px, 8 at 64 px, i.e. size / 8). */
  padding?: number;
  /** Horizontal flips (default true). */
  flip?: boolean;
  /**
   * Normalization constants. Default per data set: CIFAR-10's for CIFAR-10 **and CIFAR-100** (the
   * original code's behaviour; pass 'cifar100' for the correct ones), ImageNet's for Tiny ImageNet,
   * Fashion-MNIST's own for Fashion-MNIST.
   */
  normalization?: NormalizationName | ChannelStats;
  /** Zero-pad images to this size first (default: 32 for Fashion-MNIST's 28 px, otherwise none). */
  padTo?: number;
  /** Channels of the batches: 3 (default; grey images are replicated) or 1 (grey only). */
  channels?: 1 | 3;
}

/** Default normalization per data set (docs/paper-notes.md §8.1 and §14 item 8). */
export function defaultNormalization(name: ImageDatasetName): NormalizationName {
  switch (name) {
    case 'cifar10':
    case 'cifar100':
      return 'cifar10';
    case 'tiny-imagenet':
      return 'imagenet';
    case 'fashion-mnist':
      return 'fashion-mnist';
  }
}

/** Ready-to-train data: the splits as uint8 image sets and batch builders. */
export interface ClassificationPipeline {
  dataset: ImageDatasetName;
  numClasses: number;
  /** Training images after the split (and subset), in their fixed order. */
  train: ImageSet;
  /** The held-out 0.1 %. */
  validation: ImageSet;
  test: ImageSet;
  /** The first `rankExamples` training images, never augmented (rank, k-NN "train", active ReLUs). */
  rankSubset: ImageSet;
  /** Shape of one batch image: [height, width, channels]. */
  inputShape: [number, number, number];
  normalization: ChannelStats;
  /** Crop padding in use (0 when augmentation is off). */
  padding: number;
  seed: number;
  /** Full batches per epoch (drop_last). */
  stepsPerEpoch(batchSize: number): number;
  /** The training order of an epoch (a seeded permutation of 0..train.count−1). */
  epochOrder(epoch: number): Int32Array;
  /** Training batch `step` of `epoch`: shuffled, augmented, normalized. */
  trainBatchArrays(epoch: number, step: number, batchSize: number): BatchArrays;
  /** Images start..start+count−1 of `set`, unaugmented, normalized like training data. */
  evalBatchArrays(set: ImageSet, start: number, count: number): BatchArrays;
}

/** Normalizes and (for 1-channel sources) replicates channels, no augmentation: for any image set (e.g. a k-NN transfer set). */
export function evalBatchArrays(
  set: ImageSet,
  start: number,
  count: number,
  normalization: NormalizationName | ChannelStats,
  outChannels: number = set.channels,
): BatchArrays {
  const format: BatchFormat = { tables: normalizationTables(channelStats(normalization), outChannels), outChannels };
  return makeBatch(set, rangeIndices(start, count, set.count), format);
}

/** Builds the pipeline for a loaded data set. */
export function createPipeline(dataset: ImageDataset, options: PipelineOptions = {}): ClassificationPipeline {
  const seed = options.seed ?? 0;
  const padTo = options.padTo ?? (dataset.name === 'fashion-mnist' && dataset.train.height < 32 ? 32 : undefined);
  const fullTrain = padTo ? padImages(dataset.train, padTo) : dataset.train;
  const test = padTo ? padImages(dataset.test, padTo) : dataset.test;
  const split = validationSplit(fullTrain.count, options.validationFraction ?? 0.001, seed);
  let trainIdx = split.train;
  if (options.trainSubset !== undefined) {
    if (!(Number.isInteger(options.trainSubset) && options.trainSubset >= 1)) {
      throw new RangeError(`trainSubset must be a positive integer, got ${options.trainSubset}`);
    }
    trainIdx = trainIdx.subarray(0, Math.min(options.trainSubset, trainIdx.length));
  }
  const train = selectImages(fullTrain, trainIdx);
  const validation = selectImages(fullTrain, split.validation);
  const rankSubset = headImages(train, options.rankExamples ?? 10_240);

  const outChannels = options.channels ?? 3;
  if (fullTrain.channels !== outChannels && !(fullTrain.channels === 1 && outChannels === 3)) {
    throw new RangeError(`cannot make ${outChannels}-channel batches from ${fullTrain.channels}-channel images`);
  }
  const normalization = channelStats(options.normalization ?? defaultNormalization(dataset.name));
  const format: BatchFormat = { tables: normalizationTables(normalization, outChannels), outChannels };
  const augment = options.augment ?? true;
  const padding = augment ? (options.padding ?? Math.round(train.height / 8)) : 0;
  const flip = augment && (options.flip ?? true);
  const root = createRng(seed);

  let cachedEpoch: number | undefined;
  let cachedOrder: Int32Array | undefined;
  const epochOrder = (epoch: number): Int32Array => {
    if (cachedEpoch !== epoch || !cachedOrder) {
      cachedOrder = root.fork(`epoch:${epoch}`).permutation(train.count);
      cachedEpoch = epoch;
    }
    return cachedOrder;
  };
  const stepsPerEpoch = (batchSize: number): number => {
    if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
    return Math.floor(train.count / batchSize);
  };

  return {
    dataset: dataset.name,
    numClasses: dataset.numClasses,
    train,
    validation,
    test,
    rankSubset,
    inputShape: [train.height, train.width, outChannels],
    normalization,
    padding,
    seed,
    stepsPerEpoch,
    epochOrder,
    trainBatchArrays(epoch, step, batchSize) {
      const steps = stepsPerEpoch(batchSize);
      if (steps === 0) throw new RangeError(`training set of ${train.count} images is smaller than one batch of ${batchSize}`);
      if (!(Number.isInteger(step) && step >= 0 && step < steps)) throw new RangeError(`step ${step} outside 0..${steps - 1} (drop_last)`);
      const indices = epochOrder(epoch).subarray(step * batchSize, (step + 1) * batchSize);
      if (!augment) return makeBatch(train, indices, format);
      return makeBatch(train, indices, format, { rng: root.fork(`augment:${epoch}:${step}`), padding, flip });
    },
    evalBatchArrays(set, start, count) {
      return makeBatch(set, rangeIndices(start, count, set.count), format);
    },
  };
}
