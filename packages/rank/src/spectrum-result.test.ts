import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from './errors.js';
import { buildSpectrum, checkCentering, singularValues } from './spectrum-result.js';

describe('buildSpectrum', () => {
  const meta = { rows: 10, cols: 4, center: 'feature' as const, method: 'gram-features' as const };
  it('sorts descending, clamps round-off negatives, keeps min(n, d) values and adds cumulative ratios', () => {
    const s = buildSpectrum(Float64Array.of(1, -1e-14, 3, 0, 4), 4, meta);
    expect(Array.from(s.squared)).toEqual([4, 3, 1, 0]);
    expect(s.total).toBe(8);
    expect(Array.from(s.cumulative!)).toEqual([0.5, 0.875, 1, 1]);
    expect(Array.from(singularValues(s))).toEqual([2, Math.sqrt(3), 1, 0]);
  });
  it('has null cumulative ratios when the total is 0', () => {
    expect(buildSpectrum(new Float64Array(3), 3, meta).cumulative).toBeNull();
  });
  it('checkCentering accepts the three centerings only', () => {
    for (const c of ['feature', 'sample', 'none']) expect(checkCentering(c)).toBe(c);
    expect(() => checkCentering('row')).toThrow(InvalidOptionError);
  });
});
