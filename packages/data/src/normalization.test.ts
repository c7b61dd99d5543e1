import { describe, expect, it } from 'vitest';
import { CIFAR10_STATS, CIFAR100_STATS, channelStats, IMAGENET_STATS, normalizationTables } from './normalization.js';

describe('normalization', () => {
  it('has the constants of the original code', () => {
    expect(CIFAR10_STATS).toEqual({ mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] });
    expect(CIFAR100_STATS).toEqual({ mean: [0.5071, 0.4867, 0.4408], std: [0.2675, 0.2565, 0.2761] });
    expect(IMAGENET_STATS).toEqual({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    expect(channelStats('cifar100')).toBe(CIFAR100_STATS);
    expect(() => channelStats('mnist' as never)).toThrow(/unknown normalization "mnist"/);
  });

  it('tables map v to (v/255 − mean)/std per channel, in float32', () => {
    const t = normalizationTables(CIFAR10_STATS, 3);
    expect(t[0]![0]).toBeCloseTo(-0.4914 / 0.2023, 6);
    expect(t[1]![255]).toBeCloseTo((1 - 0.4822) / 0.1994, 6);
    expect(t[2]![128]).toBe(Math.fround((128 / 255 - 0.4465) / 0.201));
  });

  it('replicates 1-channel stats to 3 output channels and rejects other mismatches', () => {
    const t = normalizationTables({ mean: [0.5], std: [0.25] }, 3);
    expect(t.map((x) => x[255])).toEqual([2, 2, 2]);
    expect(() => normalizationTables(CIFAR10_STATS, 1)).toThrow(/3 channels, images have 1/);
    expect(() => normalizationTables({ mean: [0], std: [0] }, 1)).toThrow(/std must be positive/);
  });
});
