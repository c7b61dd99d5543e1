import { ThresholdRangeError, InvalidOptionError } from './errors.js';
import type { Spectrum } from './spectrum-result.js';

/**
 * How the rank is read off the cumulative ratios rₖ = Cₖ / C:
 * - `'atLeast'` (default; the issue and the golden fixtures): the smallest k with rₖ ≥ p.
 * - `'original'` (the paper's released code, `sum(r <= p) + 1`): the smallest k with rₖ > p,
 *   capped at the number of values. The two differ only when some rₖ equals p exactly.
 * Both return 0 when the total variance C is 0 (the original code would return len + 1 there).
 */
export type RankRule = 'atLeast' | 'original';

/** Options of {@link rankFromSpectrum}. */
export interface RankRuleOptions {
  /** Fraction p of the variance to span, in (0, 1]; default 0.99. */
  threshold?: number;
  /** Default `'atLeast'`. */
  rule?: RankRule;
}

/** Throws {@link ThresholdRangeError} unless 0 < p ≤ 1. */
export function checkThreshold(p: number): number {
  if (typeof p !== 'number' || !(p > 0 && p <= 1)) throw new ThresholdRangeError(p);
  return p;
}

/**
 * The number of leading components spanning a fraction `threshold` of the variance, from a spectrum or
 * from squared singular values in descending order.
 */
export function rankFromSpectrum(spec: Spectrum | ArrayLike<number>, options: RankRuleOptions = {}): number {
  const p = checkThreshold(options.threshold ?? 0.99);
  const rule = options.rule ?? 'atLeast';
  if (rule !== 'atLeast' && rule !== 'original') {
    throw new InvalidOptionError(`rule must be atLeast or original; got ${String(rule)}`);
  }
  const squared = 'squared' in spec ? spec.squared : spec;
  const len = squared.length;
  let total = 0;
  for (let i = 0; i < len; i++) total += squared[i]!;
  if (!(total > 0)) return 0;
  // Compare the ratios Cₖ/C (not Cₖ with p·C) exactly as the reference code does, so exact ties agree.
  let acc = 0;
  for (let k = 0; k < len; k++) {
    acc += squared[k]!;
    const r = acc / total;
    if (rule === 'atLeast' ? r >= p : r > p) return k + 1;
  }
  return len;
}
