/**
 * Shared wrapper behaviour: no tensor leaks across 100 steps of every optimizer configuration, the
 * learning-rate schedule on optimizers without setLearningRate, per-run value validation.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerDoubleBackpropGradients } from '@samrank/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { twoLayerLoss, twoLayerRunLosses, useCpu } from '../test/helpers.js';
import { InvalidLambdaError, InvalidRhoError, RunsMismatchError } from './errors.js';
import { GradientNormRegularizer } from './gradient-norm-regularizer.js';
import { SAM } from './sam.js';
import { cosineSchedule, windowSchedule } from './schedules.js';
import { PerRunTensorCache, perRunValues, type WrappedOptimizer } from './wrapped-optimizer.js';

beforeAll(async () => {
  await useCpu();
  // Exact mode needs them (setupBackend registers them in applications).
  registerDoubleBackpropGradients();
});

let uid = 0;
function net(runs?: number) {
  const shape = (s: number[]) => (runs ? [runs, ...s] : s);
  const W = tf.variable(tf.randomNormal(shape([8, 3]), 0, 0.3, 'float32', 11), true, `mW${++uid}`);
  const a = tf.variable(tf.randomNormal(shape([8]), 0, 0.3, 'float32', 12), true, `ma${uid}`);
  const X = tf.randomNormal([6, 3], 0, 0.5, 'float32', 13);
  const y = tf.randomNormal([6], 0, 0.3, 'float32', 14);
  const loss = ({ chunk, chunks }: { chunk: number; chunks: number }) => {
    const size = 6 / chunks;
    const xb = tf.slice(X, [chunk * size, 0], [size, -1]);
    const yb = tf.slice(y, [chunk * size], [size]);
    return runs ? (tf.sum(twoLayerRunLosses(W, a, xb, yb)) as tf.Scalar) : twoLayerLoss(W, a, xb, yb);
  };
  return { vars: [W, a], loss, dispose: () => tf.dispose([W, a, X, y]) };
}

const configs: Array<[string, () => WrappedOptimizer, number | undefined]> = [
  ['SAM (sgd)', () => new SAM(tf.train.sgd(0.05), { rho: 0.1 }), undefined],
  [
    'SAM + momentum + weight decay + lr/rho schedules',
    () =>
      new SAM(tf.train.momentum(0.05, 0.9), {
        rho: 0.1,
        weightDecay: 5e-4,
        lrSchedule: cosineSchedule(100),
        rhoSchedule: windowSchedule(100, { start: 0.3, end: 0.6 }),
      }),
    undefined,
  ],
  ['ASAM (adam)', () => new SAM(tf.train.adam(0.01), { rho: 0.5, adaptive: true }), undefined],
  ['SAM m-sharpness 3', () => new SAM(tf.train.sgd(0.05), { rho: 0.1, mSharpness: 3 }), undefined],
  ['SAM runs 4, per-run rho, epsilon 0', () => new SAM(tf.train.momentum(0.05, 0.9), { rho: [0, 0.05, 0.1, 0.2], runs: 4, epsilon: 0 }), 4],
  ['GradientNormRegularizer exact', () => new GradientNormRegularizer(tf.train.sgd(0.05), { lambda: 0.1 }), undefined],
  [
    'GradientNormRegularizer exact, runs 3, m-sharpness 2',
    () => new GradientNormRegularizer(tf.train.sgd(0.05), { lambda: [0, 0.1, 0.2], runs: 3, mSharpness: 2 }),
    3,
  ],
  [
    'GradientNormRegularizer finite-difference + weight decay',
    () => new GradientNormRegularizer(tf.train.momentum(0.05, 0.9), { lambda: 0.1, mode: 'finite-difference', weightDecay: 1e-3 }),
    undefined,
  ],
];

describe('tf.memory().numTensors is unchanged across 100 steps', () => {
  for (const [name, make, runs] of configs) {
    it(name, () => {
      const p = net(runs);
      const opt = make();
      opt.minimize(p.loss, false, p.vars); // first step creates the base optimizer's slots
      const n0 = tf.memory().numTensors;
      for (let s = 0; s < 100; s++) {
        const l = opt.minimize(p.loss, true, p.vars)!;
        l.dispose();
      }
      expect(tf.memory().numTensors).toBe(n0);
      const before = tf.memory().numTensors;
      opt.dispose();
      expect(tf.memory().numTensors).toBeLessThan(before);
      p.dispose();
    });
  }
});

describe('learning-rate schedule on optimizers without setLearningRate', () => {
  it('adam: the learningRate field follows the schedule', () => {
    const adam = tf.train.adam(0.01);
    const sam = new SAM(adam, { rho: 0.05, lrSchedule: windowSchedule(4, { end: 0.5 }) });
    const p = net();
    const lrs: number[] = [];
    for (let s = 0; s < 4; s++) {
      sam.minimize(p.loss, false, p.vars);
      lrs.push(sam.currentLearningRate!);
    }
    expect(lrs).toEqual([0.01, 0.01, 0.01, 0]);
    sam.dispose();
    p.dispose();
  });
});

describe('perRunValues / PerRunTensorCache', () => {
  it('broadcasts a number to every run and validates arrays', () => {
    expect(perRunValues(0.1, undefined, 'rho')).toEqual([0.1]);
    expect(perRunValues(0.1, 3, 'rho')).toEqual([0.1, 0.1, 0.1]);
    expect(perRunValues([0, 0.2], 2, 'lambda')).toEqual([0, 0.2]);
    expect(() => perRunValues([0, 0.2], 3, 'rho')).toThrow(RunsMismatchError);
    expect(() => perRunValues(-0.1, 3, 'rho')).toThrow(InvalidRhoError);
    expect(() => perRunValues([0, Infinity], 2, 'lambda')).toThrow(InvalidLambdaError);
  });

  it('rebuilds its tensor only when the values change', () => {
    const cache = new PerRunTensorCache(2);
    const t1 = cache.get([0.1, 0.2]);
    expect(cache.get([0.1, 0.2])).toBe(t1);
    const t2 = cache.get([0.1, 0.3]);
    expect(t2).not.toBe(t1);
    expect(t1.isDisposed).toBe(true);
    expect(Array.from(t2.dataSync())).toEqual([Math.fround(0.1), Math.fround(0.3)]);
    cache.dispose();
    expect(t2.isDisposed).toBe(true);
  });
});
