/**
 * The page's training session in Node, on the same tfjs cpu backend the page uses: the paper's effect at 2,000
 * steps, determinism, and that neither batching nor time slicing changes a number.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeTeacherStudentData } from '@samrank/data/teacher-student';
import { PAPER_RHOS, TrainingSession, evaluateRun, evaluationIterations, exampleOrder, trainToEnd } from '../src/train.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('the demo training session', () => {
  it('evaluates at 70 evenly spread iterations and after the last step', () => {
    const at = evaluationIterations(2000, 70);
    expect(at).toHaveLength(71);
    expect(at[0]).toBe(0);
    expect(at[1]).toBe(29);
    expect(at.at(-1)).toBe(2000);
    expect(evaluationIterations(5, 70)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('draws the example order from the seed (the CLI stream: fork "example-order")', () => {
    const order = exampleOrder(1, 20, 1000);
    expect(Array.from(order)).toEqual(Array.from(exampleOrder(1, 20, 1000)));
    expect(Math.min(...order)).toBe(0);
    expect(Math.max(...order)).toBe(19);
    expect(Array.from(exampleOrder(2, 20, 10))).not.toEqual(Array.from(order.subarray(0, 10)));
  });

  it('2,000 steps on seed 1: ρ = 0.6 ends with a lower feature rank and fewer active ReLUs than ρ = 0, without leaking tensors', () => {
    const before = tf.memory().numTensors;
    const { finals, history } = trainToEnd({ seed: 1, rhos: [0, 0.6], iterations: 2000 });
    expect(tf.memory().numTensors).toBe(before);
    expect(history).toHaveLength(2 * 71);
    const [plain, sam] = finals;
    expect(plain).toMatchObject({ iteration: 2000, rho: 0, seed: 1, diverged: false });
    expect(sam).toMatchObject({ iteration: 2000, rho: 0.6, seed: 1, diverged: false });
    expect(sam!.featureRank).toBeLessThan(plain!.featureRank);
    expect(sam!.activeUnits).toBeLessThan(plain!.activeUnits);
    // Both fit the 20 points (SAM's half is over; the last 1,000 steps are plain SGD).
    expect(plain!.trainLoss).toBeLessThan(0.01);
    expect(sam!.trainLoss).toBeLessThan(0.01);
  });

  it('is deterministic, and a single-ρ run equals its row of the batched run bit for bit', () => {
    const config = { seed: 3, rhos: [0, 0.6], iterations: 400, evaluations: 8 };
    const a = trainToEnd(config).history;
    expect(trainToEnd(config).history).toEqual(a);
    const alone = trainToEnd({ ...config, rhos: [0.6] }).history;
    expect(alone).toEqual(a.filter((r) => r.rho === 0.6));
  });

  it('gives the same numbers however training is sliced', () => {
    const config = { seed: 2, rhos: PAPER_RHOS, iterations: 300, evaluations: 10 };
    const whole = trainToEnd(config).history;
    const session = new TrainingSession(config);
    try {
      let slices = 0;
      // A zero budget stops after every 16 steps, or after each evaluation.
      while (!session.done) {
        session.advance(0);
        slices++;
      }
      expect(slices).toBeGreaterThan(10);
      expect(session.history).toEqual(whole);
    } finally {
      session.dispose();
    }
  });

  it('reports a run whose parameters are no longer finite as diverged instead of handing NaNs to the rank', () => {
    const data = makeTeacherStudentData({ seed: 1 });
    const W = new Float64Array(300).fill(0.1);
    W[7] = Number.POSITIVE_INFINITY;
    const params = { W, b: new Float64Array(100), a: new Float64Array(100).fill(1), c: 0 };
    const e = evaluateRun(params, data);
    expect(e.diverged).toBe(true);
    expect([e.trainLoss, e.testLoss, e.featureRank, e.activeUnits].every(Number.isNaN)).toBe(true);
    W[7] = 0.1;
    expect(evaluateRun(params, data)).toMatchObject({ diverged: false, featureRank: 1 });
  });

  it('refuses settings it cannot train', () => {
    expect(() => new TrainingSession({ seed: -1, rhos: [0], iterations: 10 })).toThrow(/seed/);
    expect(() => new TrainingSession({ seed: 1, rhos: [], iterations: 10 })).toThrow(/ρ/);
    expect(() => new TrainingSession({ seed: 1, rhos: [0], iterations: 0 })).toThrow(/iterations/);
  });
});
