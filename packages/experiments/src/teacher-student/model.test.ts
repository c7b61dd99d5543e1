import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import type { TwoLayerActivation as TeacherActivation } from '@samrank/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  batchedSquaredLoss,
  createBatchedStudent,
  disposeStudent,
  fusedSquaredLoss,
  initStudentParams,
  plainSgdStep,
  readStudentParams,
  studentLossAndGradient,
} from './model.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  tf.enableProdMode();
});

const RUNS = 3;
const WIDTH = 7;
const DIM = 3;
// Inputs chosen so no pre-activation sits at a kink (relu/abs derivatives there are conventions).
const x = Float32Array.from([0.3, -0.5, 0.8, -0.2, 0.9, 0.1, 0.6, 0.4, -0.7]);
const y = Float32Array.from([0.5, -1.2, 0.9]);

function makeStudent(activation: TeacherActivation, biases: boolean) {
  const params = [11, 12, 13].map((seed) => initStudentParams(seed, WIDTH, DIM, 0.8, biases));
  return createBatchedStudent({ width: WIDTH, inputDim: DIM, biases, activation }, params);
}

describe.each([
  ['relu', true],
  ['abs', true],
  ['tanh', true],
  ['relu', false],
] as const)('fused loss, %s, biases %s', (activation, biases) => {
  it('has the value and gradient of the tfjs-op loss (autodiff)', () => {
    const student = makeStudent(activation, biases);
    const ref = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => batchedSquaredLoss(student, tf.tensor2d(x, [RUNS, DIM]), tf.tensor1d(y)), student.variables);
      return { value: value.dataSync()[0]!, grad: Array.from(grads[student.theta.name]!.dataSync()) };
    });
    const mine = studentLossAndGradient(student, student.theta.dataSync() as Float32Array, x, y);
    expect(mine.loss).toBeCloseTo(ref.value, 5);
    expect(mine.grad.length).toBe(ref.grad.length);
    mine.grad.forEach((g, i) => expect(g).toBeCloseTo(ref.grad[i]!, 5));
    // Through tfjs' tape (as SAM calls it), with an upstream gradient other than 1.
    const fused = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => tf.mul(fusedSquaredLoss(student, x, y), 3) as tf.Scalar, student.variables);
      return { value: value.dataSync()[0]!, grad: Array.from(grads[student.theta.name]!.dataSync()) };
    });
    expect(fused.value).toBeCloseTo(3 * ref.value, 4);
    fused.grad.forEach((g, i) => expect(g).toBeCloseTo(3 * ref.grad[i]!, 4));
    disposeStudent(student);
  });
});

describe('plainSgdStep', () => {
  it('matches tf.train.sgd on the fused loss bit for bit, without leaking tensors', () => {
    const a = makeStudent('relu', true);
    const b = makeStudent('relu', true);
    const sgd = tf.train.sgd(0.1);
    const before = tf.memory().numTensors;
    for (let step = 0; step < 5; step++) {
      plainSgdStep(a, x, y, 0.1);
      tf.tidy(() => {
        sgd.minimize(() => fusedSquaredLoss(b, x, y), false, b.variables);
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(a.theta.dataSync())).toEqual(Array.from(b.theta.dataSync()));
    expect(readStudentParams(a)[0]!.W).not.toEqual(initStudentParams(11, WIDTH, DIM, 0.8, true).W);
    sgd.dispose();
    disposeStudent(a);
    disposeStudent(b);
  });

  it('rejects inputs of the wrong size', () => {
    const s = makeStudent('relu', true);
    expect(() => plainSgdStep(s, x.subarray(0, 6), y, 0.1)).toThrow(/x has 6 values/);
    disposeStudent(s);
  });
});
