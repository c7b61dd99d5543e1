import type { MatrixInput } from './matrix.js';
import { checkThreshold, rankFromSpectrum, type RankRuleOptions } from './rank-rule.js';
import { spectrum, type SpectrumOptions } from './spectrum.js';

/** Options of {@link featureRank}. */
export interface FeatureRankOptions extends SpectrumOptions, RankRuleOptions {}

/**
 * Feature rank: the fewest principal components spanning a fraction `threshold` (default 0.99) of the
 * variance of `matrix` (rows = examples), after the chosen centering (default `'feature'`).
 */
export function featureRank(matrix: MatrixInput, options: FeatureRankOptions = {}): number {
  checkThreshold(options.threshold ?? 0.99);
  return rankFromSpectrum(spectrum(matrix, options), options);
}
