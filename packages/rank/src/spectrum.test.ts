import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from './errors.js';
import { spectrum } from './spectrum.js';
import { gaussian } from '../test/test-matrices.js';

describe('spectrum method selection', () => {
  it("'auto' uses the Jacobi SVD for small matrices and the smaller Gram otherwise", () => {
    expect(spectrum({ data: gaussian(50, 10, 1), rows: 50, cols: 10 }).method).toBe('jacobi');
    expect(spectrum({ data: gaussian(600, 120, 2), rows: 600, cols: 120 }).method).toBe('gram-features');
    expect(spectrum({ data: gaussian(120, 600, 3), rows: 120, cols: 600 }).method).toBe('gram-examples');
    expect(spectrum({ data: gaussian(600, 120, 2), rows: 600, cols: 120 }, { method: 'jacobi' }).method).toBe('jacobi');
    expect(spectrum({ data: gaussian(50, 10, 1), rows: 50, cols: 10 }, { gram: 'examples', method: 'gram' }).method).toBe('gram-examples');
  });
  it('returns min(n, d) values whichever side is used', () => {
    expect(spectrum({ data: gaussian(120, 600, 3), rows: 120, cols: 600 }).squared.length).toBe(120);
    expect(spectrum({ data: gaussian(50, 10, 1), rows: 50, cols: 10 }, { gram: 'examples', method: 'gram' }).squared.length).toBe(10);
  });
  it('rejects unknown methods and centerings', () => {
    expect(() => spectrum([[1, 2]], { method: 'svd' as never })).toThrow(InvalidOptionError);
    expect(() => spectrum([[1, 2]], { center: 'column' as never })).toThrow(InvalidOptionError);
  });
});
