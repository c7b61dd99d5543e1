/**
 * Training pieces of the teacher-student sweep: every (seed, ρ) pair is one run of @samrank/models' two-layer
 * net (the student: all runs in one parameter `theta`) trained with @samrank/optim's SAM (or
 * GradientNormRegularizer) — one example per run per step, per-run gradient norms — plus each seed's data and
 * example order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GradientNormRegularizer, SAM } from '@samrank/optim';
import { createRng } from '@samrank/core';
import { makeTeacherStudentData, type TeacherStudentData } from '@samrank/data';
import type { TeacherStudentConfig, TeacherStudentMethod } from './config.js';
import { type Params, type TwoLayerModel, batchedSquaredLoss, fusedSquaredLoss, plainSgdStep } from '@samrank/models';

/** Step options of {@link createStudentTrainer}. */
export interface TrainerOptions {
  method: TeacherStudentMethod;
  /** ρ (SAM) or λ (regularizer) per run. */
  rhos: number[];
  learningRate: number;
  /** SAM's normalization guard: g/(‖g‖ + epsilon). The paper's two-layer code uses 0. */
  epsilon?: number;
}

/** One optimizer step of the batched student on one example per run. */
export interface StudentTrainer {
  /** x: [R · d] row-major, y: [R]; `regularized` false runs the plain SGD phase. */
  step(x: Float32Array, y: Float32Array, regularized: boolean): void;
  dispose(): void;
}

/**
 * Wraps SAM / GradientNormRegularizer around the student (`model` with parameters `params`). SAM steps take the
 * fused one-op loss ({@link fusedSquaredLoss}); the exact regularizer keeps the differentiable tfjs-op loss.
 * After the regularized window (and for an all-zero λ grid) each step is plain SGD, done by {@link plainSgdStep}
 * without kernels.
 */
export function createStudentTrainer(model: TwoLayerModel, params: Params, options: TrainerOptions): StudentTrainer {
  const { runs, inputDim } = model.config;
  const variables = Object.values(params);
  if (options.rhos.length !== runs) throw new RangeError(`rhos has ${options.rhos.length} values for ${runs} runs`);
  let phase: 'regularized' | 'plain' = 'regularized';
  const sam =
    options.method === 'sam'
      ? new SAM(tf.train.sgd(options.learningRate), { rho: options.rhos, epsilon: options.epsilon ?? 0, runs, checkFinite: false })
      : undefined;
  const reg =
    options.method === 'gradnorm'
      ? new GradientNormRegularizer(tf.train.sgd(options.learningRate), {
          lambda: options.rhos,
          // Exact double backprop as in the paper; optim registers the gradient fixes that make it
          // correct for tanh (stock tfjs differentiates tanh through its saved output).
          mode: 'exact',
          runs,
          checkFinite: false,
        })
      : undefined;
  // The optimizers' own finiteness check would read a scalar back every step and abort the whole batch
  // when one run diverges; the sweep checks losses itself at each evaluation instead (checkFinite: false).
  const allZero = options.rhos.every((r) => r === 0);
  return {
    step(xData, yData, regularized) {
      if (!regularized) phase = 'plain';
      const regularizing = phase === 'regularized' && (sam !== undefined || (reg !== undefined && !allZero));
      if (!regularizing) {
        // Plain SGD needs no optimizer state: one hand-rolled step, rounded like tf.train.sgd.
        plainSgdStep(model, params, xData, yData, options.learningRate);
        return;
      }
      tf.tidy(() => {
        if (sam) {
          // SAM is first-order: the fused one-kernel loss.
          sam.minimize(() => fusedSquaredLoss(model, params, xData, yData), false, variables);
        } else {
          // The exact regularizer differentiates its own gradient: the differentiable tfjs-op loss.
          const x = tf.tensor2d(xData, [runs, inputDim]);
          const y = tf.tensor1d(yData);
          reg!.minimize(() => batchedSquaredLoss(model, params, x, y), false, variables);
        }
      });
    },
    dispose() {
      sam?.dispose();
      reg?.dispose();
    },
  };
}

/** The example index drawn at each iteration for one seed (uniform with replacement, shared by all ρ). */
export function exampleOrder(seed: number, nTrain: number, iterations: number): Int32Array {
  const rng = createRng(seed).fork('example-order');
  const order = new Int32Array(iterations);
  for (let i = 0; i < iterations; i++) order[i] = rng.int(nTrain);
  return order;
}

/** The teacher-student data of every seed of a config. */
export function sweepData(config: TeacherStudentConfig): TeacherStudentData[] {
  return config.seeds.map((seed) =>
    makeTeacherStudentData({
      seed,
      activation: config.activation,
      nTrain: config.nTrain,
      nTest: config.nTest,
      inputDim: config.inputDim,
      teacherWidth: config.teacherWidth,
      maxAbsLabel: config.maxAbsLabel,
    }),
  );
}

/** Run r of a sweep is seed ⌊r / #ρ⌋ with ρ index r mod #ρ. */
export function sweepRuns(config: TeacherStudentConfig): { rho: number; seed: number; seedIndex: number }[] {
  return config.seeds.flatMap((seed, seedIndex) => config.rhos.map((rho) => ({ rho, seed, seedIndex })));
}
