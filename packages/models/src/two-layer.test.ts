import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { type TwoLayerActivation, type TwoLayerParams, createRng, twoLayerHidden } from '@samrank/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { flat, loadFixture, worstViolation } from '../../../test-utils/fixtures.js';
import { InputShapeError, ModelConfigError, ParamsMismatchError } from './errors.js';
import { createParams, disposeState } from './init.js';
import {
  batchedSquaredLoss,
  fusedSquaredLoss,
  plainSgdStep,
  readTwoLayerParams,
  squaredLossAndGradient,
  twoLayer,
  twoLayerInit,
  writeTwoLayerParams,
} from './two-layer.js';
import type { Params } from './types.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

const f64 = (xs: number[]) => Float64Array.from(xs);

describe('two-layer net: forward pass', () => {
  it('computes Σ a_j act(w_j·x + b_j) + c per run for relu, tanh and abs; tap `hidden` is act(W x + b)', () => {
    const x = [
      [0.5, -1, 2],
      [1, 0, -0.5],
    ];
    const W = [
      [0.2, -0.1, 0.4],
      [-0.3, 0.5, 0.1],
    ];
    const b = [0.1, -0.2],
      a = [1.5, -2],
      c = 0.3;
    const acts = { relu: (v: number) => Math.max(0, v), tanh: Math.tanh, abs: Math.abs };
    const p: TwoLayerParams = { W: f64(W.flat()), b: f64(b), a: f64(a), c };
    for (const activation of ['relu', 'tanh', 'abs'] as const) {
      // Two runs with the same parameters, one example each.
      const net = twoLayer({ inputDim: 3, hiddenUnits: 2, activation, runs: 2 });
      const params = net.createParams([p, p]);
      const out = net.apply(params, null, tf.tensor2d(x), { training: false, taps: ['hidden'] });
      const y = out.output!.dataSync();
      expect(out.output!.shape).toEqual([2]);
      expect(out.taps['hidden']!.shape).toEqual([2, 2]);
      x.forEach((xi, i) => {
        let want = c;
        for (let j = 0; j < 2; j++) {
          const h = acts[activation](W[j]!.reduce((s, w, k) => s + w * xi[k]!, 0) + b[j]!);
          expect(out.taps['hidden']!.dataSync()[2 * i + j]).toBeCloseTo(h, 6);
          want += a[j]! * h;
        }
        expect(y[i]).toBeCloseTo(want, 5);
      });
      // The tap agrees with @samrank/core's float64 twoLayerHidden (what the metrics use).
      const phi = twoLayerHidden(p, activation, f64(x.flat()), 3);
      expect(worstViolation(out.taps['hidden']!.dataSync(), phi, 1e-6, 1e-6)).toBeLessThanOrEqual(1);
      // output: false stops at the tap.
      const part = net.apply(params, null, tf.tensor2d(x), { training: false, output: false, taps: ['hidden'] });
      expect(part.output).toBeUndefined();
      expect(Array.from(part.taps['hidden']!.dataSync())).toEqual(Array.from(out.taps['hidden']!.dataSync()));
      disposeState(params);
    }
  });

  it('is a stateless Model: name, one parameter theta [runs, P], no state, one tap', () => {
    const net = twoLayer({ inputDim: 3, hiddenUnits: 5, runs: 4 });
    expect(net.name).toBe('two-layer');
    expect(net.paramSpecs.map((s) => [s.name, s.shape])).toEqual([['theta', [4, 5 * 3 + 2 * 5 + 1]]]);
    expect(net.numParams).toBe(4 * (5 * 3 + 2 * 5 + 1));
    expect(net.stateSpecs).toEqual([]);
    expect(net.tapNames).toEqual(['hidden']);
    const noBias = twoLayer({ inputDim: 3, hiddenUnits: 5, biases: false, initStd: 0.1 });
    expect(noBias.paramsPerRun).toBe(5 * 3 + 5);
    expect(noBias.layout).toEqual({ W: 0, b: -1, a: 15, c: -1, size: 20 });
    const { params, state } = net.init(0);
    expect(state).toEqual({});
    expect(net.apply(params, state, tf.zeros([4, 3]), { training: true }).state).toEqual({});
    expect(net.apply(params, null, tf.zeros([4, 3]), { training: true }).state).toBeUndefined();
    // The init is the model's own: createParams on the specs refuses rather than drawing other values.
    expect(() => createParams(net.paramSpecs, 0)).toThrow(/student-init/);
    disposeState(params);
  });
});

describe('two-layer net: init', () => {
  it('Gaussian init with std 0.3 (relu/abs) or 1.0 (tanh) on every entry, seeded', () => {
    const relu = twoLayer({ inputDim: 3, hiddenUnits: 4000 });
    const tanh = twoLayer({ inputDim: 3, hiddenUnits: 4000, activation: 'tanh' });
    expect(relu.config.initStd).toBe(0.3);
    expect(tanh.config.initStd).toBe(1.0);
    const std = (v: Float64Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
    const [p] = readTwoLayerParams(relu, relu.init(1).params);
    const [q] = readTwoLayerParams(tanh, tanh.init(1).params);
    expect(std(p!.W)).toBeCloseTo(0.3, 1);
    expect(std(p!.b)).toBeCloseTo(0.3, 1);
    expect(std(q!.a)).toBeCloseTo(1.0, 1);
    expect(Array.from(readTwoLayerParams(relu, relu.init(1).params)[0]!.W)).toEqual(Array.from(p!.W));
    expect(Array.from(readTwoLayerParams(relu, relu.init(2).params)[0]!.W)).not.toEqual(Array.from(p!.W));
  });

  it("draws W, b, a, c in that order from createRng(seed).fork('student-init'); every run gets the seed's init", () => {
    const config = { hiddenUnits: 4, inputDim: 2, initStd: 0.5, biases: true };
    const rng = createRng(7).fork('student-init');
    const draws = Array.from({ length: 4 * 2 + 4 + 4 + 1 }, () => 0.5 * rng.normal());
    const p = twoLayerInit(7, config);
    expect([...p.W, ...p.b, ...p.a, p.c]).toEqual(draws);
    // Without biases b and c draw nothing.
    const nb = twoLayerInit(7, { ...config, biases: false });
    expect([...nb.W, ...nb.a]).toEqual([...draws.slice(0, 8), ...draws.slice(8, 12)]);
    expect([...nb.b, nb.c]).toEqual([0, 0, 0, 0, 0]);
    // init(seed): every run the same (float32-rounded) init; initRuns: one seed per run.
    const net = twoLayer({ inputDim: 2, hiddenUnits: 4, initStd: 0.5, runs: 3 });
    const same = readTwoLayerParams(net, net.init(7).params);
    const f32 = (v: Float64Array) => Array.from(Float32Array.from(v));
    for (const r of same) expect(Array.from(r.W)).toEqual(f32(p.W));
    expect(same[2]!.c).toBe(Math.fround(p.c));
    const mixed = readTwoLayerParams(net, net.initRuns([7, 8, 7]).params);
    expect(Array.from(mixed[0]!.a)).toEqual(f32(p.a));
    expect(Array.from(mixed[1]!.a)).toEqual(f32(twoLayerInit(8, config).a));
    expect(Array.from(mixed[2]!.a)).toEqual(f32(p.a));
    expect(() => net.initRuns([1, 2])).toThrow(ModelConfigError);
  });

  it('reads and writes every run through theta (float32 → float64 exactly)', () => {
    const net = twoLayer({ inputDim: 2, hiddenUnits: 3, runs: 2 });
    const { params } = net.init(0);
    const values = [twoLayerInit(5, net.config), twoLayerInit(6, net.config)];
    writeTwoLayerParams(net, params, values);
    const back = readTwoLayerParams(net, params);
    back.forEach((p, r) => {
      expect(Array.from(p.W)).toEqual(Array.from(Float32Array.from(values[r]!.W)));
      expect(p.c).toBe(Math.fround(values[r]!.c));
    });
    expect(() => writeTwoLayerParams(net, params, [values[0]!])).toThrow(ParamsMismatchError);
    expect(() => net.createParams([{ ...values[0]!, a: new Float64Array(2) }, values[1]!])).toThrow(/W\/b\/a have 6\/3\/2 values/);
    disposeState(params);
  });
});

describe('two-layer net: errors', () => {
  it('rejects bad options, inputs, parameters and taps with typed errors', () => {
    const bad = (options: unknown) => () => twoLayer(options as never);
    expect(bad({ inputDim: 0, hiddenUnits: 3 })).toThrow(ModelConfigError);
    expect(bad({ inputDim: 3, hiddenUnits: 2.5 })).toThrow(ModelConfigError);
    expect(bad({ inputDim: 3, hiddenUnits: 3, activation: 'gelu' })).toThrow(/relu, tanh, abs, got gelu/);
    expect(bad({ inputDim: 3, hiddenUnits: 3, initStd: -1 })).toThrow(ModelConfigError);
    expect(bad({ inputDim: 3, hiddenUnits: 3, biases: 1 })).toThrow(ModelConfigError);
    expect(bad({ inputDim: 3, hiddenUnits: 3, runs: 0 })).toThrow(ModelConfigError);
    expect(bad(undefined)).toThrow(ModelConfigError);
    const net = twoLayer({ inputDim: 3, hiddenUnits: 3, runs: 2 });
    const { params } = net.init(0);
    expect(() => net.apply(params, null, tf.zeros([2, 4]), { training: false })).toThrow(InputShapeError);
    expect(() => net.apply(params, null, tf.zeros([3, 3]), { training: false })).toThrow(/one example per run/);
    expect(() => net.apply({}, null, tf.zeros([2, 3]), { training: false })).toThrow(ParamsMismatchError);
    expect(() => net.apply({ theta: tf.zeros([1, 16]) }, null, tf.zeros([2, 3]), { training: false })).toThrow(ParamsMismatchError);
    expect(() => net.apply(params, null, tf.zeros([2, 3]), { training: false, taps: ['block3'] })).toThrow(/two-layer has no tap 'block3'/);
    expect(() => plainSgdStep(net, { theta: tf.zeros([2, 16]) as tf.Variable }, new Float32Array(6), new Float32Array(2), 0.1)).toThrow(
      /tf.Variable/,
    );
    disposeState(params);
  });
});

const RUNS = 3;
const WIDTH = 7;
const DIM = 3;
// Inputs chosen so no pre-activation sits at a kink (relu/abs derivatives there are conventions).
const x = Float32Array.from([0.3, -0.5, 0.8, -0.2, 0.9, 0.1, 0.6, 0.4, -0.7]);
const y = Float32Array.from([0.5, -1.2, 0.9]);

function makeNet(activation: TwoLayerActivation, biases: boolean) {
  const net = twoLayer({ inputDim: DIM, hiddenUnits: WIDTH, activation, biases, initStd: 0.8, runs: RUNS });
  return { net, params: net.initRuns([11, 12, 13]).params };
}

describe.each([
  ['relu', true],
  ['abs', true],
  ['tanh', true],
  ['relu', false],
] as const)('fused loss, %s, biases %s', (activation, biases) => {
  it('has the value and gradient of the tfjs-op loss (autodiff)', () => {
    const { net, params } = makeNet(activation, biases);
    const theta = params['theta']!;
    const ref = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => batchedSquaredLoss(net, params, tf.tensor2d(x, [RUNS, DIM]), tf.tensor1d(y)),
        [theta],
      );
      return { value: value.dataSync()[0]!, grad: Array.from(grads[theta.name]!.dataSync()) };
    });
    const mine = squaredLossAndGradient(net, theta.dataSync() as Float32Array, x, y);
    expect(mine.loss).toBeCloseTo(ref.value, 5);
    expect(mine.grad.length).toBe(ref.grad.length);
    mine.grad.forEach((g, i) => expect(g).toBeCloseTo(ref.grad[i]!, 5));
    // Through tfjs' tape (as SAM calls it), with an upstream gradient other than 1.
    const fused = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => tf.mul(fusedSquaredLoss(net, params, x, y), 3) as tf.Scalar, [theta]);
      return { value: value.dataSync()[0]!, grad: Array.from(grads[theta.name]!.dataSync()) };
    });
    expect(fused.value).toBeCloseTo(3 * ref.value, 4);
    fused.grad.forEach((g, i) => expect(g).toBeCloseTo(3 * ref.grad[i]!, 4));
    disposeState(params);
  });
});

describe('plainSgdStep', () => {
  it('matches tf.train.sgd on the fused loss bit for bit, without leaking tensors', () => {
    const a = makeNet('relu', true);
    const b = makeNet('relu', true);
    const sgd = tf.train.sgd(0.1);
    const before = tf.memory().numTensors;
    for (let step = 0; step < 5; step++) {
      plainSgdStep(a.net, a.params, x, y, 0.1);
      tf.tidy(() => {
        sgd.minimize(() => fusedSquaredLoss(b.net, b.params, x, y), false, [b.params['theta'] as tf.Variable]);
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(a.params['theta']!.dataSync())).toEqual(Array.from(b.params['theta']!.dataSync()));
    expect(readTwoLayerParams(a.net, a.params)[0]!.W).not.toEqual(twoLayerInit(11, a.net.config).W);
    sgd.dispose();
    disposeState(a.params);
    disposeState(b.params);
  });

  it('rejects inputs of the wrong size', () => {
    const s = makeNet('relu', true);
    expect(() => plainSgdStep(s.net, s.params, x.subarray(0, 6), y, 0.1)).toThrow(/x has 6 values/);
    expect(() => plainSgdStep(s.net, s.params, x.subarray(0, 6), y, 0.1)).toThrow(InputShapeError);
    disposeState(s.params);
  });
});

describe('two-layer net against the float64 golden fixture', () => {
  it('two_layer_sam_step.json: loss and gradients (no biases, squared loss without ½), one example per run', () => {
    const fx = loadFixture('two_layer_sam_step.json');
    const { n, d, m } = fx.shapes;
    const step = fx.steps[0];
    const tol = fx.tolerances.float32;
    // n runs holding the same W, a: run i sees example i, so the sum over runs divided by n is the fixture's
    // batch loss, and the sum of that loss's per-run gradient rows its gradient.
    const net = twoLayer({ inputDim: d, hiddenUnits: m, biases: false, runs: n });
    const p: TwoLayerParams = { W: f64(flat(fx.params_before.W)), b: new Float64Array(m), a: f64(fx.params_before.a), c: 0 };
    const params: Params = net.createParams(Array.from({ length: n }, () => p));
    const xs = tf.tensor2d(step.X);
    const ys = tf.tensor1d(step.y);
    const sumRows = (g: tf.Tensor) => tf.tidy(() => tf.sum(g, 0).dataSync());
    for (const loss of [
      () => tf.div(batchedSquaredLoss(net, params, xs, ys), n) as tf.Scalar,
      () => tf.div(fusedSquaredLoss(net, params, Float32Array.from(flat(step.X)), Float32Array.from(step.y)), n) as tf.Scalar,
    ]) {
      const { value, grads } = tf.variableGrads(loss, [params['theta'] as tf.Variable]);
      expect(worstViolation(value.dataSync(), [step.expected.loss_before], tol.atol, tol.rtol)).toBeLessThanOrEqual(1);
      const g = sumRows(grads[params['theta']!.name]!);
      const layout = net.layout;
      expect(worstViolation(g.subarray(layout.W, layout.W + m * d), flat(step.expected.grad.W), tol.atol, tol.rtol)).toBeLessThanOrEqual(1);
      expect(worstViolation(g.subarray(layout.a, layout.a + m), flat(step.expected.grad.a), tol.atol, tol.rtol)).toBeLessThanOrEqual(1);
      tf.dispose([value, ...Object.values(grads)]);
    }
    tf.dispose([xs, ys]);
    disposeState(params);
  });
});
