/**
 * One classification run as a runner job (SAM as the paper's classification code implements it, docs/paper-notes.md §5.1): the config's model (a ResNet-18 from @samrank/models'
 * registry) trained with SAM — ε = ρ·g/(‖g‖+1e-7) over
 * all parameters, BatchNorm in train mode in both passes by default, coupled weight decay, SGD or momentum —
 * on batches rebuilt from (seed, epoch, step), so a resumed run continues bit-identically. Its saved state is
 * the weights, BatchNorm statistics and optimizer slots.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ClassificationPipeline, batchToTensors, headImages } from '@samrank/data';
import {
  BatchNormStateStore,
  assignCheckpoint,
  checkpointFromJSON,
  checkpointToJSON,
  classificationLoss,
  createModel,
  saveCheckpoint,
  type BatchNormMode,
  type ResNet18,
  type ModelState,
  type Params,
} from '@samrank/models';
import { SAM, piecewise05Epochs, sliceChunk } from '@samrank/optim';
import type { RunKey, TrainingJob } from '../runner/definition.js';
import { type RunState, checkSavedRun, restoreOptimizer, samStepOrDiverged, saveOptimizer } from '../runner/run-state.js';
import type { BnMode, ClassificationConfig } from './config.js';
import { imageSizeOf } from './config.js';
import type { ExperimentData } from './data.js';
import { type ClassificationEvaluation, type EvalContext, classificationEvaluation } from './evaluation.js';

/** Data and pipelines shared by the runs of a sweep. */
export interface PreparedData extends ExperimentData {
  /** Steps per epoch of the (subset) training set after the validation split. */
  stepsPerEpoch: number;
  /** The seed's pipeline (validation split, epoch orders, augmentation), made on first use. */
  pipeline(seed: number): ClassificationPipeline;
}

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

/** The network of `config`, looked up by name in @samrank/models' registry. */
export function buildModel(config: ClassificationConfig, numClasses: number): ResNet18 {
  return createModel(config.model, {
    width: config.width,
    numClasses,
    imageSize: imageSizeOf(config.dataset),
    inChannels: config.inChannels,
  });
}

/** Why a saved run state does not fit `config`'s model (names, shapes, finiteness), or null. */
export function checkRunState(config: ClassificationConfig, numClasses: number, state: RunState): string | null {
  try {
    const model = buildModel(config, numClasses);
    return checkSavedRun(model.paramSpecs, model.stateSpecs, state);
  } catch (error) {
    return (error as Error).message;
  }
}

/** Builds the job of one (seed, ρ) run, fresh or from `resume`. */
export async function createRunJob(
  config: ClassificationConfig,
  data: PreparedData,
  [run]: RunKey[],
  resume?: RunState,
): Promise<TrainingJob<ClassificationEvaluation, RunState>> {
  const { seed, rho } = run!;
  const passes = bnPasses(config.bnMode);
  // Per-pass running statistics: micro-batches only collect their batch statistics; the pass's last one commits.
  const perPass = config.bnStats === 'pass' && config.microBatches > 1;
  const modeOf = (pass: 'first' | 'second'): BatchNormMode => {
    const mode = pass === 'first' ? passes.first : passes.second;
    return perPass && mode === 'train' ? 'train-accumulate' : mode;
  };
  const model = buildModel(config, data.dataset.numClasses);
  const momentum = model.config.batchNorm.momentum;
  const pipeline = data.pipeline(seed);
  const total = config.iterations!;
  const stepsPerEpoch = data.stepsPerEpoch;
  const ctx: EvalContext = {
    model,
    pipeline,
    test: headImages(pipeline.test, config.evalExamples),
    rankTest: headImages(pipeline.test, config.rankExamples),
    knn: data.knn,
    blocks: config.blocks,
    batchSize: Math.max(config.batchSize, 128),
    trainLossBatches: config.trainLossBatches,
    trainBatchSize: config.batchSize,
    channels: config.inChannels,
  };
  const init = model.init(seed);
  const params: Params = init.params;
  const store = new BatchNormStateStore(init.state);
  const base = config.momentum > 0 ? tf.train.momentum(config.lr, config.momentum) : tf.train.sgd(config.lr);
  const sam = new SAM(base, {
    rho,
    epsilon: config.samEpsilon,
    weightDecay: config.weightDecay,
    learningRate: config.lr,
    microBatches: config.microBatches,
    // The original code reads its schedule at the fraction of training done after the step.
    ...(config.schedule === 'piecewise_05epochs' ? { lrSchedule: piecewise05Epochs(total, { at: 'end' }) } : {}),
  });
  const vars = model.paramSpecs.map((s) => params[s.name]!);
  const dispose = () => {
    sam.dispose();
    store.dispose();
    tf.dispose(Object.values(params));
  };
  try {
    if (resume) {
      const ckpt = checkpointFromJSON(resume.model);
      assignCheckpoint(params, ckpt);
      const bn: ModelState = {};
      for (const [name, st] of Object.entries(ckpt.bnState)) {
        // Running statistics are per-channel vectors.
        bn[name] = { mean: tf.tensor1d(st.mean.values), variance: tf.tensor1d(st.variance.values) };
      }
      store.replace(bn);
      await restoreOptimizer(sam, resume.optimizer);
    }
  } catch (error) {
    dispose();
    throw error;
  }
  return {
    step(step) {
      const epoch = Math.floor(step / stepsPerEpoch);
      const { x, y } = batchToTensors(pipeline.trainBatchArrays(epoch, step % stepsPerEpoch, config.batchSize));
      return samStepOrDiverged(
        sam,
        (c) => {
          const loss = classificationLoss(model, params, store, sliceChunk(x, c), sliceChunk(y, c), modeOf(c.pass))();
          if (perPass && c.chunk === c.chunks - 1) store.commit(momentum);
          return loss;
        },
        vars,
        [x, y],
      );
    },
    evaluate: (step) => [classificationEvaluation(ctx, params, store.state, step)],
    async save(): Promise<RunState> {
      return {
        model: checkpointToJSON(await saveCheckpoint(params, store.state)) as RunState['model'],
        optimizer: await saveOptimizer(sam),
      };
    },
    dispose,
  };
}
