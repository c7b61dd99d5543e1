import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { registerDoubleBackpropGradients } from '@samrank/backend';
import { createRng } from '@samrank/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONTRASTIVE_TEMPERATURE, retrievalErrors, symmetricInfoNce } from './contrastive.js';
import { InputShapeError, ModelConfigError } from './errors.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The loss written out in float64 from its definition (docs/paper-notes.md §12.1). */
function infoNce64(img: number[][], txt: number[][], temperature: number): number {
  const n = img.length;
  const s = img.map((a) => txt.map((b) => a.reduce((acc, v, k) => acc + v * b[k]!, 0) / temperature));
  const lse = (v: number[]) => {
    const m = Math.max(...v);
    return m + Math.log(v.reduce((acc, x) => acc + Math.exp(x - m), 0));
  };
  let total = 0;
  for (let i = 0; i < n; i++) {
    const row = lse(s[i]!);
    const col = lse(s.map((r) => r[i]!));
    total += 0.5 * (-Math.log(1e-20 + Math.exp(s[i]![i]! - row)) - Math.log(1e-20 + Math.exp(s[i]![i]! - col)));
  }
  return total / n;
}

/** Seeded rows of unit length, as the towers' L2-normalised embeddings. */
function unitRows(n: number, d: number, seed: number): number[][] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => {
    const v = Array.from({ length: d }, () => rng.normal());
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

describe('symmetricInfoNce', () => {
  it('equals the float64 definition at the paper temperature and at others', () => {
    for (const [n, d, temperature, seed] of [
      [6, 5, CONTRASTIVE_TEMPERATURE, 1],
      [3, 8, 0.5, 2],
      [1, 4, CONTRASTIVE_TEMPERATURE, 3],
    ] as const) {
      const img = unitRows(n, d, seed);
      const txt = unitRows(n, d, seed + 10);
      const loss = symmetricInfoNce(tf.tensor2d(img), tf.tensor2d(txt), { temperature });
      const want = infoNce64(img, txt, temperature);
      expect(Math.abs(loss.dataSync()[0]! - want), `n ${n}, T ${temperature}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(want)));
    }
    // One pair: both softmaxes are 1, the loss is −log(1 + 1e-20) = 0 in float32.
    expect(symmetricInfoNce(tf.tensor2d([[0.6, 0.8]]), tf.tensor2d([[1, 0]])).dataSync()[0]).toBeCloseTo(0, 7);
  });

  it('a pair whose probability underflows costs −log(1e-20) per direction, not infinity', () => {
    // S = [[0, 1000], [1000, 0]]: exp(−1000) is 0 in float32 and in float64.
    const loss = symmetricInfoNce(
      tf.tensor2d([
        [1, 0],
        [0, 1],
      ]),
      tf.tensor2d([
        [0, 1],
        [1, 0],
      ]),
      { temperature: 0.001 },
    ).dataSync()[0]!;
    expect(loss).toBeCloseTo(20 * Math.LN10, 4);
    expect(
      infoNce64(
        [
          [1, 0],
          [0, 1],
        ],
        [
          [0, 1],
          [1, 0],
        ],
        0.001,
      ),
    ).toBeCloseTo(20 * Math.LN10, 10);
  });

  it('its gradient agrees with central differences of the float64 definition', () => {
    const n = 4;
    const d = 3;
    const temperature = 0.3;
    const img = unitRows(n, d, 5);
    const txt = unitRows(n, d, 6);
    const [gImg, gTxt] = tf.grads((a: tf.Tensor, b: tf.Tensor) => symmetricInfoNce(a as tf.Tensor2D, b as tf.Tensor2D, { temperature }))([
      tf.tensor2d(img),
      tf.tensor2d(txt),
    ]);
    const h = 1e-6;
    for (const [which, analytic] of [
      [img, gImg!.arraySync() as number[][]],
      [txt, gTxt!.arraySync() as number[][]],
    ] as const) {
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < d; k++) {
          const saved = which[i]![k]!;
          which[i]![k] = saved + h;
          const up = infoNce64(img, txt, temperature);
          which[i]![k] = saved - h;
          const down = infoNce64(img, txt, temperature);
          which[i]![k] = saved;
          const fd = (up - down) / (2 * h);
          expect(Math.abs(analytic[i]![k]! - fd), `entry ${i},${k}: ${analytic[i]![k]} vs ${fd}`).toBeLessThan(2e-4 + 1e-3 * Math.abs(fd));
        }
      }
    }
  });

  it('is differentiable twice: ∇‖∇L‖² along a direction agrees with a finite difference', () => {
    registerDoubleBackpropGradients();
    const img = tf.tensor2d(unitRows(5, 4, 7));
    const txt = tf.tensor2d(unitRows(5, 4, 8));
    const gradNormSq = (a: tf.Tensor, b: tf.Tensor) => {
      const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => symmetricInfoNce(x as tf.Tensor2D, y as tf.Tensor2D, { temperature: 0.2 }))(
        [a, b],
      );
      return tf.add(tf.sum(tf.square(ga!)), tf.sum(tf.square(gb!))) as tf.Scalar;
    };
    const [sa, sb] = tf.grads(gradNormSq)([img, txt]);
    const da = tf.randomNormal(img.shape, 0, 1, 'float32', 9);
    const db = tf.randomNormal(txt.shape, 0, 1, 'float32', 10);
    const analytic = tf.add(tf.sum(tf.mul(sa!, da)), tf.sum(tf.mul(sb!, db))).dataSync()[0]!;
    const at = (h: number) => gradNormSq(tf.add(img, tf.mul(da, h)), tf.add(txt, tf.mul(db, h))).dataSync()[0]!;
    const slope = (h: number) => (at(h) - at(-h)) / (2 * h);
    const fd = (4 * slope(5e-3) - slope(1e-2)) / 3;
    expect(Math.abs(analytic), 'a non-trivial second derivative').toBeGreaterThan(1e-2);
    expect(Math.abs(analytic - fd), `analytic ${analytic}, FD ${fd}`).toBeLessThan(0.02 * Math.abs(fd) + 1e-3);
  });

  it('leaves tf.memory().numTensors unchanged, and names bad inputs', () => {
    const img = tf.tensor2d(unitRows(4, 3, 11));
    const txt = tf.tensor2d(unitRows(4, 3, 12));
    const before = tf.memory().numTensors;
    for (let step = 0; step < 3; step++) {
      symmetricInfoNce(img, txt).dispose();
      retrievalErrors(img, txt);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => symmetricInfoNce(a as tf.Tensor2D, b as tf.Tensor2D))([img, txt]);
      tf.dispose(g);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(() => symmetricInfoNce(img, tf.tensor2d(unitRows(3, 3, 1)))).toThrow(InputShapeError);
    expect(() => symmetricInfoNce(img, tf.tensor2d(unitRows(4, 2, 1)))).toThrow(/\[4,3\] and \[4,2\]/);
    expect(() => symmetricInfoNce(img, txt, { temperature: 0 })).toThrow(ModelConfigError);
    expect(() => symmetricInfoNce(img, txt, { temperature: Number.NaN })).toThrow(/positive number/);
    expect(() => symmetricInfoNce(tf.zeros([0, 3]) as tf.Tensor2D, tf.zeros([0, 3]) as tf.Tensor2D)).toThrow(InputShapeError);
  });
});

describe('retrievalErrors', () => {
  /** Images as the identity, so the score matrix S = I · txtᵀ is the transpose of the texts: S is given directly. */
  const withScores = (s: number[][]) => retrievalErrors(tf.eye(s.length) as tf.Tensor2D, tf.transpose(tf.tensor2d(s)) as tf.Tensor2D);

  it('textwise looks along the rows of S (per image), imagewise along the columns (per text)', () => {
    // Rows: 0 → 0 right, 1 → 2 wrong, 2 → 2 right. Columns: 0 → 0, 1 → 1, 2 → 2, all right.
    expect(
      withScores([
        [0.9, 0.1, 0.0],
        [0.2, 0.5, 0.6],
        [0.1, 0.3, 0.8],
      ]),
    ).toEqual({ textwise: 100 / 3, imagewise: 0 });
    expect(
      withScores(
        [
          [0.9, 0.1, 0.0],
          [0.2, 0.5, 0.6],
          [0.1, 0.3, 0.8],
        ].map((_, i, all) => all.map((c) => c[i]!)),
      ),
    ).toEqual({ textwise: 0, imagewise: 100 / 3 });
  });

  it('ties go to the lowest index, as arg-max', () => {
    expect(
      withScores([
        [1, 1],
        [0, 0],
      ]),
    ).toEqual({ textwise: 50, imagewise: 50 });
    expect(retrievalErrors(tf.tensor2d(unitRows(8, 5, 3)), tf.tensor2d(unitRows(8, 5, 3)))).toEqual({ textwise: 0, imagewise: 0 });
  });
});
