import { describe, expect, it } from 'vitest';
import {
  DataLengthError,
  EmptyMatrixError,
  NonFiniteValueError,
  NotAMatrixError,
  RaggedRowsError,
  RankInputError,
  TensorInputError,
  ThresholdRangeError,
} from './errors.js';
import { featureRank } from './rank.js';
import { RankAccumulator } from './accumulator.js';
import { toDense } from './matrix.js';
import { spectrum } from './spectrum.js';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('toDense and the typed input errors', () => {
  it('copies nested arrays into a Float64Array and passes typed data through', () => {
    const d = toDense([
      [1, 2],
      [3, 4],
    ]);
    expect(d).toEqual({ data: Float64Array.of(1, 2, 3, 4), rows: 2, cols: 2 });
    const data = new Float32Array(6);
    expect(toDense({ data, rows: 2, cols: 3 }).data).toBe(data);
  });

  it('NaN / Inf name the row and the column (nested arrays, Float64Array, and the Float32 SIMD route)', () => {
    const nested = thrown(() =>
      featureRank([
        [1, 2],
        [3, Number.NaN],
        [5, 6],
      ]),
    );
    expect(nested).toBeInstanceOf(NonFiniteValueError);
    expect(nested).toMatchObject({ row: 1, column: 1 });
    expect(nested.message).toMatch(/row 1, column 1/);

    const f64 = new Float64Array(40 * 3).fill(1);
    f64[17 * 3 + 2] = Number.POSITIVE_INFINITY;
    expect(thrown(() => spectrum({ data: f64, rows: 40, cols: 3 }))).toMatchObject({ row: 17, column: 2, name: 'NonFiniteValueError' });

    // Big enough for the Gram route, where float32 input is checked by the wasm packer instead of a scan.
    const n = 3000;
    const d = 40;
    const f32 = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i));
    f32[2345 * d + 31] = Number.NaN;
    const err = thrown(() => spectrum({ data: f32, rows: n, cols: d }));
    expect(err).toBeInstanceOf(NonFiniteValueError);
    expect(err).toMatchObject({ row: 2345, column: 31 });
    // Streaming: the row number counts from the first batch.
    const acc = new RankAccumulator(d, { gram: 'features' });
    acc.add({ data: new Float32Array(10 * d).fill(1), rows: 10, cols: d });
    const bad = new Float32Array(10 * d).fill(1);
    bad[4 * d + 7] = Number.NEGATIVE_INFINITY;
    expect(thrown(() => acc.add({ data: bad, rows: 10, cols: d }))).toMatchObject({ row: 14, column: 7 });
  });

  it('ragged rows', () => {
    const err = thrown(() =>
      featureRank([
        [1, 2, 3],
        [4, 5],
        [6, 7, 8],
      ]),
    );
    expect(err).toBeInstanceOf(RaggedRowsError);
    expect(err.message).toMatch(/row 1 has 2 columns, expected 3/);
  });

  it('zero rows or zero columns', () => {
    expect(() => featureRank([])).toThrow(EmptyMatrixError);
    expect(() => featureRank([[], []])).toThrow(EmptyMatrixError);
    expect(() => featureRank({ data: new Float32Array(0), rows: 0, cols: 5 })).toThrow(EmptyMatrixError);
    expect(() => featureRank({ data: new Float32Array(0), rows: 4, cols: 0 })).toThrow(/empty: 4 rows × 0 columns/);
  });

  it('data length ≠ rows·cols (and non-integer shapes)', () => {
    const err = thrown(() => featureRank({ data: new Float32Array(11), rows: 3, cols: 4 }));
    expect(err).toBeInstanceOf(DataLengthError);
    expect(err.message).toMatch(/length 11, but rows·cols = 3·4 = 12/);
    expect(() => featureRank({ data: new Float32Array(6), rows: 2.5, cols: 2.4 })).toThrow(DataLengthError);
  });

  it('negative and non-integer dimensions are named as such, not as a length mismatch', () => {
    const neg = thrown(() => featureRank({ data: new Float32Array(6), rows: -2, cols: 3 }));
    expect(neg).toBeInstanceOf(DataLengthError);
    expect(neg.message).toBe('matrix has rows = -2: negative (rows and cols must be non-negative integers; data length is 6)');
    const frac = thrown(() => featureRank({ data: new Float32Array(6), rows: 2.5, cols: 2.4 }));
    expect(frac.message).toMatch(/rows = 2.5 and cols = 2.4: not a whole number \(rows and cols must be non-negative integers/);
    const both = thrown(() => spectrum({ data: new Float64Array(4), rows: -1, cols: 1.5 }));
    expect(both.message).toMatch(/rows = -1 and cols = 1.5: negative and not a whole number/);
    expect(thrown(() => featureRank({ data: new Float32Array(6), rows: Number.NaN, cols: 3 })).message).toMatch(
      /rows = NaN: not a whole number/,
    );
  });

  it('null, scalars, strings, bare typed arrays and row-less objects: NotAMatrixError naming what was passed', () => {
    const cases: [unknown, RegExp][] = [
      [null, /^matrix must be a matrix, got null: pass number\[\]\[\]/],
      [undefined, /got undefined/],
      [42, /got 42/],
      ['abc', /got the string "abc"/],
      [new Float32Array(6), /got a Float32Array of length 6 without rows and cols: pass \{ data, rows, cols \}/],
      [{ data: new Float32Array(6), rows: 2 }, /got an object without cols/],
      [{ data: 'xyz', rows: 1, cols: 3 }, /whose data is the string "xyz"/],
      [[1, 2, 3], /an array whose row 0 is 1/],
      [new Map(), /got a Map object without data, rows, cols/],
    ];
    for (const [input, message] of cases) {
      const err = thrown(() => featureRank(input as never));
      expect(err).toBeInstanceOf(NotAMatrixError);
      expect(err).toBeInstanceOf(RankInputError);
      expect(err.name).toBe('NotAMatrixError');
      expect(err.message).toMatch(message);
    }
    expect(thrown(() => new RankAccumulator(3).add(null as never))).toBeInstanceOf(NotAMatrixError);
  });

  it('an object shaped like a tfjs tensor points to featureRankTf', () => {
    const fake = { shape: [4, 3], dtype: 'float32', dataSync: () => new Float32Array(12) };
    const err = thrown(() => featureRank(fake as never));
    expect(err).toBeInstanceOf(TensorInputError);
    expect(err).toBeInstanceOf(NotAMatrixError);
    expect(err.message).toMatch(/got a TensorFlow.js tensor of shape \[4, 3\]: use featureRankTf .* from '@samrank\/rank\/tfjs'/);
    expect((err as TensorInputError).shape).toEqual([4, 3]);
  });

  it('threshold outside (0, 1]', () => {
    for (const t of [0, 1.5, -1]) expect(() => featureRank([[1], [2]], { threshold: t })).toThrow(ThresholdRangeError);
  });

  it('every input error is a RankInputError with its own name', () => {
    const errs = [
      thrown(() => featureRank([[1, Number.NaN]])),
      thrown(() => featureRank([[1, 2], [3]])),
      thrown(() => featureRank([])),
      thrown(() => featureRank({ data: new Float64Array(3), rows: 2, cols: 2 })),
      thrown(() => featureRank([[1]], { threshold: 2 })),
    ];
    expect(errs.every((e) => e instanceof RankInputError)).toBe(true);
    expect(errs.map((e) => e.name)).toEqual([
      'NonFiniteValueError',
      'RaggedRowsError',
      'EmptyMatrixError',
      'DataLengthError',
      'ThresholdRangeError',
    ]);
  });
});
