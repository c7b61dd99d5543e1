import { describe, expect, it } from 'vitest';
import { InvalidOptionError, ShapeMismatchError } from './errors.js';
import { knnError, knnPredict } from './knn.js';
import { createRng } from '../test/test-matrices.js';

describe('knnPredict / knnError (cosine, majority vote, ties → smallest label)', () => {
  it('uses cosine similarity: the norm of a row does not matter', () => {
    const train = [
      [1, 0],
      [0, 1],
    ];
    const test = [
      [100, 1],
      [0.001, 0.002],
    ];
    expect(Array.from(knnPredict(train, [3, 7], test, { k: 1 }))).toEqual([3, 7]);
  });

  it('breaks vote ties towards the smallest label', () => {
    // Four training rows, k = 4: labels 5, 2, 5, 2 all equally similar → tie between 2 and 5 → 2.
    const train = [
      [1, 0],
      [1, 0],
      [1, 0],
      [1, 0],
    ];
    expect(Array.from(knnPredict(train, [5, 2, 5, 2], [[1, 0]], { k: 4 }))).toEqual([2]);
    expect(Array.from(knnPredict(train, [5, 2, 5, 9], [[1, 0]], { k: 4 }))).toEqual([5]);
  });

  it('keeps zero rows at zero (similarity 0 to everything), and equal distances keep the lower training index', () => {
    const train = [
      [0, 0],
      [1, 0],
      [-1, 0],
    ];
    // Test row along +x: neighbours by distance: [1] (0), [0] (1, zero row), [2] (2).
    expect(Array.from(knnPredict(train, [4, 8, 9], [[2, 0]], { k: 2 }))).toEqual([4]); // votes 8, 4 → tie → 4
    // A zero test row is equidistant (1) from all: the first k training rows by index vote.
    expect(Array.from(knnPredict(train, [4, 8, 9], [[0, 0]], { k: 1 }))).toEqual([4]);
  });

  it('default k = 10 on separable clusters, error counts mismatches, and batching does not change it', () => {
    const rng = createRng(12);
    const d = 20;
    const centers = Array.from({ length: 4 }, () => Array.from({ length: d }, () => rng.normal()));
    const draw = (count: number) => {
      const rows: number[][] = [];
      const labels: number[] = [];
      for (let i = 0; i < count; i++) {
        const c = i % 4;
        rows.push(centers[c]!.map((v) => v + 0.1 * rng.normal()));
        labels.push(c);
      }
      return { rows, labels };
    };
    const train = draw(200);
    const test = draw(57);
    expect(knnError(train.rows, train.labels, test.rows, test.labels)).toBe(0);
    const wrong = test.labels.map((l, i) => (i < 5 ? (l + 1) % 4 : l));
    expect(knnError(train.rows, train.labels, test.rows, wrong)).toBeCloseTo(5 / 57, 15);
    const a = knnPredict(train.rows, train.labels, test.rows, { testBatch: 7 });
    const b = knnPredict(train.rows, train.labels, test.rows, { testBatch: 1000 });
    expect(a).toEqual(b);
  });

  it('rejects mismatched shapes, labels and k', () => {
    expect(() => knnPredict([[1, 2]], [0], [[1, 2, 3]])).toThrow(ShapeMismatchError);
    expect(() => knnPredict([[1, 2]], [0, 1], [[1, 2]])).toThrow(ShapeMismatchError);
    expect(() => knnPredict([[1, 2]], [0.5], [[1, 2]], { k: 1 })).toThrow(InvalidOptionError);
    expect(() => knnPredict([[1, 2]], [0], [[1, 2]], { k: 2 })).toThrow(InvalidOptionError);
    expect(() => knnError([[1, 2]], [0], [[1, 2]], [0, 1], { k: 1 })).toThrow(ShapeMismatchError);
  });
});
