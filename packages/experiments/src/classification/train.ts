/**
 * The classification sweep: for each seed and ρ, train a ResNet-18 with SAM (spec §3.1: ε = ρ·g/(‖g‖+1e-7)
 * over all parameters, BatchNorm in train mode in both passes by default, coupled weight decay, SGD or
 * momentum), evaluating at step 0, every `evalEvery` steps and at the end. The whole state (finished runs,
 * history, the current run's weights, BatchNorm statistics, optimizer slots and step) is handed to
 * `onCheckpoint` after every evaluation and on a stop request; resuming from it gives the same results as
 * an uninterrupted run because every batch is rebuilt from (seed, epoch, step).
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchToTensors, createPipeline, headImages, type ClassificationPipeline } from '@samrank/data';
import {
  BatchNormStateStore,
  assignCheckpoint,
  checkpointFromJSON,
  checkpointToJSON,
  classificationLoss,
  preActResNet18,
  resNet18,
  saveCheckpoint,
  type BatchNormMode,
  type BnState,
  type CheckpointJSON,
  type Params,
  type ResNet18,
} from '@samrank/models';
import { NonFiniteGradientError, SAM, piecewise05Epochs, sliceChunk } from '@samrank/optim';
import { NonFiniteValueError } from '@samrank/rank';
import type { RunStatus } from '../teacher-student/train.js';
import type { BnMode, ClassificationConfig } from './config.js';
import { imageSizeOf } from './config.js';
import type { ExperimentData } from './data.js';
import { evaluate, type EvalContext, type EvalMetrics } from './metrics.js';

/** One evaluation of one run (a line of history.jsonl). */
export interface HistoryRecord extends EvalMetrics {
  rho: number;
  seed: number;
  step: number;
  /** step / steps per epoch (the paper's x-axis). */
  epoch: number;
}

/**
 * A finished run. A run whose loss or gradient turned NaN / ±Infinity is `diverged` at the step that
 * produced it (1-based: `divergedAt` = steps completed + 1), with `final` null; the sweep goes on.
 */
export interface RunResult {
  rho: number;
  seed: number;
  /** Steps the run was meant to take. */
  steps: number;
  status: RunStatus;
  divergedAt: number | null;
  final: EvalMetrics | null;
}

/** A tensor saved as base64 of its little-endian bytes. */
export interface SavedTensor {
  name: string;
  dtype: 'float32' | 'int32';
  shape: number[];
  base64: string;
}

/** The run in progress. */
export interface RunState {
  runIndex: number;
  /** Optimizer steps completed. */
  step: number;
  /** Last step evaluated (so a resume does not evaluate twice). */
  evaluatedAt: number;
  model: CheckpointJSON;
  optimizer: SavedTensor[];
}

/** Everything needed to resume a sweep. */
export interface SweepState {
  completed: RunResult[];
  history: HistoryRecord[];
  current: RunState | null;
}

/** Hooks of {@link runClassificationSweep}. */
export interface SweepHooks {
  resume?: SweepState;
  onCheckpoint?(state: SweepState): Promise<void>;
  shouldStop?(): boolean;
  onProgress?(done: number, total: number): void;
  onEvaluation?(record: HistoryRecord): void;
}

/** Outcome: completed, or stopped with the state to resume from. */
export type SweepOutcome =
  | { completed: true; runs: RunResult[]; history: HistoryRecord[] }
  | { completed: false; state: SweepState };

/** The runs of a sweep in order: seeds outer, ρ inner. */
export function sweepRuns(config: Pick<ClassificationConfig, 'seeds' | 'rhos'>): { seed: number; rho: number }[] {
  return config.seeds.flatMap((seed) => config.rhos.map((rho) => ({ seed, rho })));
}

/** BatchNorm behaviour of the first and second SAM pass for each `--bn-mode`. */
export function bnPasses(mode: BnMode): { first: BatchNormMode; second: BatchNormMode } {
  switch (mode) {
    case 'both':
      return { first: 'train', second: 'train' };
    case 'first':
      return { first: 'train', second: 'train-frozen' };
    case 'frozen':
      return { first: 'eval', second: 'eval' };
  }
}

/** Builds the network of `config`. */
export function buildModel(config: ClassificationConfig, numClasses: number): ResNet18 {
  const options = { width: config.width, numClasses, imageSize: imageSizeOf(config.dataset), inChannels: config.inChannels };
  return config.model === 'resnet18' ? resNet18(options) : preActResNet18(options);
}

function toBase64(t: tf.Tensor): SavedTensor['base64'] {
  const values = t.dataSync();
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

async function saveOptimizer(sam: SAM): Promise<SavedTensor[]> {
  const weights = await sam.getWeights();
  const out = weights.map((w) => ({
    name: w.name,
    dtype: w.tensor.dtype === 'int32' ? ('int32' as const) : ('float32' as const),
    shape: [...w.tensor.shape],
    base64: toBase64(w.tensor),
  }));
  // Slots that are live variables belong to the optimizer; the rest were made for us.
  tf.dispose(weights.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
  return out;
}

async function restoreOptimizer(sam: SAM, saved: SavedTensor[]): Promise<void> {
  const tensors = saved.map((s) => {
    const bytes = Buffer.from(s.base64, 'base64');
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    const values = s.dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
    return { name: s.name, tensor: tf.tensor(values, s.shape, s.dtype) };
  });
  await sam.setWeights(tensors);
  tf.dispose(tensors.map((t) => t.tensor));
}

/** Total optimizer steps of one run. */
export function totalSteps(config: ClassificationConfig, pipeline: ClassificationPipeline): number {
  return config.iterations ?? config.epochs * pipeline.stepsPerEpoch(config.batchSize);
}

/** Runs (or resumes) the sweep. */
export async function runClassificationSweep(config: ClassificationConfig, data: ExperimentData, hooks: SweepHooks = {}): Promise<SweepOutcome> {
  const runs = sweepRuns(config);
  const completed = [...(hooks.resume?.completed ?? [])];
  const history = [...(hooks.resume?.history ?? [])];
  let current = hooks.resume?.current ?? null;
  const passes = bnPasses(config.bnMode);
  const model = buildModel(config, data.dataset.numClasses);
  const pipelines = new Map<number, ClassificationPipeline>();
  const pipelineFor = (seed: number) => {
    let p = pipelines.get(seed);
    if (!p) {
      p = createPipeline(data.dataset, {
        seed,
        ...(config.trainSubset !== null ? { trainSubset: config.trainSubset } : {}),
        rankExamples: config.rankExamples,
        channels: config.inChannels,
      });
      pipelines.set(seed, p);
    }
    return p;
  };

  for (let runIndex = completed.length; runIndex < runs.length; runIndex++) {
    const { seed, rho } = runs[runIndex]!;
    const pipeline = pipelineFor(seed);
    const total = totalSteps(config, pipeline);
    const stepsPerEpoch = pipeline.stepsPerEpoch(config.batchSize);
    const ctx: EvalContext = {
      model,
      pipeline,
      test: headImages(pipeline.test, config.evalExamples),
      knn: data.knn,
      blocks: config.blocks,
      batchSize: Math.max(config.batchSize, 128),
      trainLossBatches: config.trainLossBatches,
      trainBatchSize: config.batchSize,
      postAct: config.model === 'resnet18',
      channels: config.inChannels,
    };
    const init = model.init(seed);
    const params: Params = init.params;
    const store = new BatchNormStateStore(init.bnState);
    const base = config.momentum > 0 ? tf.train.momentum(config.lr, config.momentum) : tf.train.sgd(config.lr);
    const sam = new SAM(base, {
      rho,
      epsilon: config.samEpsilon,
      weightDecay: config.weightDecay,
      learningRate: config.lr,
      microBatches: config.microBatches,
      ...(config.schedule === 'piecewise_05epochs' ? { lrSchedule: piecewise05Epochs(total) } : {}),
    });
    const vars = model.paramSpecs.map((s) => params[s.name]!);
    let step = 0;
    let evaluatedAt = -1;
    if (current && current.runIndex === runIndex) {
      const ckpt = checkpointFromJSON(current.model);
      assignCheckpoint(params, ckpt);
      const bn: BnState = {};
      for (const [name, st] of Object.entries(ckpt.bnState)) {
        // Running statistics are per-channel vectors.
        bn[name] = { mean: tf.tensor1d(st.mean.values), variance: tf.tensor1d(st.variance.values) };
      }
      store.replace(bn);
      await restoreOptimizer(sam, current.optimizer);
      step = current.step;
      evaluatedAt = current.evaluatedAt;
    }
    const snapshot = async (): Promise<SweepState> => ({
      completed: [...completed],
      history: [...history],
      current: {
        runIndex,
        step,
        evaluatedAt,
        model: checkpointToJSON(await saveCheckpoint(params, store.state)),
        optimizer: await saveOptimizer(sam),
      },
    });
    const dispose = () => {
      sam.dispose();
      store.dispose();
      tf.dispose(Object.values(params));
    };
    try {
      let last: EvalMetrics | null = null;
      let divergedAt: number | null = null;
      const maybeEvaluate = async () => {
        if (evaluatedAt === step || !(step % config.evalEvery === 0 || step === total)) return;
        try {
          last = evaluate(ctx, params, store.state, step);
        } catch (error) {
          // Finite weights can still overflow in eval mode (running statistics): NaN features = diverged.
          if (!(error instanceof NonFiniteValueError)) throw error;
          divergedAt = step;
          return;
        }
        evaluatedAt = step;
        const record: HistoryRecord = { rho, seed, step, epoch: step / stepsPerEpoch, ...last };
        history.push(record);
        hooks.onEvaluation?.(record);
        // The SAM step refuses non-finite gradients, but the eval-mode loss can still overflow.
        if (!Number.isFinite(last.trainLoss)) {
          divergedAt = step;
          return;
        }
        if (step < total) await hooks.onCheckpoint?.(await snapshot());
      };
      await maybeEvaluate();
      while (step < total && divergedAt === null) {
        if (hooks.shouldStop?.()) return { completed: false, state: await snapshot() };
        const epoch = Math.floor(step / stepsPerEpoch);
        const { x, y } = batchToTensors(pipeline.trainBatchArrays(epoch, step % stepsPerEpoch, config.batchSize));
        try {
          sam.minimize(
            (c) => classificationLoss(model, params, store, sliceChunk(x, c), sliceChunk(y, c), c.pass === 'first' ? passes.first : passes.second)(),
            false,
            vars,
          );
        } catch (error) {
          // SAM checks the loss and gradients before updating: the run has diverged at this step.
          if (!(error instanceof NonFiniteGradientError)) throw error;
          divergedAt = step + 1;
          break;
        } finally {
          tf.dispose([x, y]);
        }
        step++;
        hooks.onProgress?.(runIndex * total + step, runs.length * total);
        await maybeEvaluate();
      }
      if (divergedAt !== null) {
        hooks.onProgress?.((runIndex + 1) * total, runs.length * total);
        completed.push({ rho, seed, steps: total, status: 'diverged', divergedAt, final: null });
      } else {
        const final = last ?? [...history].reverse().find((h) => h.rho === rho && h.seed === seed && h.step === total);
        if (!final) throw new Error('internal: the last evaluation is missing');
        const { testError, trainLoss, featureRank, knnError, activeRelus } = final;
        completed.push({ rho, seed, steps: total, status: 'ok', divergedAt: null, final: { testError, trainLoss, featureRank, knnError, activeRelus } });
      }
      current = null;
      if (runIndex + 1 < runs.length) await hooks.onCheckpoint?.({ completed: [...completed], history: [...history], current: null });
    } finally {
      dispose();
    }
  }
  return { completed: true, runs: completed, history };
}
