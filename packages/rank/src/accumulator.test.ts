import { describe, expect, it } from 'vitest';
import { loadFixture, worstViolation } from '../../../test-utils/fixtures.js';
import { RankAccumulator } from './accumulator.js';
import { InvalidOptionError, ShapeMismatchError } from './errors.js';
import type { DenseMatrix } from './matrix.js';
import { rankFromSpectrum } from './rank-rule.js';
import type { Spectrum } from './spectrum-result.js';
import { spectrum } from './spectrum.js';
import { gaussian } from '../test/test-matrices.js';

function rowsOf(x: DenseMatrix, r0: number, r1: number): DenseMatrix {
  return { data: x.data.subarray(r0 * x.cols, r1 * x.cols), rows: r1 - r0, cols: x.cols };
}

function expectSameSpectrum(a: Spectrum, b: Spectrum, rtol: number): void {
  expect(a.squared.length).toBe(b.squared.length);
  expect(worstViolation(a.squared, b.squared, rtol * b.squared[0]!, rtol)).toBeLessThanOrEqual(1);
  for (const p of [0.5, 0.9, 0.99]) expect(rankFromSpectrum(a, { threshold: p })).toBe(rankFromSpectrum(b, { threshold: p }));
}

describe('RankAccumulator: streaming equals one-shot', () => {
  const n = 600;
  const d = 40;
  const x64: DenseMatrix = { data: gaussian(n, d, 7, (j) => 0.85 ** j), rows: n, cols: d };
  const x32: DenseMatrix = { data: Float32Array.from(x64.data), rows: n, cols: d };
  const cuts = [0, 3, 50, 51, 300, 599, 600];

  for (const center of ['feature', 'sample', 'none'] as const) {
    for (const [label, x, rtol] of [
      // The Gram route sums float32 block products in float64: σ² agree to ~1e-6 of σ₁² (not 1e-10).
      ['float64', x64, 3e-6],
      ['float32', x32, 2e-5],
    ] as const) {
      it(`${center} centering, ${label} batches of uneven sizes, d×d Gram (buffered first, then switched)`, () => {
        const acc = new RankAccumulator(d, { center });
        for (let i = 0; i + 1 < cuts.length; i++) acc.add(rowsOf(x, cuts[i]!, cuts[i + 1]!));
        expect(acc.rows).toBe(n);
        const streamed = acc.spectrum();
        expect(streamed.method).toBe('gram-features');
        // Reference: the one-shot exact SVD of the stacked matrix.
        const once = spectrum(x64, { center, method: 'jacobi' });
        expectSameSpectrum(streamed, once, rtol);
        // And the one-shot Gram route on the stacked matrix agrees with the stream just as closely.
        expectSameSpectrum(streamed, spectrum(x, { center, method: 'gram' }), rtol);
        expect(acc.featureRank({ threshold: 0.9 })).toBe(rankFromSpectrum(once, { threshold: 0.9 }));
      });
    }
    it(`${center} centering: n×n Gram from buffered batches when n < d`, () => {
      const wide: DenseMatrix = { data: gaussian(30, 90, 8, (j) => 0.97 ** j), rows: 30, cols: 90 };
      const acc = new RankAccumulator(90, { center });
      acc.add(rowsOf(wide, 0, 7)).add(rowsOf(wide, 7, 30));
      const streamed = acc.spectrum();
      expect(streamed.method).toBe('gram-examples');
      expectSameSpectrum(streamed, spectrum(wide, { center, method: 'jacobi' }), 3e-6);
    });
  }

  it("gram: 'features' and 'examples' force a side and agree", () => {
    const a = new RankAccumulator(d, { gram: 'features' })
      .add(rowsOf(x64, 0, 20))
      .add(rowsOf(x64, 20, 600))
      .spectrum();
    const b = new RankAccumulator(d, { gram: 'examples' })
      .add(rowsOf(x64, 0, 20))
      .add(rowsOf(x64, 20, 600))
      .spectrum();
    expect([a.method, b.method]).toEqual(['gram-features', 'gram-examples']);
    expectSameSpectrum(a, b, 3e-6);
  });

  it('copies buffered typed batches, so the caller may reuse its buffer', () => {
    const buf = new Float64Array(10 * d);
    const acc = new RankAccumulator(d);
    for (let b = 0; b < 3; b++) {
      buf.set(x64.data.subarray(b * 10 * d, (b + 1) * 10 * d));
      acc.add({ data: buf, rows: 10, cols: d });
    }
    expectSameSpectrum(acc.spectrum(), spectrum(rowsOf(x64, 0, 30), { method: 'jacobi' }), 3e-6);
  });

  it('column centering stays exact with large feature offsets (shifted accumulation)', () => {
    const big = x64.data.map((v, i) => v + 1e6 * (1 + (i % d)));
    const acc = new RankAccumulator(d);
    for (let r = 0; r < n; r += 100) acc.add({ data: big.subarray(r * d, (r + 100) * d), rows: 100, cols: d });
    expectSameSpectrum(acc.spectrum(), spectrum(x64, { method: 'jacobi' }), 1e-5);
  });

  it('matches feature_rank.json when fed one row at a time', () => {
    const fixture = loadFixture<{
      cases: { name: string; H: number[][]; thresholds: number[]; expected: { ranks: Record<string, number> } }[];
    }>('feature_rank.json');
    for (const c of fixture.cases) {
      const acc = new RankAccumulator(c.H[0]!.length);
      for (const row of c.H) acc.add([row]);
      for (const t of c.thresholds) expect(acc.featureRank({ threshold: t }), `${c.name} ${t}`).toBe(c.expected.ranks[String(t)]);
    }
  });

  it('rejects batches of another width, bad options and an empty spectrum', () => {
    const acc = new RankAccumulator(3);
    expect(() => acc.add([[1, 2]])).toThrow(ShapeMismatchError);
    expect(() => acc.spectrum()).toThrow(InvalidOptionError);
    expect(() => new RankAccumulator(0)).toThrow(InvalidOptionError);
    expect(() => new RankAccumulator(3, { center: 'column' as never })).toThrow(InvalidOptionError);
    expect(() => new RankAccumulator(3, { gram: 'both' as never })).toThrow(InvalidOptionError);
  });
});

describe("one-shot spectra form their Gram in the eigen-solver's memory", () => {
  it('give the same bits as an accumulator of their own, whatever was computed before them', () => {
    const shapes = [
      [600, 40],
      [300, 20],
      [50, 80],
      [600, 40],
    ] as const;
    const inputs = shapes.map(([n, d], s) => ({ data: Float32Array.from(gaussian(n, d, 20 + s, (j) => 0.9 ** j)), rows: n, cols: d }));
    for (const center of ['feature', 'sample', 'none'] as const) {
      for (const x of inputs) {
        const own = new RankAccumulator(x.cols, { center }).add(x).spectrum();
        const shared = spectrum(x, { center, method: 'gram' });
        expect(shared.squared).toEqual(own.squared);
        expect(shared.method).toBe(own.method);
      }
    }
  });

  it('a one-shot call that stops at a NaN leaves nothing behind for the next one', () => {
    const x = { data: Float32Array.from(gaussian(600, 40, 31, (j) => 0.9 ** j)), rows: 600, cols: 40 };
    const before = spectrum(x, { method: 'gram' });
    const bad = { ...x, data: x.data.slice() };
    bad.data[590 * 40 + 3] = Number.NaN;
    expect(() => spectrum(bad, { method: 'gram' })).toThrow(/row 590/);
    expect(spectrum(x, { method: 'gram' }).squared).toEqual(before.squared);
  });

  it('an accumulator stays usable after spectrum(): the centering correction is not applied to its Gram', () => {
    const x = { data: Float32Array.from(gaussian(600, 40, 32, (j) => 0.9 ** j)), rows: 600, cols: 40 };
    const acc = new RankAccumulator(40).add(rowsOf(x, 0, 300));
    const first = acc.spectrum();
    expect(acc.spectrum().squared).toEqual(first.squared);
    acc.add(rowsOf(x, 300, 600));
    const untouched = new RankAccumulator(40).add(rowsOf(x, 0, 300)).add(rowsOf(x, 300, 600));
    expect(acc.spectrum().squared).toEqual(untouched.spectrum().squared);
  });
});
