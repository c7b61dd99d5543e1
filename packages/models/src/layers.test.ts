import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputShapeError } from './errors.js';
import { avgPool, batchNormEval, batchNormTrain, conv2d, dense } from './layers.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

/** PyTorch conv2d semantics by direct loops: zero padding of `pad` on every side, NHWC/HWIO. */
function referenceConv(x: number[][][][], k: number[][][][], stride: number, pad: number): number[][][][] {
  const n = x.length,
    h = x[0]!.length,
    w = x[0]![0]!.length,
    cin = x[0]![0]![0]!.length;
  const kh = k.length,
    kw = k[0]!.length,
    cout = k[0]![0]![0]!.length;
  const ho = Math.floor((h + 2 * pad - kh) / stride) + 1;
  const wo = Math.floor((w + 2 * pad - kw) / stride) + 1;
  const out: number[][][][] = [];
  for (let b = 0; b < n; b++) {
    const rows: number[][][] = [];
    for (let i = 0; i < ho; i++) {
      const cols: number[][] = [];
      for (let j = 0; j < wo; j++) {
        const px: number[] = [];
        for (let o = 0; o < cout; o++) {
          let s = 0;
          for (let di = 0; di < kh; di++)
            for (let dj = 0; dj < kw; dj++) {
              const y = i * stride + di - pad,
                xx = j * stride + dj - pad;
              if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
              for (let c = 0; c < cin; c++) s += x[b]![y]![xx]![c]! * k[di]![dj]![c]![o]!;
            }
          px.push(s);
        }
        cols.push(px);
      }
      rows.push(cols);
    }
    out.push(rows);
  }
  return out;
}

const seq = (shape: number[], scale: number, offset = 0) =>
  tf.tensor(
    Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * scale + offset)),
    shape,
  );

describe('conv2d (PyTorch padding)', () => {
  for (const [size, stride, k, pad] of [
    [6, 2, 3, 1],
    [7, 2, 3, 1],
    [6, 1, 3, 1],
    [6, 2, 1, 0],
    [5, 1, 5, 2],
  ] as const) {
    it(`matches direct loops: ${size}×${size}, ${k}×${k}, stride ${stride}, pad ${pad}`, () => {
      const x = seq([2, size, size, 3], 0.37) as tf.Tensor4D;
      const w = seq([k, k, 3, 4], 0.71, 1) as tf.Tensor4D;
      const got = conv2d(x, w, stride, pad);
      const want = referenceConv(x.arraySync(), w.arraySync(), stride, pad);
      expect(got.shape).toEqual([2, want[0]!.length, want[0]![0]!.length, 4]);
      const g = got.dataSync();
      want.flat(3).forEach((v, i) => expect(g[i]).toBeCloseTo(v, 4));
      tf.dispose([x, w, got]);
    });
  }

  it("differs from TF 'same' for stride 2 on even sizes (the porting pitfall it avoids)", () => {
    const x = seq([1, 6, 6, 1], 0.3) as tf.Tensor4D;
    const w = seq([3, 3, 1, 1], 0.5) as tf.Tensor4D;
    const ours = conv2d(x, w, 2, 1).dataSync();
    const same = tf.conv2d(x, w, 2, 'same').dataSync();
    expect(Math.max(...ours.map((v, i) => Math.abs(v - same[i]!)))).toBeGreaterThan(1e-3);
  });
});

describe('BatchNorm', () => {
  // x[n, 0, 0, c] for 2 channels and 4 examples: channel 0 = 1, 2, 3, 6; channel 1 = −1, 0, 0, 5.
  const values = [1, -1, 2, 0, 3, 0, 6, 5];
  const ch0 = [1, 2, 3, 6],
    ch1 = [-1, 0, 0, 5];
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const varB = (a: number[]) => mean(a.map((v) => (v - mean(a)) ** 2));

  for (const secondOrder of [false, true])
    it(`training mode (${secondOrder ? 'autodiff' : 'fused'}) normalises with the biased batch variance and updates running stats with the unbiased one`, () => {
      const x = tf.tensor4d(values, [4, 1, 1, 2]);
      const gamma = tf.tensor1d([2, 0.5]);
      const beta = tf.tensor1d([0.1, -1]);
      const running = { mean: tf.tensor1d([0.5, -0.5]), variance: tf.tensor1d([2, 3]) };
      const before = tf.memory().numTensors;
      const { y, stats } = batchNormTrain(x, gamma, beta, running, undefined, secondOrder);
      if (!secondOrder) expect(tf.memory().numTensors - before).toBe(3);
      const eps = 1e-5;
      const expectY: number[] = [];
      for (let n = 0; n < 4; n++) {
        expectY.push((2 * (ch0[n]! - mean(ch0))) / Math.sqrt(varB(ch0) + eps) + 0.1);
        expectY.push((0.5 * (ch1[n]! - mean(ch1))) / Math.sqrt(varB(ch1) + eps) - 1);
      }
      Array.from(y.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expectY[i]!, 5));
      // running ← 0.9·running + 0.1·batch, with the unbiased variance (n/(n−1) = 4/3).
      expect(Array.from(stats!.mean.dataSync())).toEqual([0.9 * 0.5 + 0.1 * 3, 0.9 * -0.5 + 0.1 * 1].map(Math.fround));
      const v = stats!.variance.dataSync();
      expect(v[0]).toBeCloseTo(0.9 * 2 + (0.1 * (varB(ch0) * 4)) / 3, 5);
      expect(v[1]).toBeCloseTo(0.9 * 3 + (0.1 * (varB(ch1) * 4)) / 3, 5);
      // Inputs untouched.
      expect(Array.from(running.mean.dataSync())).toEqual([0.5, -0.5]);
      tf.dispose([x, gamma, beta, running.mean, running.variance, y, stats!.mean, stats!.variance]);
    });

  it('training mode counts N·H·W values per channel for the unbiased correction', () => {
    const x = seq([2, 3, 2, 1], 0.9) as tf.Tensor4D;
    const all = Array.from(x.dataSync());
    const running = { mean: tf.zeros([1]) as tf.Tensor1D, variance: tf.ones([1]) as tf.Tensor1D };
    const { stats } = batchNormTrain(x, tf.ones([1]), tf.zeros([1]), running, { momentum: 1, eps: 1e-5 });
    expect(stats!.variance.dataSync()[0]).toBeCloseTo((varB(all) * 12) / 11, 5);
    expect(stats!.mean.dataSync()[0]).toBeCloseTo(mean(all), 6);
  });

  it('eval mode uses the running statistics', () => {
    const x = tf.tensor4d(values, [4, 1, 1, 2]);
    const running = { mean: tf.tensor1d([0.5, -0.5]), variance: tf.tensor1d([2, 3]) };
    const y = batchNormEval(x, tf.tensor1d([2, 0.5]), tf.tensor1d([0.1, -1]), running).dataSync();
    for (let n = 0; n < 4; n++) {
      expect(y[2 * n]).toBeCloseTo((2 * (ch0[n]! - 0.5)) / Math.sqrt(2 + 1e-5) + 0.1, 5);
      expect(y[2 * n + 1]).toBeCloseTo((0.5 * (ch1[n]! + 0.5)) / Math.sqrt(3 + 1e-5) - 1, 5);
    }
  });

  it('refuses a batch with one value per channel in training mode', () => {
    expect(() => batchNormTrain(tf.ones([1, 1, 1, 2]), tf.ones([2]), tf.zeros([2]), null)).toThrow(InputShapeError);
  });
});

describe('fused BatchNorm gradient', () => {
  for (const relu of [false, true])
    it(`equals the autodiff gradient for x, γ and β${relu ? ' (with ReLU)' : ''}`, () => {
      const x = tf.add(tf.mul(seq([3, 4, 5, 6], 0.77), 2), 0.5) as tf.Tensor4D;
      const dy = seq([3, 4, 5, 6], 1.3, 2);
      const gamma = tf.tensor1d([1.5, -0.5, 2, 0.3, 1, 0.8]);
      const beta = tf.tensor1d([0.1, 0.2, -0.3, 0, 1, -1]);
      const grads = (secondOrder: boolean) =>
        tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(batchNormTrain(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, null, undefined, secondOrder, relu).y, dy)),
        )([x, gamma, beta]);
      const fused = grads(false);
      const auto = grads(true);
      for (let i = 0; i < 3; i++) {
        const a = fused[i]!.dataSync(),
          b = auto[i]!.dataSync();
        expect(a.length).toBe(b.length);
        for (let j = 0; j < a.length; j++) expect(Math.abs(a[j]! - b[j]!)).toBeLessThan(1e-4 * (1 + Math.abs(b[j]!)));
      }
      // Outputs agree too.
      const yf = batchNormTrain(x, gamma, beta, null, undefined, false, relu).y.dataSync();
      const ya = batchNormTrain(x, gamma, beta, null, undefined, true, relu).y.dataSync();
      if (relu) expect(Math.min(...yf)).toBe(0);
      yf.forEach((v, i) => expect(v).toBeCloseTo(ya[i]!, 5));
    });

  for (const relu of [false, true])
    it(`eval mode: fused and autodiff agree in value and gradient${relu ? ' (with ReLU)' : ''}`, () => {
      const x = tf.add(tf.mul(seq([3, 4, 5, 6], 0.77), 2), 0.5) as tf.Tensor4D;
      const dy = seq([3, 4, 5, 6], 1.3, 2);
      const gamma = tf.tensor1d([1.5, -0.5, 2, 0.3, 1, 0.8]);
      const beta = tf.tensor1d([0.1, 0.2, -0.3, 0, 1, -1]);
      const running = { mean: tf.tensor1d([0.4, 0.5, 0.6, 0.2, 0.1, 0]), variance: tf.tensor1d([4, 3, 2, 1, 0.5, 5]) };
      const run = (secondOrder: boolean) =>
        tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(batchNormEval(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, running, undefined, secondOrder, relu), dy)),
        )([x, gamma, beta]);
      const fused = run(false),
        auto = run(true);
      for (let i = 0; i < 3; i++) {
        const a = fused[i]!.dataSync(),
          b = auto[i]!.dataSync();
        for (let j = 0; j < a.length; j++) expect(Math.abs(a[j]! - b[j]!)).toBeLessThan(1e-4 * (1 + Math.abs(b[j]!)));
      }
      const yf = batchNormEval(x, gamma, beta, running, undefined, false, relu).dataSync();
      const ya = batchNormEval(x, gamma, beta, running, undefined, true, relu).dataSync();
      yf.forEach((v, i) => expect(v).toBeCloseTo(ya[i]!, 5));
    });

  it('leaves no tensors behind in a gradient computation', () => {
    const x = seq([2, 3, 3, 4], 0.5) as tf.Tensor4D;
    const running = { mean: tf.zeros([4]) as tf.Tensor1D, variance: tf.ones([4]) as tf.Tensor1D };
    const before = tf.memory().numTensors;
    const g = tf.grad((a: tf.Tensor) => {
      const r = batchNormTrain(a as tf.Tensor4D, tf.ones([4]), tf.zeros([4]), running);
      tf.dispose([r.stats!.mean, r.stats!.variance]);
      return tf.sum(tf.square(r.y));
    })(x);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('avgPool and dense', () => {
  it('pools k×k windows with stride k like avg_pool2d', () => {
    const x = seq([1, 8, 8, 2], 0.13) as tf.Tensor4D;
    const a = x.arraySync()[0]!;
    const got = avgPool(x, 4);
    expect(got.shape).toEqual([1, 2, 2, 2]);
    const g = got.arraySync()[0]!;
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 2; j++)
        for (let c = 0; c < 2; c++) {
          let s = 0;
          for (let u = 0; u < 4; u++) for (let v = 0; v < 4; v++) s += a[4 * i + u]![4 * j + v]![c]!;
          expect(g[i]![j]![c]).toBeCloseTo(s / 16, 5);
        }
    expect(() => avgPool(tf.ones([1, 6, 6, 1]), 4)).toThrow(InputShapeError);
  });

  it('pools a 4×4 map globally', () => {
    const x = seq([3, 4, 4, 5], 0.2) as tf.Tensor4D;
    const got = avgPool(x, 4);
    expect(got.shape).toEqual([3, 1, 1, 5]);
    const want = tf.mean(x, [1, 2]).dataSync();
    Array.from(got.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
  });

  it('dense = x @ W + b', () => {
    const y = dense(
      tf.tensor2d([[1, 2]]),
      tf.tensor2d([
        [1, 0, 2],
        [0, 1, 3],
      ]),
      tf.tensor1d([0.5, 0, -1]),
    ).arraySync();
    expect(y).toEqual([[1.5, 2, 7]]);
  });
});
