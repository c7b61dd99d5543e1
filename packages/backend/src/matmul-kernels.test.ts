import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelArgumentError } from './errors.js';
import { registerTrainingKernels } from './register-kernels.js';
import { normal, relativeError, valuesOn } from '../test/backend-support.js';

/** Shapes as written before transposition: a [..., m, k], b [..., k, n]. */
const batchCases: { name: string; a: number[]; b: number[] }[] = [
  { name: 'plain', a: [13, 7], b: [7, 5] },
  { name: 'rank-3 batch 1', a: [1, 9, 6], b: [1, 6, 4] },
  { name: 'batched', a: [3, 9, 6], b: [3, 6, 4] },
  { name: 'left batch, right matrix', a: [4, 9, 6], b: [6, 5] },
  { name: 'left matrix, right batch', a: [9, 6], b: [3, 6, 5] },
  { name: 'broadcast [2,1] × [3]', a: [2, 1, 5, 7], b: [3, 7, 4] },
  { name: 'broadcast [1,3] × [2,1]', a: [1, 3, 4, 6], b: [2, 1, 6, 3] },
];

function transposeLast(shape: number[], t: boolean): number[] {
  if (!t) return shape;
  const s = [...shape];
  [s[s.length - 2], s[s.length - 1]] = [s[s.length - 1]!, s[s.length - 2]!];
  return s;
}

/**
 * Reference: the cpu backend on explicitly broadcast (tiled) un-transposed operands. The cpu kernel itself is
 * wrong when both operands broadcast (it returns too few values), so the reference never asks it to broadcast.
 */
function reference(aShape: number[], bShape: number[], tA: boolean, tB: boolean): tf.Tensor {
  let a = normal(transposeLast(aShape, tA), 1);
  let b = normal(transposeLast(bShape, tB), 2);
  if (tA) a = tf.transpose(a, [...Array(a.rank - 2).keys(), a.rank - 1, a.rank - 2]);
  if (tB) b = tf.transpose(b, [...Array(b.rank - 2).keys(), b.rank - 1, b.rank - 2]);
  const rank = Math.max(a.rank, b.rank);
  const full = (t: tf.Tensor) => tf.reshape(t, [...Array(rank - t.rank).fill(1), ...t.shape]);
  a = full(a);
  b = full(b);
  const outer = a.shape.slice(0, -2).map((d, i) => Math.max(d, b.shape[i]!));
  a = tf.tile(a, [...outer.map((d, i) => d / a.shape[i]!), 1, 1]);
  b = tf.tile(b, [...outer.map((d, i) => d / b.shape[i]!), 1, 1]);
  const m = a.shape[rank - 2]!;
  const n = b.shape[rank - 1]!;
  const batch = outer.reduce((x, y) => x * y, 1);
  const a3 = tf.reshape(a, [batch, m, a.shape[rank - 1]!]);
  const b3 = tf.reshape(b, [batch, b.shape[rank - 2]!, n]);
  const parts = Array.from({ length: batch }, (_, i) =>
    tf.matMul(tf.reshape(tf.slice(a3, [i, 0, 0], [1, -1, -1]), [m, -1]), tf.reshape(tf.slice(b3, [i, 0, 0], [1, -1, -1]), [-1, n])),
  );
  return tf.reshape(tf.stack(parts), [...outer, m, n]);
}

describe('wasm BatchMatMul / _FusedMatMul replacements', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    registerTrainingKernels('wasm');
    await tf.setBackend('wasm');
  });

  for (const c of batchCases) {
    for (const [tA, tB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      it(`${c.name} transposeA=${tA} transposeB=${tB} equals the cpu result`, async () => {
        const expected = await valuesOn('cpu', () => reference(c.a, c.b, tA, tB));
        const got = await valuesOn('wasm', () => {
          const out = tf.matMul(normal(transposeLast(c.a, tA), 1), normal(transposeLast(c.b, tB), 2), tA, tB);
          return out;
        });
        expect(relativeError(got, expected)).toBeLessThan(1e-5);
      });
    }
  }

  it('gives the broadcast output shape', async () => {
    await tf.setBackend('wasm');
    const out = tf.tidy(() => tf.matMul(tf.ones([2, 1, 5, 7]), tf.ones([3, 7, 4]), false, false));
    expect(out.shape).toEqual([2, 3, 5, 4]);
    expect(Array.from(await out.data()).every((v) => v === 7)).toBe(true);
    out.dispose();
  });

  for (const [tA, tB] of [
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`fused matMul with bias and relu, transposeA=${tA} transposeB=${tB}, equals cpu`, async () => {
      const run = () =>
        tf.fused.matMul({
          a: normal(transposeLast([11, 6], tA), 3) as tf.Tensor2D,
          b: normal(transposeLast([6, 5], tB), 4) as tf.Tensor2D,
          transposeA: tA,
          transposeB: tB,
          bias: normal([5], 5),
          activation: 'relu',
        });
      expect(relativeError(await valuesOn('wasm', run), await valuesOn('cpu', run))).toBeLessThan(1e-5);
    });
  }

  it('rejects mismatched inner dimensions with a typed error', async () => {
    await tf.setBackend('wasm');
    expect(() =>
      tf.tidy(() =>
        tf.engine().runKernel('BatchMatMul', { a: tf.ones([2, 3, 4]), b: tf.ones([2, 5, 6]) }, { transposeA: false, transposeB: false }),
      ),
    ).toThrow(KernelArgumentError);
  });

  it('an MLP gradient on wasm equals cpu and leaks nothing', async () => {
    const grads = () =>
      tf.tidy(() => {
        const x = normal([16, 12], 6);
        const w1 = normal([12, 10], 7, 0.3);
        const w2 = normal([10, 3], 8, 0.3);
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.matMul(tf.relu(tf.matMul(x, a)), b))))([w1, w2]);
        return tf.concat([tf.reshape(g[0]!, [-1]), tf.reshape(g[1]!, [-1])]);
      });
    const expected = await valuesOn('cpu', grads);
    const got = await valuesOn('wasm', grads);
    expect(relativeError(got, expected)).toBeLessThan(1e-5);
    const before = tf.memory().numTensors;
    const ids = tf.backend().numDataIds();
    for (let i = 0; i < 10; i++) grads().dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.backend().numDataIds()).toBe(ids);
  });
});
