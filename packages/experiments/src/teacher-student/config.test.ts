import { describe, expect, it } from 'vitest';
import { ExperimentConfigError } from '../errors.js';
import { evaluationIterations, lastRegularizedIteration, paperGrid, resolveTeacherStudentConfig } from './config.js';

describe('teacher-student config', () => {
  it('has the paper settings by default', () => {
    const c = resolveTeacherStudentConfig();
    expect(c).toMatchObject({
      preset: 'paper',
      activation: 'relu',
      method: 'sam',
      iterations: 19_953,
      learningRate: 0.1,
      width: 100,
      initStd: 0.3,
      nTrain: 20,
      nTest: 1000,
    });
    expect(c.rhos).toEqual([0, 0.1, 0.2, 0.4, 0.6]);
    expect(c.seeds).toEqual([1, 2, 3, 4, 5]);
    expect(resolveTeacherStudentConfig({ activation: 'tanh' })).toMatchObject({
      learningRate: 0.005,
      initStd: 1,
      rhos: [0, 0.2, 0.4, 0.6, 0.8],
    });
    expect(resolveTeacherStudentConfig({ activation: 'abs' })).toMatchObject({
      learningRate: 0.01,
      initStd: 0.3,
      rhos: [0, 0.1, 0.2, 0.3, 0.4],
    });
    expect(paperGrid('relu', 'gradnorm')).toEqual([0, 0.1, 0.2, 0.3, 0.35, 0.38]);
  });

  it('evaluates at 0, 285, …, 19 668 and regularizes for i ≤ 9 976', () => {
    const its = evaluationIterations(19_953, 70);
    expect(its).toHaveLength(70);
    expect(its.slice(0, 3)).toEqual([0, 285, 570]);
    expect(its[69]).toBe(19_668);
    // numpy rounds 9976.5 half to even: the original notebook's point.
    expect(its[35]).toBe(9_976);
    expect(lastRegularizedIteration({ iterations: 19_953, regularizedFraction: 0.5 })).toBe(9_976);
    expect(evaluationIterations(10, 70)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('rejects bad overrides with ExperimentConfigError', () => {
    expect(() => resolveTeacherStudentConfig({ rhos: [] })).toThrow(ExperimentConfigError);
    expect(() => resolveTeacherStudentConfig({ rhos: [0, -1] })).toThrow(/rho values must be finite and ≥ 0/);
    expect(() => resolveTeacherStudentConfig({ method: 'gradnorm', rhos: [0.1, 0.1] })).toThrow(/lambda values must be distinct/);
    expect(() => resolveTeacherStudentConfig({ seeds: 0 })).toThrow(/seeds must be a positive integer/);
    expect(() => resolveTeacherStudentConfig({ iterations: 1.5 })).toThrow(/iterations/);
    expect(() => resolveTeacherStudentConfig({ activation: 'gelu' as never })).toThrow(/activation must be one of/);
  });
});
