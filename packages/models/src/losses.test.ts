import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerDoubleBackpropGradients } from '@samrank/backend';
import { InputShapeError } from './errors.js';
import { accuracy, softmaxCrossEntropy, squaredLoss } from './losses.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

describe('losses', () => {
  const logits = [
    [2, 1, -1],
    [0.5, 0.5, 3],
  ];
  const ce = (row: number[], k: number) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[k]!;

  it('softmax cross-entropy from integer labels and from one-hot targets', () => {
    const want = (ce(logits[0]!, 0) + ce(logits[1]!, 2)) / 2;
    expect(softmaxCrossEntropy(tf.tensor2d(logits), tf.tensor1d([0, 2], 'int32')).dataSync()[0]).toBeCloseTo(want, 5);
    expect(
      softmaxCrossEntropy(
        tf.tensor2d(logits),
        tf.tensor2d([
          [1, 0, 0],
          [0, 0, 1],
        ]),
      ).dataSync()[0],
    ).toBeCloseTo(want, 5);
    expect(() => softmaxCrossEntropy(tf.tensor2d(logits), tf.tensor1d([0, 1, 2], 'int32'))).toThrow(InputShapeError);
  });

  it('cross-entropy gradient is softmax − y, and it can be differentiated twice', () => {
    const l = tf.tensor2d(logits);
    const y = tf.tensor1d([0, 2], 'int32');
    const g = tf
      .grad((t: tf.Tensor) => softmaxCrossEntropy(t as tf.Tensor2D, y))(l)
      .arraySync() as number[][];
    logits.forEach((row, i) => {
      const z = row.reduce((s, v) => s + Math.exp(v), 0);
      row.forEach((v, k) => expect(g[i]![k]).toBeCloseTo((Math.exp(v) / z - (k === [0, 2][i] ? 1 : 0)) / 2, 5));
    });
    // Gradient of ‖∇L‖² (with the double-backprop gradient fixes that setupBackend registers); FD check.
    registerDoubleBackpropGradients();
    const gn = (t: tf.Tensor) => tf.sum(tf.square(tf.grad((u: tf.Tensor) => softmaxCrossEntropy(u as tf.Tensor2D, y))(t)));
    const second = tf.grad(gn)(l).dataSync()[1]!;
    const h = 1e-2;
    const shifted = (d: number) =>
      gn(
        tf.tensor2d([
          [2, 1 + d, -1],
          [0.5, 0.5, 3],
        ]),
      ).dataSync()[0]!;
    expect(second).toBeCloseTo((shifted(h) - shifted(-h)) / (2 * h), 2);
  });

  it('squared loss has no ½; accuracy', () => {
    expect(squaredLoss(tf.tensor1d([1, 2]), tf.tensor1d([0, 4])).dataSync()[0]).toBeCloseTo((1 + 4) / 2, 6);
    expect(squaredLoss(tf.tensor2d([[1], [2]]), tf.tensor1d([0, 4])).dataSync()[0]).toBeCloseTo(2.5, 6);
    expect(() => squaredLoss(tf.tensor1d([1, 2]), tf.tensor1d([1]))).toThrow(InputShapeError);
    expect(accuracy(tf.tensor2d(logits), tf.tensor1d([0, 1], 'int32'))).toBe(0.5);
  });
});
