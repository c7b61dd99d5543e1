import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from './errors.js';
import { effectiveRank, numericalRank, participationRatio, rankMe, stableRank } from './spectral-probes.js';
import { buildSpectrum, type Spectrum } from './spectrum-result.js';
import { spectrum } from './spectrum.js';
import { knownSpectrum, rankK } from '../test/test-matrices.js';

function fromSquared(squared: number[], method: Spectrum['method'] = 'jacobi'): Spectrum {
  return buildSpectrum(Float64Array.from(squared), squared.length, { rows: 100, cols: squared.length, center: 'none', method });
}

describe('spectral probes', () => {
  const flat = fromSquared([4, 4, 4, 4]);
  const spiky = fromSquared([9, 1, 0, 0]); // σ = 3, 1, 0, 0

  it('effective rank: exp(entropy), p ∝ σ by default, p ∝ σ² on request', () => {
    expect(effectiveRank(flat)).toBeCloseTo(4, 12);
    expect(effectiveRank(flat, { weights: 'sigma2' })).toBeCloseTo(4, 12);
    const h = (ps: number[]) => Math.exp(-ps.reduce((s, p) => s + p * Math.log(p), 0));
    expect(effectiveRank(spiky)).toBeCloseTo(h([0.75, 0.25]), 12);
    expect(effectiveRank(spiky, { weights: 'sigma2' })).toBeCloseTo(h([0.9, 0.1]), 12);
    expect(() => effectiveRank(flat, { weights: 'abs' as never })).toThrow(InvalidOptionError);
  });

  it('RankMe: σ-weighted entropy with ε = 1e-7 added to every p', () => {
    const eps = 1e-7;
    const ps = [0.75 + eps, 0.25 + eps, eps, eps];
    expect(rankMe(spiky)).toBeCloseTo(Math.exp(-ps.reduce((s, p) => s + p * Math.log(p), 0)), 12);
    expect(rankMe(spiky, { eps: 0 })).toBeCloseTo(effectiveRank(spiky), 14);
  });

  it('stable rank Σσ²/σ₁² and participation ratio (Σλ)²/Σλ²', () => {
    expect(stableRank(spiky)).toBeCloseTo(10 / 9, 14);
    expect(participationRatio(spiky)).toBeCloseTo(100 / 82, 14);
    expect(stableRank(flat)).toBe(4);
    expect(participationRatio(flat)).toBe(4);
  });

  it('all are 0 for an all-zero spectrum', () => {
    const zero = fromSquared([0, 0, 0]);
    expect([effectiveRank(zero), rankMe(zero), stableRank(zero), participationRatio(zero), numericalRank(zero)]).toEqual([0, 0, 0, 0, 0]);
  });

  it("numerical rank: numpy's tolerance on an SVD spectrum; a √ε floor on a Gram spectrum", () => {
    const x = { data: rankK(60, 30, 7, 4), rows: 60, cols: 30 };
    expect(numericalRank(spectrum(x, { center: 'none', method: 'jacobi' }))).toBe(7);
    expect(numericalRank(spectrum(x, { center: 'none', method: 'gram' }))).toBe(7);
    // Known spectrum with one value just above numpy's tolerance (σ₁·max(n,d)·ε ≈ 1.3e-14) and one far below.
    const s = [1, 0.1, 1e-12, 1e-17];
    const y = { data: knownSpectrum(60, 20, s, 5), rows: 60, cols: 20 };
    expect(numericalRank(spectrum(y, { center: 'none', method: 'jacobi' }))).toBe(3);
    expect(numericalRank(spectrum(y, { center: 'none', method: 'jacobi' }), { tol: 1e-6 })).toBe(2);
  });
});
