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
import { NonFiniteGradientError, SAM, piecewise05Epochs, sliceChunk } from '@samrank/optim';
import { z } from 'zod';
import type { RunKey, TrainingJob } from '../runner/definition.js';
import type { BnMode, ClassificationConfig } from './config.js';
import { imageSizeOf } from './config.js';
import type { ExperimentData } from './data.js';
import { type ClassificationEvaluation, type EvalContext, classificationEvaluation } from './evaluation.js';

/** A tensor saved as base64 of its little-endian bytes. */
const savedTensorSchema = z.object({
  name: z.string(),
  dtype: z.enum(['float32', 'int32']),
  shape: z.array(z.number().int().nonnegative()),
  base64: z.string(),
});
export type SavedTensor = z.infer<typeof savedTensorSchema>;

/** What a classification run saves: the model (parameters and BatchNorm statistics) and the optimizer slots. */
export const runStateSchema = z.object({
  model: z.object({
    format: z.literal('samrank-models-checkpoint'),
    version: z.literal(1),
    params: z.record(z.string(), z.object({ shape: z.array(z.number().int().nonnegative()), base64: z.string() })),
    bnState: z.record(
      z.string(),
      z.object({
        mean: z.object({ shape: z.array(z.number().int().nonnegative()), base64: z.string() }),
        variance: z.object({ shape: z.array(z.number().int().nonnegative()), base64: z.string() }),
      }),
    ),
  }),
  optimizer: z.array(savedTensorSchema),
});
export type RunState = z.infer<typeof runStateSchema>;

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

/** Decodes a saved optimizer tensor; throws RangeError when the payload does not fit its shape. */
function decodeSaved(s: SavedTensor): Float32Array | Int32Array {
  const bytes = Buffer.from(s.base64, 'base64');
  const size = s.shape.reduce((a, b) => a * b, 1);
  if (bytes.toString('base64') !== s.base64 || bytes.byteLength !== 4 * size) {
    throw new RangeError(`optimizer slot '${s.name}' holds ${bytes.byteLength} bytes, expected ${4 * size} for shape [${s.shape}]`);
  }
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return s.dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
}

async function restoreOptimizer(sam: SAM, saved: SavedTensor[]): Promise<void> {
  const tensors = saved.map((s) => ({ name: s.name, tensor: tf.tensor(decodeSaved(s), s.shape, s.dtype) }));
  await sam.setWeights(tensors);
  tf.dispose(tensors.map((t) => t.tensor));
}

/** Why a saved run state does not fit `config`'s model (names, shapes, finiteness), or null. */
export function checkRunState(config: ClassificationConfig, numClasses: number, state: RunState): string | null {
  try {
    const ckpt = checkpointFromJSON(state.model);
    const model = buildModel(config, numClasses);
    for (const spec of model.paramSpecs) {
      const d = ckpt.params[spec.name];
      if (!d) return `the model checkpoint has no parameter '${spec.name}'`;
      if (d.shape.length !== spec.shape.length || d.shape.some((v, i) => v !== spec.shape[i])) {
        return `parameter '${spec.name}' has shape [${d.shape}], the config's model needs [${spec.shape}]`;
      }
    }
    if (Object.keys(ckpt.params).length !== model.paramSpecs.length)
      return "the model checkpoint has parameters the config's model does not";
    for (const bn of model.stateSpecs) {
      const s = ckpt.bnState[bn.name];
      if (!s || s.mean.values.length !== bn.channels || s.variance.values.length !== bn.channels)
        return `BatchNorm '${bn.name}' statistics are missing or of the wrong size`;
    }
    for (const s of state.optimizer) {
      const values = decodeSaved(s);
      if (s.dtype === 'float32' && !values.every(Number.isFinite)) return `optimizer slot '${s.name}' is not finite`;
    }
  } catch (error) {
    return (error as Error).message;
  }
  return null;
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
      try {
        sam.minimize(
          (c) => {
            const loss = classificationLoss(model, params, store, sliceChunk(x, c), sliceChunk(y, c), modeOf(c.pass))();
            if (perPass && c.chunk === c.chunks - 1) store.commit(momentum);
            return loss;
          },
          false,
          vars,
        );
        return [];
      } catch (error) {
        // SAM checks the loss and gradients before updating: the run has diverged at this step.
        if (error instanceof NonFiniteGradientError) return [0];
        throw error;
      } finally {
        tf.dispose([x, y]);
      }
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
