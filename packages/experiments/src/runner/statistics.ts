/**
 * Paired comparisons of each ρ against ρ = 0 over seeds. Runs of the same seed share data order and
 * initialisation, so the per-seed difference m(ρ, s) − m(0, s) removes the seed-to-seed spread that makes
 * single-seed comparisons anecdotes. Each comparison gets the median difference with a seeded bootstrap
 * interval and an exact two-sided sign test; the verdict comes from the interval. The median, not the mean:
 * with a handful of seeds one outlying run would otherwise decide the verdict (for 3–5 seeds the 95 %
 * interval of the median spans the smallest to the largest difference, so a verdict needs every seed to
 * agree in sign).
 */
import { createRng } from '@samrank/core';
import { type RunResult, finalValue } from './results.js';

/** Confidence of the bootstrap interval. */
export const CONFIDENCE = 0.95;
/** Bootstrap resamples (seeded: the interval is the same on every run). */
const RESAMPLES = 10_000;

/** One metric at one ρ against ρ = 0, over the seeds where both runs finished. */
export interface PairedComparison {
  metric: string;
  rho: number;
  /** Seeds with both runs finished. */
  n: number;
  /** Per-seed differences m(ρ, s) − m(0, s), in seed order. */
  differences: number[];
  medianDifference: number;
  meanDifference: number;
  /** Bootstrap percentile interval of the median difference ([NaN, NaN] with fewer than 2 pairs). */
  interval: [number, number];
  /** Exact two-sided sign-test p-value (ties dropped); 1 without pairs. */
  signTestP: number;
  /** lower / higher: the interval excludes 0; unclear otherwise (also with fewer than 3 pairs). */
  verdict: 'lower' | 'higher' | 'unclear';
}

function median(sorted: ArrayLike<number>): number {
  const m = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

/** Exact two-sided sign test: P(at least this lopsided | p = ½), ties dropped. */
export function signTest(differences: readonly number[]): number {
  const pos = differences.filter((d) => d > 0).length;
  const neg = differences.filter((d) => d < 0).length;
  const n = pos + neg;
  if (n === 0) return 1;
  const k = Math.min(pos, neg);
  let tail = 0;
  let c = 1; // C(n, 0)
  for (let i = 0; i <= k; i++) {
    tail += c;
    c = (c * (n - i)) / (i + 1);
  }
  return Math.min(1, (2 * tail) / 2 ** n);
}

/** Seeded bootstrap percentile interval of the median of `values`. */
export function bootstrapMedianInterval(values: readonly number[], seed = 0, confidence = CONFIDENCE): [number, number] {
  if (values.length < 2) return [Number.NaN, Number.NaN];
  const rng = createRng(seed).fork('bootstrap');
  const medians = new Float64Array(RESAMPLES);
  const sample = new Float64Array(values.length);
  for (let b = 0; b < RESAMPLES; b++) {
    for (let i = 0; i < values.length; i++) sample[i] = values[rng.int(values.length)]!;
    medians[b] = median(sample.sort());
  }
  medians.sort();
  const alpha = (1 - confidence) / 2;
  return [medians[Math.floor(alpha * (RESAMPLES - 1))]!, medians[Math.ceil((1 - alpha) * (RESAMPLES - 1))]!];
}

/** Compares `metric` at every ρ > 0 (or every ρ but the smallest) with the smallest ρ, pairing runs by seed. */
export function pairedComparisons(metric: string, rhos: readonly number[], runs: readonly RunResult[]): PairedComparison[] {
  const base = Math.min(...rhos);
  const at = (rho: number) => new Map(runs.filter((r) => r.rho === rho && r.final).map((r) => [r.seed, finalValue(r, metric)]));
  const reference = at(base);
  return rhos
    .filter((rho) => rho !== base)
    .map((rho) => {
      const mine = at(rho);
      const differences = [...mine.keys()]
        .sort((a, b) => a - b)
        .flatMap((seed) => {
          const a = mine.get(seed);
          const b = reference.get(seed);
          return typeof a === 'number' && typeof b === 'number' && Number.isFinite(a) && Number.isFinite(b) ? [a - b] : [];
        });
      const n = differences.length;
      const sorted = [...differences].sort((a, b) => a - b);
      const interval = bootstrapMedianInterval(differences);
      const verdict = n < 3 || !(interval[0] > 0 || interval[1] < 0) ? 'unclear' : interval[1] < 0 ? 'lower' : 'higher';
      return {
        metric,
        rho,
        n,
        differences,
        medianDifference: n ? median(sorted) : Number.NaN,
        meanDifference: n ? differences.reduce((a, b) => a + b, 0) / n : Number.NaN,
        interval,
        signTestP: signTest(differences),
        verdict,
      };
    });
}
