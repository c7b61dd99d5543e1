import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { flat, loadFixture, worstViolation } from '../../../test-utils/fixtures.js';
import { InputShapeError, ModelConfigError, ParamsMismatchError } from './errors.js';
import { squaredLoss } from './losses.js';
import { valueAndGrads } from './microbatch.js';
import { twoLayerNet } from './two-layer.js';
import type { Params } from './types.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

describe('two-layer net', () => {
  it('computes Σ a_j act(w_j·x + b_j) + c for relu, tanh and abs', () => {
    const x = [[0.5, -1, 2], [1, 0, -0.5]];
    const W = [[0.2, -0.1, 0.4], [-0.3, 0.5, 0.1]];
    const b = [0.1, -0.2], a = [1.5, -2], c = 0.3;
    const acts = { relu: (v: number) => Math.max(0, v), tanh: Math.tanh, abs: Math.abs };
    for (const activation of ['relu', 'tanh', 'abs'] as const) {
      const net = twoLayerNet({ inputDim: 3, hiddenUnits: 2, activation });
      const params = { W: tf.tensor2d(W), b: tf.tensor1d(b), a: tf.tensor1d(a), c: tf.tensor1d([c]) };
      const y = net.apply(params, tf.tensor2d(x)).dataSync();
      x.forEach((xi, i) => {
        let want = c;
        for (let j = 0; j < 2; j++) want += a[j]! * acts[activation](W[j]!.reduce((s, w, k) => s + w * xi[k]!, 0) + b[j]!);
        expect(y[i]).toBeCloseTo(want, 5);
      });
      expect(net.hidden(params, tf.tensor2d(x)).shape).toEqual([2, 2]);
    }
  });

  it('Gaussian init with std 0.3 (relu/abs) or 1.0 (tanh) on every parameter, seeded', () => {
    const relu = twoLayerNet({ inputDim: 3, hiddenUnits: 4000 });
    const tanh = twoLayerNet({ inputDim: 3, hiddenUnits: 4000, activation: 'tanh' });
    expect(relu.paramSpecs.map((s) => s.name)).toEqual(['W', 'b', 'a', 'c']);
    expect(relu.numParams).toBe(4000 * 3 + 4000 + 4000 + 1);
    const std = (t: tf.Tensor) => Math.sqrt(tf.mean(tf.square(t)).dataSync()[0]!);
    const p = relu.init(1), q = tanh.init(1);
    expect(std(p['W']!)).toBeCloseTo(0.3, 1);
    expect(std(p['b']!)).toBeCloseTo(0.3, 1);
    expect(std(q['a']!)).toBeCloseTo(1.0, 1);
    expect(Array.from(relu.init(1)['W']!.dataSync())).toEqual(Array.from(p['W']!.dataSync()));
    expect(Array.from(relu.init(2)['W']!.dataSync())).not.toEqual(Array.from(p['W']!.dataSync()));
    const noBias = twoLayerNet({ inputDim: 3, hiddenUnits: 5, biases: false, initStd: 0.1 });
    expect(noBias.paramSpecs.map((s) => s.name)).toEqual(['W', 'a']);
  });

  it('rejects bad options and inputs', () => {
    expect(() => twoLayerNet({ inputDim: 0, hiddenUnits: 3 })).toThrow(ModelConfigError);
    expect(() => twoLayerNet({ inputDim: 3, hiddenUnits: 3, activation: 'gelu' as never })).toThrow(ModelConfigError);
    const net = twoLayerNet({ inputDim: 3, hiddenUnits: 3 });
    const p = net.init(0);
    expect(() => net.apply(p, tf.zeros([2, 4]) as tf.Tensor2D)).toThrow(InputShapeError);
    expect(() => net.apply({ W: p['W']! }, tf.zeros([2, 3]) as tf.Tensor2D)).toThrow(ParamsMismatchError);
  });

  it('two_layer_sam_step.json: loss and gradients (no biases, squared loss without ½)', () => {
    const fx = loadFixture('two_layer_sam_step.json');
    const { n, d, m } = fx.shapes;
    const net = twoLayerNet({ inputDim: d, hiddenUnits: m, biases: false });
    const params: Params = {
      W: tf.variable(tf.tensor2d(fx.params_before.W)),
      a: tf.variable(tf.tensor1d(fx.params_before.a)),
    };
    const tol = fx.tolerances.float32;
    const step = fx.steps[0];
    const x = tf.tensor2d(step.X);
    const y = tf.tensor1d(step.y);
    expect(x.shape).toEqual([n, d]);
    const loss = () => squaredLoss(net.apply(params, x), y);
    const g = valueAndGrads(params, loss);
    expect(worstViolation(g.value.dataSync(), [step.expected.loss_before], tol.atol, tol.rtol)).toBeLessThanOrEqual(1);
    for (const k of ['W', 'a']) {
      expect(worstViolation(g.grads[k]!.dataSync(), flat(step.expected.grad[k]), tol.atol, tol.rtol)).toBeLessThanOrEqual(1);
    }
    tf.dispose([g.value, ...Object.values(g.grads), x, y, ...Object.values(params)]);
  });
});
