import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFixture, worstViolation } from '../../../test-utils/fixtures.js';
import { EmptyMatrixError, NonFiniteValueError, ShapeMismatchError, TensorInputError } from './errors.js';
import { featureRank } from './rank.js';
import { rankFromSpectrum } from './rank-rule.js';
import { spectrum } from './spectrum.js';
import { gaussian } from '../test/test-matrices.js';
import { featureRankTf, gramTf, spectrumTf, TfRankAccumulator } from './tfjs.js';

interface RankCase {
  name: string;
  H: number[][];
  thresholds: number[];
  expected: { ranks: Record<string, number>; squared_singular_values: number[]; total_variance: number };
  alt_conventions: Record<'none' | 'rows', { ranks: Record<string, number> }>;
}
const fixture = loadFixture<{ cases: RankCase[] }>('feature_rank.json');

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

describe('@samrank/rank/tfjs', () => {
  it('a real tensor passed to the plain featureRank points to featureRankTf (and nothing leaks)', () => {
    const x = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 7],
    ]);
    expect(() => featureRank(x as never)).toThrow(TensorInputError);
    expect(() => featureRank(x as never)).toThrow(/TensorFlow.js tensor of shape \[2, 3\]: use featureRankTf/);
    expect(featureRankTf(x)).toBe(1);
    x.dispose();
  });

  for (const c of fixture.cases) {
    it(`${c.name}: ranks exactly and σ² within the file's float32 tolerance`, () => {
      const before = tf.memory().numTensors;
      const x = tf.tensor2d(c.H);
      for (const t of c.thresholds) {
        expect(featureRankTf(x, { threshold: t }), `${t}`).toBe(c.expected.ranks[String(t)]);
        expect(featureRankTf(x, { threshold: t, center: 'none' })).toBe(c.alt_conventions.none.ranks[String(t)]);
        expect(featureRankTf(x, { threshold: t, center: 'sample' })).toBe(c.alt_conventions.rows.ranks[String(t)]);
      }
      const spec = spectrumTf(x, { blockSize: 7 });
      const atol = Math.max(1e-5 * c.expected.total_variance, Number.MIN_VALUE);
      expect(worstViolation(spec.squared, c.expected.squared_singular_values, atol, 0)).toBeLessThanOrEqual(1);
      x.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('forms the smaller Gram and agrees with the core on both sides', () => {
    const tall = gaussian(120, 16, 1, (j) => 0.8 ** j);
    const wide = gaussian(16, 120, 2, (j) => 0.97 ** j);
    for (const [data, n, d, side] of [
      [tall, 120, 16, 'features'],
      [wide, 16, 120, 'examples'],
    ] as const) {
      const x = tf.tensor2d(Float32Array.from(data), [n, d]);
      expect(gramTf(x).side).toBe(side);
      const ours = spectrumTf(x, { blockSize: 50 });
      const core = spectrum({ data, rows: n, cols: d }, { method: 'jacobi' });
      expect(worstViolation(ours.squared, core.squared, 1e-5 * core.total, 0)).toBeLessThanOrEqual(1);
      x.dispose();
    }
  });

  it('TfRankAccumulator over tensor batches equals the one-shot spectrum, without leaking tensors', () => {
    const n = 300;
    const d = 24;
    const data = gaussian(n, d, 3, (j) => 0.85 ** j).map((v, i) => v + 100 * (i % d));
    for (const center of ['feature', 'sample', 'none'] as const) {
      const acc = new TfRankAccumulator(d, { center });
      const before = tf.memory().numTensors;
      for (let r = 0; r < n; r += 64) {
        const rows = Math.min(64, n - r);
        const batch = tf.tensor2d(Float32Array.from(data.subarray(r * d, (r + rows) * d)), [rows, d]);
        acc.add(batch);
        batch.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      expect(acc.rows).toBe(n);
      const core = spectrum({ data, rows: n, cols: d }, { center, method: 'jacobi' });
      const streamed = acc.spectrum();
      expect(worstViolation(streamed.squared, core.squared, 2e-5 * core.squared[0]!, 0)).toBeLessThanOrEqual(1);
      for (const p of [0.9, 0.99]) expect(acc.featureRank({ threshold: p })).toBe(rankFromSpectrum(core, { threshold: p }));
    }
  });

  it('typed errors: NaN with its row and column, wrong rank, empty, batch width', () => {
    const x = tf.tensor2d([
      [1, 2, 3],
      [4, Number.NaN, 6],
    ]);
    expect(() => featureRankTf(x)).toThrow(NonFiniteValueError);
    expect(() => featureRankTf(x)).toThrow(/row 1, column 1/);
    const acc = new TfRankAccumulator(3);
    const ok = tf.ones([5, 3]) as tf.Tensor2D;
    acc.add(ok);
    expect(() => acc.add(x)).toThrow(/row 6, column 1/);
    expect(() => acc.add(tf.ones([2, 4]) as tf.Tensor2D)).toThrow(ShapeMismatchError);
    expect(() => featureRankTf(tf.ones([2, 2, 2]) as unknown as tf.Tensor2D)).toThrow(ShapeMismatchError);
    expect(() => featureRankTf(tf.zeros([0, 3]) as tf.Tensor2D)).toThrow(EmptyMatrixError);
    tf.disposeVariables();
  });
});

describe('@samrank/rank/tfjs on the wasm backend', () => {
  it('gives the fixture ranks with the Gram formed by XNNPACK (matMul(transpose(X), X))', async () => {
    await tf.setBackend('wasm');
    try {
      expect(tf.getBackend()).toBe('wasm');
      for (const c of fixture.cases.slice(0, 4)) {
        const x = tf.tensor2d(c.H);
        for (const t of c.thresholds) expect(featureRankTf(x, { threshold: t }), `${c.name} ${t}`).toBe(c.expected.ranks[String(t)]);
        x.dispose();
      }
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
