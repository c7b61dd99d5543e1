import { describe, expect, it } from 'vitest';
import type { RunResult } from './results.js';
import { bootstrapMedianInterval, pairedComparisons, signTest } from './statistics.js';

const run = (rho: number, seed: number, rank: number | null): RunResult =>
  rank === null
    ? { rho, seed, status: 'diverged', divergedAt: 3, final: null }
    : { rho, seed, status: 'ok', divergedAt: null, final: { rank } };

describe('paired statistics', () => {
  it('the sign test is the exact binomial tail, two-sided', () => {
    expect(signTest([-1, -2, -3, -4, -5])).toBeCloseTo(2 / 32, 12);
    expect(signTest([-1, -2, -3, -4, 5])).toBeCloseTo((2 * 6) / 32, 12);
    expect(signTest([1, -1])).toBe(1);
    expect(signTest([0, 0])).toBe(1);
  });

  it('the bootstrap interval of the median is seeded; for five seeds it spans the smallest to the largest difference', () => {
    const a = bootstrapMedianInterval([-3, -4, -5, -2, -6]);
    expect(a).toEqual(bootstrapMedianInterval([-3, -4, -5, -2, -6]));
    expect(a).toEqual([-6, -2]);
    // One seed against the others: the median is not moved by how far it lies, and the interval reaches 0's side.
    const mixed = bootstrapMedianInterval([-10, 8, -3, 600, -1]);
    expect(mixed[0]).toBe(-10);
    expect(mixed[1]).toBeGreaterThan(0);
    // With many agreeing seeds the interval pulls in from the extremes.
    const many = bootstrapMedianInterval(Array.from({ length: 40 }, (_, i) => -1 - (i % 10)));
    expect(many[0]).toBeGreaterThan(-10);
    expect(many[1]).toBeLessThan(-1);
    expect(bootstrapMedianInterval([1])).toEqual([Number.NaN, Number.NaN]);
  });

  it('pairs runs by seed, skips diverged ones, and calls a difference only when the interval excludes 0', () => {
    const runs = [
      run(0, 1, 19),
      run(0.3, 1, 10),
      run(0.6, 1, 18),
      run(0, 2, 17),
      run(0.3, 2, 9),
      run(0.6, 2, 20),
      run(0, 3, 18),
      run(0.3, 3, 11),
      run(0.6, 3, 15),
      run(0, 4, 20),
      run(0.3, 4, null),
      run(0.6, 4, 21),
    ];
    const [mid, high] = pairedComparisons('rank', [0, 0.3, 0.6], runs);
    expect(mid).toMatchObject({
      metric: 'rank',
      rho: 0.3,
      n: 3,
      differences: [-9, -8, -7],
      medianDifference: -8,
      meanDifference: -8,
      verdict: 'lower',
    });
    expect(mid!.signTestP).toBeCloseTo(0.25, 12);
    expect(high).toMatchObject({ rho: 0.6, n: 4, differences: [-1, 3, -3, 1], verdict: 'unclear' });
    // Two pairs are never enough for a verdict.
    expect(
      pairedComparisons(
        'rank',
        [0, 0.3],
        runs.filter((r) => r.seed < 3),
      )[0]!.verdict,
    ).toBe('unclear');
  });
});
