import { describe, expect, it } from 'vitest';
import { InvalidScheduleError } from './errors.js';
import { constantSchedule, cosineSchedule, evaluateSchedule, piecewise05Epochs, windowSchedule } from './schedules.js';

describe('schedules', () => {
  it("piecewise05Epochs at: 'end' reads the fraction after the step, as the paper's classification code", () => {
    const s = piecewise05Epochs(100, { at: 'end' });
    // The drops come one step earlier: step 49 is the last full-rate step before, step 48 now.
    expect([s(48, 0.1), s(49, 0.1), s(88, 0.1), s(89, 0.1)]).toEqual([0.1, 0.1 / 10, 0.1 / 10, 0.1 / 100]);
    const start = piecewise05Epochs(100);
    expect([start(49, 0.1), start(50, 0.1)]).toEqual([0.1, 0.1 / 10]);
  });

  it('piecewise05Epochs: docs/paper-notes.md §15.1 target C10 exactly (t/E = 0.49, 0.5, 0.89, 0.9 → lr, lr/10, lr/10, lr/100)', () => {
    const s = piecewise05Epochs(100);
    const lr = 0.1;
    expect([49, 50, 89, 90].map((t) => s(t, lr))).toEqual([lr, lr / 10, lr / 10, lr / 100]);
    expect(s(50, lr)).toBe(0.01);
    expect(s(99, 0.05)).toBe(0.05 / 100);
  });

  it('cosine: base at 0, half at the middle, final fraction at the end and after', () => {
    const s = cosineSchedule(10);
    expect(s(0, 0.2)).toBe(0.2);
    expect(s(5, 0.2)).toBeCloseTo(0.1, 15);
    expect(s(10, 0.2)).toBeCloseTo(0, 15);
    expect(s(20, 0.2)).toBeCloseTo(0, 15);
    const f = cosineSchedule(10, { finalFraction: 0.1 });
    expect(f(10, 1)).toBeCloseTo(0.1, 15);
    expect(f(5, 1)).toBeCloseTo(0.55, 15);
  });

  it('window: the paper two-layer rule i <= 0.5·num_iter, and an exclusive end', () => {
    const numIter = 19953;
    const s = windowSchedule(numIter, { end: 0.5 });
    expect(s(9976, 0.4)).toBe(0.4);
    expect(s(9977, 0.4)).toBe(0);
    const ex = windowSchedule(60, { end: 0.5, includeEnd: false });
    expect(ex(29, 1)).toBe(1);
    expect(ex(30, 1)).toBe(0);
    const mid = windowSchedule(10, { start: 0.2, end: 0.6 });
    expect([1, 2, 6, 7].map((t) => mid(t, 3))).toEqual([0, 3, 3, 0]);
    expect(constantSchedule()(1234, 0.7)).toBe(0.7);
  });

  it('schedules compose through their base argument', () => {
    const win = windowSchedule(100, { end: 0.5 });
    const pw = piecewise05Epochs(100);
    const both = (t: number, b: number) => win(t, pw(t, b));
    expect([0, 50, 51].map((t) => both(t, 1))).toEqual([1, 0.1, 0]);
  });

  it('typed errors for bad parameters and bad values', () => {
    expect(() => piecewise05Epochs(0)).toThrow(InvalidScheduleError);
    expect(() => piecewise05Epochs(10, { at: 'middle' as never })).toThrow(InvalidScheduleError);
    expect(() => cosineSchedule(1.5)).toThrow(InvalidScheduleError);
    expect(() => cosineSchedule(10, { finalFraction: -1 })).toThrow(InvalidScheduleError);
    expect(() => windowSchedule(10, { start: 0.6, end: 0.5 })).toThrow(InvalidScheduleError);
    expect(() => evaluateSchedule(() => -1, 0, 1, 'rho')).toThrow(InvalidScheduleError);
    expect(() => evaluateSchedule(() => NaN, 0, 1, 'rho')).toThrow(/rho schedule returned NaN/);
  });
});
