import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputShapeError, ModelConfigError, ParamsMismatchError } from './errors.js';
import { mlp } from './mlp.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

describe('MLP', () => {
  it('any depth: names, counts, shapes and hidden features', () => {
    const net = mlp({ inputDim: 4, hiddenDims: [8, 6, 5], outputDim: 3 });
    expect(net.paramSpecs.map((s) => s.name)).toEqual([
      'fc0.weight', 'fc0.bias', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias',
    ]);
    expect(net.numParams).toBe(4 * 8 + 8 + 8 * 6 + 6 + 6 * 5 + 5 + 5 * 3 + 3);
    const p = net.init(3);
    const { output, hidden } = net.forward(p, tf.randomNormal([7, 4], 0, 1, 'float32', 1) as tf.Tensor2D);
    expect(output.shape).toEqual([7, 3]);
    expect(hidden.map((h) => h.shape)).toEqual([[7, 8], [7, 6], [7, 5]]);
    expect(Math.min(...hidden[1]!.dataSync())).toBeGreaterThanOrEqual(0);
    expect(mlp({ inputDim: 2, hiddenDims: [], outputDim: 1, bias: false }).numParams).toBe(2);
  });

  it('PyTorch default init U(±1/√fan_in) or Gaussian; matches a hand computation', () => {
    const net = mlp({ inputDim: 400, hiddenDims: [300], outputDim: 2 });
    const p = net.init(0);
    const w = p['fc0.weight']!.dataSync();
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(1 / 20);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.049);
    const g = mlp({ inputDim: 400, hiddenDims: [300], outputDim: 2, init: { std: 0.5 } }).init(0);
    expect(Math.sqrt(tf.mean(tf.square(g['fc0.weight']!)).dataSync()[0]!)).toBeCloseTo(0.5, 1);
    const tiny = mlp({ inputDim: 2, hiddenDims: [2], outputDim: 1, activation: 'tanh' });
    const params = {
      'fc0.weight': tf.tensor2d([[1, 2], [3, 4]]),
      'fc0.bias': tf.tensor1d([0.1, -0.1]),
      'fc1.weight': tf.tensor2d([[0.5], [-1]]),
      'fc1.bias': tf.tensor1d([0.2]),
    };
    const out = tiny.apply(params, tf.tensor2d([[0.1, -0.2]])).dataSync()[0]!;
    const h0 = Math.tanh(0.1 * 1 - 0.2 * 3 + 0.1), h1 = Math.tanh(0.1 * 2 - 0.2 * 4 - 0.1);
    expect(out).toBeCloseTo(0.5 * h0 - h1 + 0.2, 5);
  });

  it('rejects bad sizes, inputs and parameters', () => {
    expect(() => mlp({ inputDim: 2, hiddenDims: [0], outputDim: 1 })).toThrow(ModelConfigError);
    const net = mlp({ inputDim: 2, hiddenDims: [3], outputDim: 1 });
    const p = net.init(0);
    expect(() => net.apply(p, tf.zeros([1, 3]) as tf.Tensor2D)).toThrow(InputShapeError);
    expect(() => net.apply({ ...p, 'fc1.bias': tf.zeros([2]) }, tf.zeros([1, 2]) as tf.Tensor2D)).toThrow(ParamsMismatchError);
  });
});
