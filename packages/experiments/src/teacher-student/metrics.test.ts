import { describe, expect, it } from 'vitest';
import { meanSquaredError, studentActiveUnits, studentEvaluation, studentFeatureRank, studentTestLoss, weightNorm } from './metrics.js';
import { twoLayerHidden } from '@samrank/core';
import { twoLayerInit } from '@samrank/models';

const opts = { activation: 'relu' as const, rankThreshold: 0.9999, activeThreshold: 0.05 };

describe('teacher-student metrics', () => {
  it('MSE has no ½ and the norm covers W, b, a and c', () => {
    expect(meanSquaredError(Float64Array.of(1, 2), Float64Array.of(0, 0))).toBe(2.5);
    const p = { W: Float64Array.of(1, 2, 2), b: Float64Array.of(0), a: Float64Array.of(4), c: 0 };
    expect(weightNorm(p)).toBe(5);
    expect(weightNorm({ ...p, b: Float64Array.of(2), c: 4 })).toBeCloseTo(Math.sqrt(25 + 4 + 16), 12);
  });

  it('the rank is uncentered (99.99 %) unless asked', () => {
    // Two rows, one feature direction plus a constant offset: uncentered rank 2, column-centered rank 1.
    const phi = Float64Array.of(1, 1, 1, 2, 2, 2);
    const spread = Float64Array.of(5, 1, 0, 6, 2, 0);
    expect(studentFeatureRank(phi, 2, opts)).toBe(1);
    expect(studentFeatureRank(spread, 2, opts)).toBe(2);
    expect(studentFeatureRank(spread, 2, { ...opts, centered: true })).toBe(1);
  });

  it('ReLU units are active when > 0 on some point; tanh / abs ones when |act| ≥ 0.05', () => {
    const phi = Float64Array.of(0, 0.01, 0.05, -0.06, 0, 0, 0, 0, 0, 0.049, 0, 0);
    expect(studentActiveUnits(phi, 2, opts)).toBe(3); // columns 1, 2 and 3 (0.049 > 0)
    expect(studentActiveUnits(phi, 2, { ...opts, activation: 'tanh' })).toBe(2); // |0.05| and |−0.06|
    expect(studentActiveUnits(phi, 2, { ...opts, activation: 'abs', activeThreshold: 0.06 })).toBe(1); // ≥ is inclusive
  });

  it('evaluates a run from its parameters and flags non-finite ones', () => {
    const p = twoLayerInit(3, { hiddenUnits: 100, inputDim: 3, initStd: 0.3, biases: true });
    const x = Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1);
    const data = { inputDim: 3, xTrain: x, yTrain: Float64Array.of(0, 0, 0), xTest: x, yTest: Float64Array.of(0, 0, 0) };
    const e = studentEvaluation(p, data, opts)!;
    expect(e.trainLoss).toBe(studentTestLoss(e));
    expect(e.weightNorm).toBe(weightNorm(p));
    const phi = twoLayerHidden(p, 'relu', x, 3);
    expect(Array.from(e.features())).toEqual(Array.from(phi));
    // The features are computed once per evaluation, however many metrics read them.
    expect(e.features()).toBe(e.features());
    expect(studentFeatureRank(e.features(), 3, opts)).toBe(3);
    expect(studentEvaluation({ ...p, c: Number.NaN }, data, opts)).toBeNull();
    expect(studentEvaluation({ ...p, W: p.W.map(() => Number.POSITIVE_INFINITY) }, data, opts)).toBeNull();
  });
});
