import { describe, expect, it } from 'vitest';
import { validationSplit } from './split.js';

describe('validationSplit', () => {
  it('holds out 0.1 %: 50 of 50,000 (49,950 left), 100 of 100,000, 60 of 60,000', () => {
    const s = validationSplit(50_000, 0.001, 0);
    expect(s.validation.length).toBe(50);
    expect(s.train.length).toBe(49_950);
    expect(validationSplit(100_000, 0.001, 0).train.length).toBe(99_900);
    expect(validationSplit(60_000, 0.001, 0).validation.length).toBe(60);
  });

  it('partitions 0..n−1, keeps training order, is seeded', () => {
    const s = validationSplit(1000, 0.01, 5);
    const all = [...s.train, ...s.validation].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    for (let i = 1; i < s.train.length; i++) expect(s.train[i]!).toBeGreaterThan(s.train[i - 1]!);
    expect(validationSplit(1000, 0.01, 5).validation).toEqual(s.validation);
    expect(validationSplit(1000, 0.01, 6).validation).not.toEqual(s.validation);
  });

  it('rejects bad arguments', () => {
    expect(() => validationSplit(0, 0.1, 0)).toThrow(/positive count/);
    expect(() => validationSplit(10, 1, 0)).toThrow(/\[0, 1\)/);
  });
});
