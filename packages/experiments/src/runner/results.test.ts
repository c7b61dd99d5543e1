import { describe, expect, it } from 'vitest';
import { formatMetric, formatValue, spread, summarizeByRho, toJson } from './results.js';

describe('results', () => {
  it('spread takes the median of the finite values', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(spread([4, 1, Number.NaN, 2, null, 3])).toEqual({ median: 2.5, min: 1, max: 4, n: 4 });
    expect(spread([]).n).toBe(0);
    expect(spread([]).median).toBeNaN();
  });

  it('summarizes per ρ in grid order and counts diverged runs', () => {
    const ok = (rho: number, seed: number, rank: number) => ({ rho, seed, status: 'ok' as const, divergedAt: null, final: { rank } });
    const runs = [
      ok(0, 1, 19),
      ok(0.6, 1, 4),
      ok(0, 2, 17),
      { rho: 0.6, seed: 2, status: 'diverged' as const, divergedAt: 570, final: null },
      ok(0, 3, 18),
      ok(0.6, 3, 6),
    ];
    const s = summarizeByRho([0, 0.6], runs, [{ key: 'rank' }]);
    expect(s.map((x) => [x.rho, x.finished, x.diverged, x.metrics.rank!.median])).toEqual([
      [0, 3, 0, 18],
      [0.6, 2, 1, 5],
    ]);
  });

  it('formats and serialises numbers', () => {
    expect([formatValue(18), formatValue(0.0151234), formatValue(2e-7), formatValue(1234567.5), formatValue(Number.NaN)]).toEqual([
      '18',
      '0.01512',
      '2.00e-7',
      '1.23e+6',
      '–',
    ]);
    expect(formatMetric({ format: (v) => v.toFixed(1) }, 2)).toBe('2.0');
    expect(formatMetric({}, null)).toBe('–');
    expect(toJson({ a: Number.NaN, b: [1, Number.POSITIVE_INFINITY], c: 'x' })).toBe('{"a":null,"b":[1,null],"c":"x"}');
  });
});
