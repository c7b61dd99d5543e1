import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputShapeError, ModelConfigError, ParamsMismatchError } from './errors.js';
import { squaredLoss } from './losses.js';
import { mlp } from './mlp.js';
import { valueAndGrads } from './training.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

describe('MLP', () => {
  it('any depth: names, counts, shapes and hidden features', () => {
    const net = mlp({ inputDim: 4, hiddenDims: [8, 6, 5], outputDim: 3 });
    expect(net.paramSpecs.map((s) => s.name)).toEqual([
      'fc0.weight',
      'fc0.bias',
      'fc1.weight',
      'fc1.bias',
      'fc2.weight',
      'fc2.bias',
      'fc3.weight',
      'fc3.bias',
    ]);
    expect(net.numParams).toBe(4 * 8 + 8 + 8 * 6 + 6 + 6 * 5 + 5 + 5 * 3 + 3);
    expect(net.name).toBe('mlp');
    expect(net.tapNames).toEqual(['hidden0', 'hidden1', 'hidden2']);
    expect(net.stateSpecs).toEqual([]);
    const { params: p, state } = net.init(3);
    expect(state).toEqual({});
    const x = tf.randomNormal([7, 4], 0, 1, 'float32', 1) as tf.Tensor2D;
    const { output, taps } = net.apply(p, state, x, { training: false, taps: net.tapNames });
    expect(output!.shape).toEqual([7, 3]);
    expect(Object.values(taps).map((h) => h.shape)).toEqual([
      [7, 8],
      [7, 6],
      [7, 5],
    ]);
    expect(Math.min(...taps['hidden1']!.dataSync())).toBeGreaterThanOrEqual(0);
    // output: false stops after the deepest requested tap: the same values, no output.
    const part = net.apply(p, null, x, { training: false, output: false, taps: ['hidden1'] });
    expect(part.output).toBeUndefined();
    expect(Object.keys(part.taps)).toEqual(['hidden1']);
    expect(Array.from(part.taps['hidden1']!.dataSync())).toEqual(Array.from(taps['hidden1']!.dataSync()));
    // Stateless: training mode with a state returns an empty one.
    expect(net.apply(p, state, x, { training: true }).state).toEqual({});
    expect(mlp({ inputDim: 2, hiddenDims: [], outputDim: 1, bias: false }).numParams).toBe(2);
    expect(mlp({ inputDim: 2, hiddenDims: [], outputDim: 1 }).tapNames).toEqual([]);
  });

  it('PyTorch default init U(±1/√fan_in) or Gaussian; matches a hand computation', () => {
    const net = mlp({ inputDim: 400, hiddenDims: [300], outputDim: 2 });
    const p = net.init(0).params;
    const w = p['fc0.weight']!.dataSync();
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(1 / 20);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.049);
    const g = mlp({ inputDim: 400, hiddenDims: [300], outputDim: 2, init: { std: 0.5 } }).init(0).params;
    expect(Math.sqrt(tf.mean(tf.square(g['fc0.weight']!)).dataSync()[0]!)).toBeCloseTo(0.5, 1);
    const tiny = mlp({ inputDim: 2, hiddenDims: [2], outputDim: 1, activation: 'tanh' });
    const params = {
      'fc0.weight': tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
      'fc0.bias': tf.tensor1d([0.1, -0.1]),
      'fc1.weight': tf.tensor2d([[0.5], [-1]]),
      'fc1.bias': tf.tensor1d([0.2]),
    };
    const out = tiny.apply(params, null, tf.tensor2d([[0.1, -0.2]]), { training: false }).output!.dataSync()[0]!;
    const h0 = Math.tanh(0.1 * 1 - 0.2 * 3 + 0.1),
      h1 = Math.tanh(0.1 * 2 - 0.2 * 4 - 0.1);
    expect(out).toBeCloseTo(0.5 * h0 - h1 + 0.2, 5);
  });

  it('rejects bad options with a typed error naming what is allowed', () => {
    const bad = (options: unknown) => () => mlp(options as never);
    expect(bad({ inputDim: 2, hiddenDims: [0], outputDim: 1 })).toThrow(ModelConfigError);
    expect(bad({ inputDim: 2.5, hiddenDims: [3], outputDim: 1 })).toThrow(ModelConfigError);
    expect(bad({ inputDim: 2, hiddenDims: [3], outputDim: '1' })).toThrow(ModelConfigError);
    expect(bad({ inputDim: 2, hiddenDims: 3, outputDim: 1 })).toThrow(/hiddenDims must be an array/);
    expect(bad({ inputDim: 2, hiddenDims: [3], outputDim: 1, activation: 'bogus' })).toThrow(ModelConfigError);
    expect(bad({ inputDim: 2, hiddenDims: [3], outputDim: 1, activation: 'bogus' })).toThrow(/relu, tanh, abs, linear, got bogus/);
    expect(bad({ inputDim: 2, hiddenDims: [3], outputDim: 1, bias: 'yes' })).toThrow(ModelConfigError);
    expect(bad({ inputDim: 2, hiddenDims: [3], outputDim: 1, init: 'xavier' })).toThrow(/init must be 'pytorch' or \{ std \}/);
    expect(bad({ inputDim: 2, hiddenDims: [3], outputDim: 1, init: { std: 0 } })).toThrow(ModelConfigError);
    expect(bad(undefined)).toThrow(ModelConfigError);
  });

  it('rejects bad inputs, parameters and taps', () => {
    const net = mlp({ inputDim: 2, hiddenDims: [3], outputDim: 1 });
    const { params: p } = net.init(0);
    expect(() => net.apply(p, null, tf.zeros([1, 3]), { training: false })).toThrow(InputShapeError);
    expect(() => net.apply({ ...p, 'fc1.bias': tf.zeros([2]) }, null, tf.zeros([1, 2]), { training: false })).toThrow(ParamsMismatchError);
    expect(() => net.apply(p, null, tf.zeros([1, 2]), { training: false, taps: ['hidden1'] })).toThrow(
      /mlp has no tap 'hidden1' \(its taps: hidden0\)/,
    );
    expect(() => net.apply(p, null, tf.zeros([1, 2]), { training: false, output: false })).toThrow(ModelConfigError);
  });

  it('a training step (SGD on valueAndGrads) leaves tf.memory().numTensors unchanged', () => {
    const net = mlp({ inputDim: 3, hiddenDims: [5, 4], outputDim: 2, activation: 'tanh' });
    const { params, state } = net.init(1);
    const x = tf.randomNormal([6, 3], 0, 1, 'float32', 2);
    const y = tf.randomNormal([6, 2], 0, 1, 'float32', 3);
    const sgd = tf.train.sgd(0.1);
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = valueAndGrads(params, () => squaredLoss(net.apply(params, state, x, { training: true }).output!, y));
        sgd.applyGradients(Object.entries(params).map(([n, v]) => ({ name: v.name, tensor: grads[n]! })));
        return value.dataSync()[0]!;
      });
    const first = step();
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 10; i++) last = step();
    expect(tf.memory().numTensors).toBe(before);
    expect(last).toBeLessThan(first);
    sgd.dispose();
    tf.dispose([x, y, ...Object.values(params)]);
  });
});
