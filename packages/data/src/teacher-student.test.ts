import { describe, expect, it } from 'vitest';
import { InvalidTeacherStudentOptionError, TeacherLabelScaleError, makeTeacherStudentData } from './teacher-student.js';
import { twoLayerForward } from '@samrank/core';

describe('makeTeacherStudentData', () => {
  it('has the paper shapes by default', () => {
    const data = makeTeacherStudentData({ seed: 1 });
    expect(data.nTrain).toBe(20);
    expect(data.nTest).toBe(1000);
    expect(data.inputDim).toBe(3);
    expect(data.xTrain.length).toBe(60);
    expect(data.yTrain.length).toBe(20);
    expect(data.xTest.length).toBe(3000);
    expect(data.yTest.length).toBe(1000);
    expect(data.teacher.W.length).toBe(9);
    expect(data.teacher.a.length).toBe(3);
  });

  it('puts every input on the unit sphere', () => {
    const data = makeTeacherStudentData({ seed: 2, nTest: 50 });
    for (const x of [data.xTrain, data.xTest]) {
      for (let i = 0; i < x.length / 3; i++) {
        const norm = Math.hypot(x[3 * i]!, x[3 * i + 1]!, x[3 * i + 2]!);
        expect(norm).toBeCloseTo(1, 12);
      }
    }
  });

  it('gives the teacher unit-norm rows and ±1 output weights', () => {
    for (const seed of [3, 4, 5, 6]) {
      const { teacher } = makeTeacherStudentData({ seed, activation: 'tanh' });
      for (let j = 0; j < 3; j++) {
        expect(Math.hypot(teacher.W[3 * j]!, teacher.W[3 * j + 1]!, teacher.W[3 * j + 2]!)).toBeCloseTo(1, 12);
        expect(Math.abs(teacher.a[j]!)).toBe(1);
      }
    }
  });

  it('labels are the teacher outputs and respect the label-scale rule', () => {
    for (const activation of ['relu', 'tanh', 'abs'] as const) {
      const data = makeTeacherStudentData({ seed: 11, activation });
      expect(Array.from(data.yTrain)).toEqual(Array.from(twoLayerForward(data.teacher, activation, data.xTrain, 3)));
      const all = [...data.yTrain, ...data.yTest].map(Math.abs);
      expect(Math.max(...all)).toBeLessThanOrEqual(2);
    }
  });

  it('is deterministic per seed and differs across seeds', () => {
    const a = makeTeacherStudentData({ seed: 7 });
    const b = makeTeacherStudentData({ seed: 7 });
    const c = makeTeacherStudentData({ seed: 8 });
    expect(Array.from(a.xTrain)).toEqual(Array.from(b.xTrain));
    expect(Array.from(a.teacher.W)).toEqual(Array.from(b.teacher.W));
    expect(Array.from(a.yTest)).toEqual(Array.from(b.yTest));
    expect(Array.from(a.xTrain)).not.toEqual(Array.from(c.xTrain));
  });

  it('redraws until the labels are O(1), and reports how many draws it took', () => {
    const seeds = Array.from({ length: 30 }, (_, i) => i);
    const loose = seeds.map((seed) => makeTeacherStudentData({ seed, maxAbsLabel: Infinity }));
    expect(loose.every((d) => d.attempts === 1)).toBe(true);
    const rejected = loose.filter((d) => Math.max(...[...d.yTrain, ...d.yTest].map(Math.abs)) > 2);
    // Some seeds must hit the rule, otherwise the rule is untested.
    expect(rejected.length).toBeGreaterThan(0);
    for (const d of rejected) {
      expect(makeTeacherStudentData({ seed: d.seed }).attempts).toBeGreaterThan(1);
    }
  });

  it('drops the biases when asked', () => {
    const { teacher } = makeTeacherStudentData({ seed: 1, biases: false });
    expect(Array.from(teacher.b)).toEqual([0, 0, 0]);
    expect(teacher.c).toBe(0);
  });

  it('rejects bad options with typed errors', () => {
    expect(() => makeTeacherStudentData({ seed: 1.5 })).toThrow(InvalidTeacherStudentOptionError);
    expect(() => makeTeacherStudentData({ seed: 1, nTrain: 0 })).toThrow(/nTrain must be a positive integer/);
    expect(() => makeTeacherStudentData({ seed: 1, activation: 'gelu' as never })).toThrow(/activation must be one of/);
    expect(() => makeTeacherStudentData({ seed: 1, maxAbsLabel: 0 })).toThrow(/maxAbsLabel/);
    expect(() => makeTeacherStudentData({ seed: 1, maxAbsLabel: 1e-9, maxAttempts: 3 })).toThrow(TeacherLabelScaleError);
  });
});
