import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { geluTanh, groupNorm, layerNorm, maxPool3x3Stride2Same, selfAttention, standardizeKernel } from './vision-layers.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++)
    expect(Math.abs(a[i]! - b[i]!), `index ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i]!)));
};

describe('vision layers (Flax conventions)', () => {
  it('LayerNorm over the last axis with ε 1e-6 and the biased variance', () => {
    const x = [1, 2, 4, -3, 0.5, 0.5];
    const scale = [2, -1, 0.5];
    const bias = [0.1, 0, -0.2];
    const out = layerNorm(tf.tensor2d(x, [2, 3]), tf.tensor1d(scale), tf.tensor1d(bias)).dataSync();
    const expected: number[] = [];
    for (let r = 0; r < 2; r++) {
      const row = x.slice(3 * r, 3 * r + 3);
      const mean = row.reduce((a, b) => a + b) / 3;
      const v = row.reduce((a, b) => a + (b - mean) ** 2, 0) / 3;
      row.forEach((val, c) => expected.push(((val - mean) / Math.sqrt(v + 1e-6)) * scale[c]! + bias[c]!));
    }
    close(out, expected);
  });

  it('GELU is the tanh approximation', () => {
    const xs = [-4, -1.5, -0.3, 0, 0.2, 1, 3.7];
    const g = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    close(geluTanh(tf.tensor1d(xs)).dataSync(), xs.map(g));
  });

  it('self-attention: queries scaled by 1/√headDim, softmax over keys, heads merged by the output kernel', () => {
    const [n, t, d, h] = [2, 3, 4, 2];
    const dh = d / h;
    const rnd = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
    const w = {
      queryKernel: rnd([d, h, dh], 1),
      keyKernel: rnd([d, h, dh], 2),
      valueKernel: rnd([d, h, dh], 3),
      queryBias: rnd([h, dh], 4),
      keyBias: rnd([h, dh], 5),
      valueBias: rnd([h, dh], 6),
      outKernel: rnd([h, dh, d], 7),
      outBias: rnd([d], 8) as tf.Tensor1D,
    };
    const x = rnd([n, t, d], 9) as tf.Tensor3D;
    const out = selfAttention(x, w).dataSync();
    // Float64 reference with explicit loops.
    const X = x.dataSync();
    const arr = (k: tf.Tensor) => Array.from(k.dataSync());
    const [Wq, Wk, Wv, Bq, Bk, Bv, Wo, Bo] = [
      w.queryKernel,
      w.keyKernel,
      w.valueKernel,
      w.queryBias,
      w.keyBias,
      w.valueBias,
      w.outKernel,
      w.outBias,
    ].map(arr) as number[][];
    const expected: number[] = [];
    for (let b = 0; b < n; b++) {
      const proj = (W: number[], B: number[]) =>
        Array.from({ length: t }, (_, i) =>
          Array.from({ length: h * dh }, (_, j) => {
            let s = B[j]!;
            for (let c = 0; c < d; c++) s += X[(b * t + i) * d + c]! * W[c * h * dh + j]!;
            return s;
          }),
        );
      const Q = proj(Wq!, Bq!);
      const K = proj(Wk!, Bk!);
      const V = proj(Wv!, Bv!);
      const merged = Array.from({ length: t }, () => new Array<number>(h * dh).fill(0));
      for (let head = 0; head < h; head++) {
        for (let i = 0; i < t; i++) {
          const logits = Array.from({ length: t }, (_, j) => {
            let s = 0;
            for (let e = 0; e < dh; e++) s += (Q[i]![head * dh + e]! / Math.sqrt(dh)) * K[j]![head * dh + e]!;
            return s;
          });
          const m = Math.max(...logits);
          const ex = logits.map((l) => Math.exp(l - m));
          const z = ex.reduce((a, c) => a + c);
          for (let e = 0; e < dh; e++) merged[i]![head * dh + e] = ex.reduce((a, c, j) => a + (c / z) * V[j]![head * dh + e]!, 0);
        }
      }
      for (let i = 0; i < t; i++) {
        for (let c = 0; c < d; c++) {
          let s = Bo![c]!;
          for (let j = 0; j < h * dh; j++) s += merged[i]![j]! * Wo![j * d + c]!;
          expected.push(s);
        }
      }
    }
    close(out, expected, 1e-4);
  });

  it('the 3×3/2 SAME max-pool equals tf.maxPool on even and odd sizes', () => {
    for (const [hh, ww] of [
      [8, 8],
      [7, 9],
      [5, 4],
      [2, 3],
    ] as const) {
      const x = tf.randomNormal([2, hh, ww, 3], 0, 1, 'float32', hh * 10 + ww) as tf.Tensor4D;
      const ours = maxPool3x3Stride2Same(x);
      const theirs = tf.maxPool(x, 3, 2, 'same');
      expect(ours.shape).toEqual(theirs.shape);
      expect(Array.from(ours.dataSync())).toEqual(Array.from(theirs.dataSync()));
    }
  });

  it('GroupNorm (32 groups) and weight standardisation match a hand computation', () => {
    const [n, hh, ww, c] = [2, 2, 3, 64];
    const x = tf.randomNormal([n, hh, ww, c], 1, 2, 'float32', 11) as tf.Tensor4D;
    const scale = tf.randomNormal([c], 1, 0.1, 'float32', 12) as tf.Tensor1D;
    const bias = tf.randomNormal([c], 0, 0.1, 'float32', 13) as tf.Tensor1D;
    const out = groupNorm(x, scale, bias).dataSync();
    const X = x.dataSync();
    const S = scale.dataSync();
    const B = bias.dataSync();
    const expected = new Float64Array(X.length);
    for (let b = 0; b < n; b++) {
      for (let g = 0; g < 32; g++) {
        const idx: number[] = [];
        for (let p = 0; p < hh * ww; p++) for (let k = 2 * g; k < 2 * g + 2; k++) idx.push((b * hh * ww + p) * c + k);
        const mean = idx.reduce((a, i) => a + X[i]!, 0) / idx.length;
        const v = idx.reduce((a, i) => a + (X[i]! - mean) ** 2, 0) / idx.length;
        for (const i of idx) expected[i] = ((X[i]! - mean) / Math.sqrt(v + 1e-6)) * S[i % c]! + B[i % c]!;
      }
    }
    close(out, expected, 1e-4);
    const k = tf.randomNormal([3, 3, 2, 4], 0.5, 2, 'float32', 14) as tf.Tensor4D;
    const ws = standardizeKernel(k).dataSync();
    const K = k.dataSync();
    const exp2 = new Float64Array(K.length);
    for (let o = 0; o < 4; o++) {
      const idx = Array.from({ length: 18 }, (_, i) => i * 4 + o);
      const mean = idx.reduce((a, i) => a + K[i]!, 0) / 18;
      const std = Math.sqrt(idx.reduce((a, i) => a + (K[i]! - mean) ** 2, 0) / 18);
      for (const i of idx) exp2[i] = (K[i]! - mean) / (std + 1e-5);
    }
    close(ws, exp2, 1e-5);
  });
});
