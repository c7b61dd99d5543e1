import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { registerDoubleBackpropGradients } from '@samrank/backend';
import { type TwoLayerParams, twoLayerForward, twoLayerHidden } from '@samrank/core';
import { disposeState, readTwoLayerParams, twoLayer, twoLayerInit } from '@samrank/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { flat, loadFixture, worstViolation } from '../../../../test-utils/fixtures.js';
import { resolveTeacherStudentConfig } from './config.js';
import { meanSquaredError, studentActiveUnits, studentFeatureRank, weightNorm } from './metrics.js';
import { runSweep } from '../runner/sweep.js';
import { teacherStudentDefinition } from './definition.js';
import { createStudentTrainer, exampleOrder } from './train.js';

interface Trajectory {
  hyperparameters: { rho: number; lr: number; n_steps: number; regularized_steps: number; method: string };
  inputs: { X: number[][]; y: number[]; batch_indices: number[] };
  params_before: { W: number[][]; a: number[] };
  expected: {
    train_loss: number[];
    params_at_switch: { W: number[][]; a: number[] };
    final: {
      params: { W: number[][]; a: number[] };
      features: number[][];
      feature_rank: Record<string, number>;
      feature_rank_uncentered: Record<string, number>;
      active_relus: number;
      weight_norm: number;
      train_loss: number;
    };
  };
  tolerances: { float32: { rtol: number; atol: number } };
}

const f32 = (xs: number[]) => Array.from(Float32Array.from(xs));

function fixtureParams(p: { W: number[][]; a: number[] }): TwoLayerParams {
  const m = p.a.length;
  return { W: Float64Array.from(f32(flat(p.W))), b: new Float64Array(m), a: Float64Array.from(f32(p.a)), c: 0 };
}

/** Replays a fixture trajectory with `runs` copies whose ρ are `rhos` (the fixture's ρ among them). */
function replay(fx: Trajectory, rhos: number[]) {
  const init = fixtureParams(fx.params_before);
  const m = init.a.length;
  const model = twoLayer({ inputDim: 3, hiddenUnits: m, biases: false, activation: 'relu', runs: rhos.length });
  const student = model.createParams(rhos.map(() => init));
  const method = fx.hyperparameters.method === 'sam_normalized' ? 'sam' : 'gradnorm';
  const trainer = createStudentTrainer(model, student, { method, rhos, learningRate: fx.hyperparameters.lr, epsilon: 1e-12 });
  const X = fx.inputs.X.map(f32);
  const y = f32(fx.inputs.y);
  const xAll = Float64Array.from(fx.inputs.X.flat());
  const yAll = Float64Array.from(fx.inputs.y);
  const trainLoss: number[][] = rhos.map(() => []);
  let atSwitch: TwoLayerParams[] = [];
  for (let t = 0; t < fx.hyperparameters.n_steps; t++) {
    const i = fx.inputs.batch_indices[t]!;
    const xb = new Float32Array(rhos.length * 3);
    rhos.forEach((_, r) => xb.set(X[i]!, 3 * r));
    trainer.step(xb, new Float32Array(rhos.length).fill(y[i]!), t < fx.hyperparameters.regularized_steps);
    const params = readTwoLayerParams(model, student);
    params.forEach((p, r) => trainLoss[r]!.push(meanSquaredError(twoLayerForward(p, 'relu', xAll, 3), yAll)));
    if (t === fx.hyperparameters.regularized_steps - 1) atSwitch = params;
  }
  const final = readTwoLayerParams(model, student);
  trainer.dispose();
  disposeState(student);
  return { trainLoss, atSwitch, final, xAll };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  tf.enableProdMode();
  registerDoubleBackpropGradients(); // gradnorm's exact mode needs them (the CLI's setupBackend registers them)
});

describe.each([['two_layer_sam_trajectory.json'], ['two_layer_gradreg_trajectory.json']])('batched student vs %s', (name) => {
  const fx = loadFixture<Trajectory>(name);
  const { rtol, atol } = fx.tolerances.float32;

  it('follows the float64 reference trajectory (single run)', () => {
    const { trainLoss, atSwitch, final, xAll } = replay(fx, [fx.hyperparameters.rho]);
    expect(worstViolation(trainLoss[0]!, fx.expected.train_loss, atol, rtol)).toBeLessThanOrEqual(1);
    const sw = fixtureParams(fx.expected.params_at_switch);
    expect(worstViolation([...atSwitch[0]!.W, ...atSwitch[0]!.a], [...sw.W, ...sw.a], atol, rtol)).toBeLessThanOrEqual(1);
    const fin = fx.expected.final;
    const p = final[0]!;
    expect(worstViolation([...p.W, ...p.a], [...flat(fin.params.W), ...fin.params.a], atol, rtol)).toBeLessThanOrEqual(1);
    const phi = twoLayerHidden(p, 'relu', xAll, 3);
    expect(worstViolation(phi, flat(fin.features), atol, rtol)).toBeLessThanOrEqual(1);
    const opts = { activation: 'relu' as const, rankThreshold: 0.9999, activeThreshold: 0.05 };
    for (const [thr, rank] of Object.entries(fin.feature_rank_uncentered)) {
      expect(studentFeatureRank(phi, 20, { ...opts, rankThreshold: Number(thr) })).toBe(rank);
    }
    for (const [thr, rank] of Object.entries(fin.feature_rank)) {
      expect(studentFeatureRank(phi, 20, { ...opts, rankThreshold: Number(thr), centered: true })).toBe(rank);
    }
    expect(studentActiveUnits(phi, 20, opts)).toBe(fin.active_relus);
    expect(weightNorm(p)).toBeCloseTo(fin.weight_norm, 4);
  });

  it('gives every run of a batch the result of training it alone', () => {
    const rhos = [0, fx.hyperparameters.rho, 2.5 * fx.hyperparameters.rho];
    const batched = replay(fx, rhos);
    rhos.forEach((rho, r) => {
      const alone = replay(fx, [rho]);
      const a = alone.final[0]!;
      const b = batched.final[r]!;
      expect(worstViolation([...b.W, ...b.a], [...a.W, ...a.a], 1e-6, 1e-5)).toBeLessThanOrEqual(1);
    });
    // The fixture's own run sits in the middle of the batch.
    const fin = fx.expected.final.params;
    const mid = batched.final[1]!;
    expect(worstViolation([...mid.W, ...mid.a], [...flat(fin.W), ...fin.a], atol, rtol)).toBeLessThanOrEqual(1);
  });
});

/** The teacher-student sweep through the runner's loop, without files. */
async function sweep(config: ReturnType<typeof resolveTeacherStudentConfig>, resume?: Parameters<typeof runSweep>[0]['resume']) {
  const prep = await teacherStudentDefinition.prepare(config, () => {}, {});
  return runSweep({ definition: teacherStudentDefinition, config, prepared: prep.prepared, ...(resume ? { resume } : {}) });
}

describe('teacher-student sweep', () => {
  it('lays out runs seed-major in one batched job and shares init and example order across ρ', () => {
    const config = resolveTeacherStudentConfig({ preset: 'smoke', rhos: [0, 0.3], seeds: 2, seed: 5, iterations: 40 });
    expect(teacherStudentDefinition.jobs(config).map((job) => job.map((r) => [r.seed, r.rho]))).toEqual([
      [
        [5, 0],
        [5, 0.3],
        [6, 0],
        [6, 0.3],
      ],
    ]);
    expect(Array.from(exampleOrder(5, 20, 40))).toEqual(Array.from(exampleOrder(5, 20, 40)));
    expect(Array.from(exampleOrder(5, 20, 40))).not.toEqual(Array.from(exampleOrder(6, 20, 40)));
  });

  it('does not leak tensors per step', () => {
    const init = fixtureParams(loadFixture<Trajectory>('two_layer_sam_trajectory.json').params_before);
    const model = twoLayer({ inputDim: 3, hiddenUnits: 100, biases: true, activation: 'relu', runs: 2 });
    const student = model.createParams([init, init]);
    for (const method of ['sam', 'gradnorm'] as const) {
      const trainer = createStudentTrainer(model, student, { method, rhos: [0, 0.2], learningRate: 0.1 });
      const x = new Float32Array([0.6, 0.8, 0, 0, 0.6, 0.8]);
      const y = new Float32Array([0.5, -0.5]);
      trainer.step(x, y, true);
      trainer.step(x, y, false);
      trainer.step(x, y, true);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) trainer.step(x, y, i < 3);
      expect(tf.memory().numTensors).toBe(before);
      trainer.dispose();
    }
    disposeState(student);
  });

  it('marks a run whose loss turns NaN as diverged and finishes the others', async () => {
    const config = resolveTeacherStudentConfig({ preset: 'smoke', rhos: [0, 0.2], seeds: 1, iterations: 60 });
    // Start run 1 from NaN weights (what an exploding run ends with); run 0 must train as if alone.
    const init = twoLayerInit(config.seeds[0]!, { hiddenUnits: 100, inputDim: 3, initStd: config.initStd, biases: true });
    const good = { W: Array.from(init.W), b: Array.from(init.b), a: Array.from(init.a), c: init.c };
    const bad = { ...good, W: good.W.map(() => NaN) };
    const current = {
      job: 0,
      step: 0,
      evaluated: [],
      status: ['ok' as const, 'ok' as const],
      divergedAt: [null, null],
      state: { params: [good, bad] },
    };
    const out = await sweep(config, { completed: [], history: [], current });
    const alone = await sweep({ ...config, rhos: [0] });
    expect(out.completed && alone.completed).toBe(true);
    if (!out.completed || !alone.completed) return;
    expect(out.runs.map((r) => r.status)).toEqual(['ok', 'diverged']);
    expect(out.runs[1]!.divergedAt).toBe(0);
    expect(out.runs[1]!.final).toBeNull();
    expect(out.runs[0]!.final).toEqual(alone.runs[0]!.final);
  });
});
