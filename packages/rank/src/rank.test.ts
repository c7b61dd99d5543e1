import { describe, expect, it } from 'vitest';
import { loadFixture, worstViolation } from '../../../test-utils/fixtures.js';
import { ThresholdRangeError } from './errors.js';
import { createRng, gaussian, orthonormalColumns, rankK } from '../test/test-matrices.js';
import { featureRank } from './rank.js';
import { rankFromSpectrum } from './rank-rule.js';
import { singularValues, type Centering } from './spectrum-result.js';
import { spectrum } from './spectrum.js';

interface RankCase {
  name: string;
  H: number[][];
  thresholds: number[];
  expected: {
    ranks: Record<string, number>;
    singular_values: number[];
    squared_singular_values: number[];
    cumulative_explained_variance_ratio: number[] | null;
    total_variance: number;
  };
  alt_conventions: Record<'none' | 'rows', { ranks: Record<string, number>; singular_values: number[] }>;
}
const fixture = loadFixture<{ cases: RankCase[] }>('feature_rank.json');

function checkSingularValues(actual: Float64Array, expected: number[]): void {
  // float64 tolerance of the file: rtol 1e-9, atol 1e-12·σ₁.
  expect(worstViolation(actual, expected, Math.max(1e-12 * (expected[0] ?? 0), Number.MIN_VALUE), 1e-9)).toBeLessThanOrEqual(1);
}

describe('featureRank on feature_rank.json (column centering, the default)', () => {
  it('has cases', () => expect(fixture.cases.length).toBeGreaterThanOrEqual(9));
  for (const c of fixture.cases) {
    it(`${c.name}: ranks, singular values, cumulative ratios`, () => {
      for (const t of c.thresholds) {
        expect(featureRank(c.H, { threshold: t }), `threshold ${t}`).toBe(c.expected.ranks[String(t)]);
      }
      const spec = spectrum(c.H);
      checkSingularValues(singularValues(spec), c.expected.singular_values);
      expect(spec.total).toBeCloseTo(c.expected.total_variance, 9);
      if (c.expected.cumulative_explained_variance_ratio === null) {
        expect(spec.cumulative).toBeNull();
      } else {
        expect(worstViolation(spec.cumulative!, c.expected.cumulative_explained_variance_ratio, 1e-10, 0)).toBeLessThanOrEqual(1);
      }
    });
    it(`${c.name}: Gram route (float32 Gram blocks, float64 eigen-solve) gives the same ranks and σ²`, () => {
      const spec = spectrum(c.H, { method: 'gram' });
      for (const t of c.thresholds) expect(rankFromSpectrum(spec, { threshold: t })).toBe(c.expected.ranks[String(t)]);
      // The file's float32 tolerance for σ² (atol 1e-5 · total variance) applies to the f32 Gram blocks.
      const atol = Math.max(1e-5 * c.expected.total_variance, Number.MIN_VALUE);
      expect(worstViolation(spec.squared, c.expected.squared_singular_values, atol, 0)).toBeLessThanOrEqual(1);
    });
    for (const [alt, center] of [
      ['none', 'none'],
      ['rows', 'sample'],
    ] as const) {
      it(`${c.name}: alt convention '${alt}' = center '${center}'`, () => {
        const expected = c.alt_conventions[alt];
        for (const t of c.thresholds) {
          expect(featureRank(c.H, { threshold: t, center: center as Centering })).toBe(expected.ranks[String(t)]);
        }
        checkSingularValues(singularValues(spectrum(c.H, { center })), expected.singular_values);
      });
    }
  }
});

describe('featureRank properties', () => {
  it('a rank-k matrix has rank k at every threshold (all centerings, both routes)', () => {
    for (const [n, d, k] of [
      [60, 20, 3],
      [15, 40, 6],
      [300, 64, 9],
    ] as const) {
      const x = { data: rankK(n, d, k, 11 + k), rows: n, cols: d };
      for (const center of ['feature', 'sample', 'none'] as const) {
        for (const method of ['jacobi', 'gram'] as const) {
          // Centering can drop one dimension (the mean direction) but never add one.
          const r = featureRank(x, { threshold: 0.9999, center, method });
          expect(r, `${n}x${d} k=${k} ${center} ${method}`).toBeGreaterThanOrEqual(center === 'none' ? k : k - 1);
          expect(r).toBeLessThanOrEqual(k);
        }
        if (center === 'none') expect(featureRank(x, { threshold: 0.9999, center })).toBe(k);
      }
    }
  });

  const n = 80;
  const d = 24;
  const base = gaussian(n, d, 5, (j) => 0.8 ** j);
  const spec0 = spectrum({ data: base, rows: n, cols: d });
  const ranks0 = [0.5, 0.9, 0.99].map((t) => rankFromSpectrum(spec0, { threshold: t }));

  it('is invariant to column permutation', () => {
    const perm = createRng(3).permutation(d);
    const x = new Float64Array(n * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = base[i * d + perm[j]!]!;
    const spec = spectrum({ data: x, rows: n, cols: d });
    expect(worstViolation(spec.squared, spec0.squared, 1e-12 * spec0.squared[0]!, 1e-10)).toBeLessThanOrEqual(1);
    expect([0.5, 0.9, 0.99].map((t) => rankFromSpectrum(spec, { threshold: t }))).toEqual(ranks0);
  });

  it('is invariant to an orthogonal rotation of the features (column centering)', () => {
    const Q = orthonormalColumns(d, d, 9);
    const x = new Float64Array(n * d);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < d; j++) {
        let v = 0;
        for (let t = 0; t < d; t++) v += base[i * d + t]! * Q[t * d + j]!;
        x[i * d + j] = v;
      }
    const spec = spectrum({ data: x, rows: n, cols: d });
    expect(worstViolation(spec.squared, spec0.squared, 1e-12 * spec0.squared[0]!, 1e-9)).toBeLessThanOrEqual(1);
    expect([0.5, 0.9, 0.99].map((t) => rankFromSpectrum(spec, { threshold: t }))).toEqual(ranks0);
  });

  it('is invariant to scaling (σ² scales by c², the ratios do not move)', () => {
    for (const c of [1e-3, 7, 1e4]) {
      const spec = spectrum({ data: base.map((v) => v * c), rows: n, cols: d });
      expect(worstViolation(spec.cumulative!, spec0.cumulative!, 1e-12, 0)).toBeLessThanOrEqual(1);
      expect(spec.total / spec0.total).toBeCloseTo(c * c, 6 - Math.log10(c * c));
      expect([0.5, 0.9, 0.99].map((t) => rankFromSpectrum(spec, { threshold: t }))).toEqual(ranks0);
    }
  });

  it("'sample' centering equals the original code's computation on a fixed hand case", () => {
    // utils_eval.compute_feature_sing_vals: phi - phi.mean(dim=1, keepdim=True), then svdvals, then
    // sum(cumsum(s²)/sum(s²) <= 0.99) + 1. Hand case: rows (1,2,3,6), (2,2,2,2), (0,4,0,4).
    // Row means 3, 2, 2 → centered rows (−2,−1,0,3), (0,0,0,0), (−2,2,−2,2). Its Gram (rows) is
    // [[14, 0, 8], [0, 0, 0], [8, 0, 16]]: σ² = 15 ± √65, 0.
    const H = [
      [1, 2, 3, 6],
      [2, 2, 2, 2],
      [0, 4, 0, 4],
    ];
    const spec = spectrum(H, { center: 'sample' });
    const expected = [15 + Math.sqrt(65), 15 - Math.sqrt(65), 0];
    expect(worstViolation(spec.squared, expected, 1e-12, 1e-12)).toBeLessThanOrEqual(1);
    expect(rankFromSpectrum(spec, { threshold: 0.99, rule: 'original' })).toBe(2);
    // σ₁²/C = (15 + √65)/30 = 0.769: p = 0.7 → 1 component, p = 0.8 → 2.
    expect(featureRank(H, { center: 'sample', threshold: 0.7, rule: 'original' })).toBe(1);
    expect(featureRank(H, { center: 'sample', threshold: 0.8, rule: 'original' })).toBe(2);
    // Column centering of the same matrix is a different computation.
    expect(spectrum(H).total).not.toBeCloseTo(spec.total, 3);
  });
});

describe('featureRank threshold', () => {
  it('rejects thresholds outside (0, 1]', () => {
    for (const t of [0, -0.1, 1.0001, Number.NaN]) {
      expect(() =>
        featureRank(
          [
            [1, 2],
            [3, 4],
          ],
          { threshold: t },
        ),
      ).toThrow(ThresholdRangeError);
    }
  });
});
