import { describe, expect, it } from 'vitest';
import { ModelConfigError } from './errors.js';
import { checkCounts } from './options.js';

describe('checkCounts', () => {
  it('accepts whole numbers ≥ 1 (≥ 0 where allowed) and names the first bad option', () => {
    expect(() => checkCounts('Net', { depth: 3, classes: 0 }, ['classes'])).not.toThrow();
    expect(() => checkCounts('Net', { depth: 0 })).toThrow(ModelConfigError);
    expect(() => checkCounts('Net', { depth: 2, width: 1.5 })).toThrow('Net width must be a positive integer, got 1.5');
    expect(() => checkCounts('Net', { classes: -1 }, ['classes'])).toThrow('Net classes must be an integer ≥ 0, got -1');
    expect(() => checkCounts('Net', { depth: '3' })).toThrow('Net depth must be a positive integer, got 3');
  });
});
