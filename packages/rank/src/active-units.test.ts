import { describe, expect, it } from 'vitest';
import { loadFixture } from '../../../test-utils/fixtures.js';
import { ACTIVE_UNIT_PRESETS, activeUnitStats, activeUnits } from './active-units.js';
import { InvalidOptionError, NonFiniteValueError } from './errors.js';

interface ActiveCase {
  name: string;
  H: number[][];
  expected: { active_relus_threshold_0: number; active_relus_rel_threshold_0_05: number; column_max: number[] };
}
const fixture = loadFixture<{ cases: ActiveCase[] }>('active_relus.json');

describe('activeUnits on active_relus.json', () => {
  it('has cases', () => expect(fixture.cases.length).toBeGreaterThanOrEqual(3));
  for (const c of fixture.cases) {
    it(`${c.name}: > 0 on one example, and > 0.05·max(H)`, () => {
      expect(activeUnits(c.H)).toBe(c.expected.active_relus_threshold_0);
      expect(activeUnits(c.H, ACTIVE_UNIT_PRESETS.relu)).toBe(c.expected.active_relus_threshold_0);
      expect(activeUnits(c.H, { relativeToMax: 0.05 })).toBe(c.expected.active_relus_rel_threshold_0_05);
      expect(activeUnits(c.H, ACTIVE_UNIT_PRESETS.postActResNet)).toBe(c.expected.active_relus_rel_threshold_0_05);
      const data = Float32Array.from(c.H.flat());
      // float32 input: the 1e-20 entry survives rounding, so the counts do not change.
      expect(activeUnits({ data, rows: c.H.length, cols: c.H[0]!.length })).toBe(c.expected.active_relus_threshold_0);
    });
  }
});

describe('activeUnits definitions', () => {
  // 4 examples × 5 units.
  const H = [
    [0.0, -0.2, 0.04, 1.0, 0.0],
    [0.0, 0.06, -0.05, 0.0, 0.11],
    [0.0, -0.01, 0.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 0.0, 0.2],
  ];
  it('ReLU: strictly > 0 on at least one example', () => {
    expect(activeUnitStats(H).mask).toEqual(Uint8Array.of(0, 1, 1, 1, 1));
  });
  it('tanh / abs: |a| ≥ 0.05 (inclusive) on at least one example', () => {
    const s = activeUnitStats(H, ACTIVE_UNIT_PRESETS.tanhAbs);
    expect(s.mask).toEqual(Uint8Array.of(0, 1, 1, 1, 1));
    expect(activeUnits(H, { threshold: 0.05, metric: 'abs' })).toBe(3); // strict: −0.05 no longer counts
    expect(activeUnits(H, { threshold: 0.2, metric: 'abs', inclusive: true })).toBe(3);
  });
  it('post-activation ResNet: > max/20 of the whole matrix', () => {
    const s = activeUnitStats(H, ACTIVE_UNIT_PRESETS.postActResNet);
    expect(s.threshold).toBeCloseTo(0.05, 15);
    expect(s.mask).toEqual(Uint8Array.of(0, 1, 0, 1, 1));
  });
  it('GeLU: > max/10 on more than 1 % of the inputs', () => {
    // 200 examples: a unit needs ≥ 3 passing examples (> 2 = 1 %).
    const rows = 200;
    const data = new Float64Array(rows * 3);
    data[0] = 10; // the global max, unit 0 passes once
    for (let r = 0; r < 2; r++) data[r * 3 + 1] = 1.5; // unit 1 passes on exactly 2 = 1 %: not more
    for (let r = 0; r < 3; r++) data[r * 3 + 2] = 1.01; // unit 2 passes on 3
    const s = activeUnitStats({ data, rows, cols: 3 }, ACTIVE_UNIT_PRESETS.gelu);
    expect(s.threshold).toBe(1);
    expect(Array.from(s.passCounts)).toEqual([1, 2, 3]);
    expect(s.mask).toEqual(Uint8Array.of(0, 0, 1));
    expect(s.fraction).toBeCloseTo(1 / 3, 15);
    expect(activeUnits({ data, rows, cols: 3 }, { relativeToMax: 0.1 })).toBe(3);
  });
  it('rejects bad options and non-finite input', () => {
    expect(() => activeUnits(H, { minFraction: 1 })).toThrow(InvalidOptionError);
    expect(() => activeUnits(H, { metric: 'square' as never })).toThrow(InvalidOptionError);
    expect(() => activeUnits(H, { relativeToMax: -1 })).toThrow(InvalidOptionError);
    expect(() => activeUnits([[0, Number.NaN]])).toThrow(NonFiniteValueError);
  });
});
