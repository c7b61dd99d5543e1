/** Per-channel normalization constants, `(x / 255 − mean) / std`, as in the paper's code (docs/paper-notes.md §8.1). */

/** Mean and standard deviation per channel, on the [0, 1] scale. */
export interface ChannelStats {
  mean: readonly number[];
  std: readonly number[];
}

/** CIFAR-10's constants (the original code also applies them to CIFAR-100 and to every k-NN set). */
export const CIFAR10_STATS: ChannelStats = { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] };
/** CIFAR-100's own constants: dead code in the original (a substring test picks CIFAR-10's); offered as the correct choice. */
export const CIFAR100_STATS: ChannelStats = { mean: [0.5071, 0.4867, 0.4408], std: [0.2675, 0.2565, 0.2761] };
/** ImageNet constants, used for Tiny ImageNet. */
export const IMAGENET_STATS: ChannelStats = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
/**
 * Fashion-MNIST (not in the paper): mean and standard deviation of the 60,000 training images at
 * 28×28 (checked against the Debian copy in the tests). Padding to 32×32 adds zeros, which then
 * normalize to −mean/std like CIFAR's crop padding.
 */
export const FASHION_MNIST_STATS: ChannelStats = { mean: [0.286], std: [0.353] };

/** Named choices for `normalization` options. */
export type NormalizationName = 'cifar10' | 'cifar100' | 'imagenet' | 'fashion-mnist';

/** Looks up named constants, or passes explicit ones through. */
export function channelStats(choice: NormalizationName | ChannelStats): ChannelStats {
  if (typeof choice !== 'string') return choice;
  switch (choice) {
    case 'cifar10':
      return CIFAR10_STATS;
    case 'cifar100':
      return CIFAR100_STATS;
    case 'imagenet':
      return IMAGENET_STATS;
    case 'fashion-mnist':
      return FASHION_MNIST_STATS;
    default:
      throw new RangeError(`unknown normalization "${String(choice)}" (cifar10, cifar100, imagenet, fashion-mnist)`);
  }
}

/**
 * Lookup tables, one per output channel, mapping a uint8 value to its normalized float32.
 * `outChannels` may exceed the stats' channel count only for 1-channel stats (grey replicated to RGB).
 */
export function normalizationTables(stats: ChannelStats, outChannels: number): Float32Array[] {
  if (stats.mean.length !== stats.std.length) throw new RangeError('normalization mean and std differ in length');
  if (stats.mean.length !== outChannels && stats.mean.length !== 1) {
    throw new RangeError(`normalization has ${stats.mean.length} channels, images have ${outChannels}`);
  }
  const tables: Float32Array[] = [];
  for (let c = 0; c < outChannels; c++) {
    const mean = stats.mean[stats.mean.length === 1 ? 0 : c]!;
    const std = stats.std[stats.std.length === 1 ? 0 : c]!;
    if (!(std > 0)) throw new RangeError(`normalization std must be positive, got ${std}`);
    const t = new Float32Array(256);
    for (let v = 0; v < 256; v++) t[v] = (v / 255 - mean) / std;
    tables.push(t);
  }
  return tables;
}
