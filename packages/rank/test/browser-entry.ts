/**
 * What a browser app would write: SAM from @samrank/optim and the feature rank from @samrank/rank on the cpu
 * backend. test/browser-bundle.test.ts bundles this file with esbuild for the browser and runs the bundle without
 * Node's globals; `run` returns plain numbers so the test can compare them with the same code run in Node.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the gradients SAM needs
import { SAM } from '@samrank/optim';
import { featureRank, spectrum } from '@samrank/rank';

/** Deterministic pseudo-random floats (no Math.random: both runs must see the same data). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

export async function run(): Promise<{ rankGram: number; rankJacobi: number; top: number[]; weights: number[]; loss: number }> {
  await tf.setBackend('cpu');
  // 600 × 300 of rank ≤ 40 plus noise: large enough for the Gram route (wasm kernels + tridiagonalization).
  const n = 600;
  const d = 300;
  const k = 40;
  const a = values(n * k, 1);
  const b = values(k * d, 2);
  const noise = values(n * d, 3);
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      let v = 1e-3 * noise[i * d + j]!;
      for (let t = 0; t < k; t++) v += a[i * k + t]! * b[t * d + j]!;
      data[i * d + j] = v;
    }
  const matrix = { data, rows: n, cols: d };
  const rankGram = featureRank(matrix, { method: 'gram' });
  const rankJacobi = featureRank({ data: data.subarray(0, 60 * d), rows: 60, cols: d }, { method: 'jacobi' });
  const top = Array.from(spectrum(matrix, { method: 'gram' }).squared.subarray(0, 3));

  const W = tf.variable(tf.tensor2d(values(8 * 4, 4), [8, 4]));
  const x = tf.tensor2d(values(16 * 4, 5), [16, 4]);
  const y = tf.tensor1d(values(16, 6));
  const sam = new SAM(tf.train.sgd(0.1), { rho: 0.05 });
  const lossT = sam.minimize(() => tf.mean(tf.square(tf.sub(tf.sum(tf.relu(tf.matMul(x, W, false, true)), 1), y))), true, [W]);
  const loss = lossT!.dataSync()[0]!;
  const weights = Array.from(W.dataSync());
  tf.dispose([lossT!, W, x, y]);
  sam.dispose();
  return { rankGram, rankJacobi, top, weights, loss };
}
