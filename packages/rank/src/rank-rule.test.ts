import { describe, expect, it } from 'vitest';
import { InvalidOptionError, ThresholdRangeError } from './errors.js';
import { rankFromSpectrum } from './rank-rule.js';

describe('rankFromSpectrum rules', () => {
  // docs/paper-notes.md §2.1 and target C1 of §15.1: σ² = (50, 30, 15, 4, 1).
  const squared = [50, 30, 15, 4, 1];
  it("'original' (count(Cₖ/C ≤ p) + 1) reproduces the C1 cases", () => {
    expect(rankFromSpectrum(squared, { threshold: 0.9, rule: 'original' })).toBe(3);
    expect(rankFromSpectrum(squared, { threshold: 0.95, rule: 'original' })).toBe(4);
    expect(rankFromSpectrum(squared, { threshold: 0.99, rule: 'original' })).toBe(5);
  });
  it("'atLeast' (default) counts an exact tie as reached on the same cases", () => {
    expect(rankFromSpectrum(squared, { threshold: 0.9 })).toBe(3);
    expect(rankFromSpectrum(squared, { threshold: 0.95 })).toBe(3);
    expect(rankFromSpectrum(squared, { threshold: 0.99 })).toBe(4);
    expect(rankFromSpectrum(squared, { threshold: 1 })).toBe(5);
  });
  it('the rules agree away from ties', () => {
    for (const p of [0.45, 0.85, 0.96, 0.999]) {
      expect(rankFromSpectrum(squared, { threshold: p, rule: 'original' })).toBe(rankFromSpectrum(squared, { threshold: p }));
    }
  });
  it('returns 0 for an all-zero spectrum under both rules (the original code would give len + 1)', () => {
    expect(rankFromSpectrum([0, 0, 0], { rule: 'original' })).toBe(0);
    expect(rankFromSpectrum([0, 0, 0])).toBe(0);
  });
  it("'original' is capped at the number of values at p = 1", () => {
    expect(rankFromSpectrum(squared, { threshold: 1, rule: 'original' })).toBe(5);
  });
  it('defaults to p = 0.99', () => {
    expect(rankFromSpectrum([90, 9, 0.5, 0.5])).toBe(2);
  });
  it('rejects thresholds outside (0, 1] and unknown rules', () => {
    for (const t of [0, -0.1, 1.0001, Number.NaN]) {
      expect(() => rankFromSpectrum(squared, { threshold: t })).toThrow(ThresholdRangeError);
    }
    expect(() => rankFromSpectrum(squared, { rule: 'strict' as never })).toThrow(InvalidOptionError);
  });
});
