/**
 * One contrastive run as a runner job (docs/paper-notes.md §5.7, §12): the dual encoder trained on the symmetric
 * InfoNCE loss with Adam under a cosine decay, through SAM with ε = ρ·g/‖g‖ over every trainable parameter of both
 * towers and heads (no stabiliser, as the original). Batches are rebuilt from (seed, step): a per-epoch permutation
 * of the training images and, per pair, one of the image's captions drawn at random; evaluation uses each image's
 * first caption. The saved state is the parameters and Adam's slots.
 */
import { createRng } from '@samrank/core';
import {
  CheckpointFormatError,
  type DualEncoder,
  VIT_TENSORS,
  assignCheckpoint,
  checkpointFromJSON,
  checkpointToJSON,
  dualEncoder,
  retrievalErrors,
  saveCheckpoint,
  symmetricInfoNce,
} from '@samrank/models';
import { SAM, cosineSchedule } from '@samrank/optim';
import { featureRank } from '@samrank/rank';
import * as tf from '@tensorflow/tfjs-core';
import type { RunKey, TrainingJob } from '../runner/definition.js';
import { type RunState, checkSavedRun, restoreOptimizer, samStepOrDiverged, saveOptimizer } from '../runner/run-state.js';
import { type ContrastiveConfig, runSetting } from './config.js';

/** Image–caption pairs of one split. */
export interface PairSplit {
  /** Images (and pairs, counting each image's captions as one pair). */
  count: number;
  /** The images at `indices`, NHWC float32 in [0, 1]. */
  images(indices: ArrayLike<number>): Float32Array;
  captionsPerImage: number;
  /** Token ids, [count, captionsPerImage, maxTokens] row-major. */
  tokens: Int32Array;
}

/** What prepare hands the jobs. */
export interface ContrastiveData {
  train: PairSplit;
  test: PairSplit;
  /** Height, width, channels of every image. */
  imageShape: [number, number, number];
  vocabSize: number;
  padId: number;
  stepsPerEpoch: number;
  /** Pretrained values of tower parameters, by dual-encoder parameter name (`image.*`, `text.*`); empty: from scratch. */
  pretrained: ReadonlyMap<string, { shape: readonly number[]; values: Float32Array }>;
}

/** The dual encoder of a config (and the data's vocabulary) for one bottleneck width. */
export function buildDualEncoder(
  config: ContrastiveConfig,
  data: Pick<ContrastiveData, 'vocabSize' | 'padId'>,
  bottleneck: number | null,
): DualEncoder {
  const { resnetRoot, ...image } = config.image;
  return dualEncoder({
    image: { ...image, resnetRoot: resnetRoot === null ? null : { width: resnetRoot } },
    text: { ...config.text, vocabSize: data.vocabSize, maxPositions: config.maxTokens, padId: data.padId, pooling: 'mean' },
    embedDim: config.embedDim,
    bottleneck,
  });
}

/** The training pairs of step `step` (completed steps before it) of run `seed`: image indices and caption choices. */
export function trainBatchIndices(
  seed: number,
  step: number,
  stepsPerEpoch: number,
  trainCount: number,
  batchSize: number,
  captionsPerImage: number,
): { images: Int32Array; captions: Int32Array } {
  const epoch = Math.floor(step / stepsPerEpoch);
  const order = createRng(seed).fork(`epoch-${epoch}`).permutation(trainCount);
  const start = (step % stepsPerEpoch) * batchSize;
  const images = order.slice(start, start + batchSize);
  const pick = createRng(seed).fork(`captions-${step}`);
  const captions = Int32Array.from(images, () => pick.int(captionsPerImage));
  return { images, captions };
}

/** Token rows of `images` (caption `captions[i]` of image `images[i]`, or each first caption) as an int32 [n, T] tensor. */
function tokenTensor(split: PairSplit, maxTokens: number, images: ArrayLike<number>, captions?: ArrayLike<number>): tf.Tensor2D {
  const n = images.length;
  const out = new Int32Array(n * maxTokens);
  for (let i = 0; i < n; i++) {
    const row = (images[i]! * split.captionsPerImage + (captions ? captions[i]! : 0)) * maxTokens;
    out.set(split.tokens.subarray(row, row + maxTokens), i * maxTokens);
  }
  return tf.tensor2d(out, [n, maxTokens], 'int32');
}

const range = (start: number, count: number) => Int32Array.from({ length: count }, (_, i) => start + i);

/** What the contrastive metrics read for one run at one evaluation (computed eagerly: every metric uses it). */
export interface ContrastiveEvaluation {
  imagewiseError: number;
  textwiseError: number;
  testLoss: number;
  trainLoss: number;
  imageRank: number;
  textRank: number;
  /** Present at the first and last evaluation: ranks of the towers' outputs before the heads and of the image tower's tensors. */
  analysis: { imagePreHead: number; textPreHead: number; layers: Record<string, number> } | null;
}

/** Key of a tensor's rank in the analysis: `L<block>.<tensor>`. */
export const layerKey = (block: number, tensor: string) => `L${block}.${tensor}`;

interface Batches {
  split: PairSplit;
  /** Pairs used: the first `examples` of the split, in batches of `batchSize` (the last may be smaller). */
  examples: number;
  batchSize: number;
}

/** Runs the model over a split's first pairs (first captions) batch by batch, handing each batch's outputs to `visit`. */
function forEachBatch(
  model: DualEncoder,
  params: Record<string, tf.Tensor>,
  config: ContrastiveConfig,
  b: Batches,
  options: { preHead?: boolean; imageTaps?: readonly string[] },
  visit: (out: ReturnType<DualEncoder['embed']>, count: number) => void,
): void {
  const [h, w, c] = [config.image.imageSize, config.image.imageSize, config.image.inChannels];
  for (let start = 0; start < b.examples; start += b.batchSize) {
    const n = Math.min(b.batchSize, b.examples - start);
    const idx = range(start, n);
    tf.tidy(() => {
      const images = tf.tensor4d(b.split.images(idx), [n, h, w, c]);
      const tokens = tokenTensor(b.split, config.maxTokens, idx);
      visit(model.embed(params, images, tokens, options), n);
    });
  }
}

/** Rows of 2-D tensors appended into one float32 matrix [rows, cols]. */
class Rows {
  private parts: Float32Array[] = [];
  rows = 0;
  cols = 0;
  add(t: tf.Tensor2D): void {
    this.cols = t.shape[1];
    this.rows += t.shape[0];
    this.parts.push(t.dataSync() as Float32Array);
  }
  matrix(): { data: Float32Array; rows: number; cols: number } {
    const data = new Float32Array(this.rows * this.cols);
    let at = 0;
    for (const p of this.parts) {
      data.set(p, at);
      at += p.length;
    }
    return { data, rows: this.rows, cols: this.cols };
  }
}

/** Retrieval, losses and ranks of the current parameters (see {@link ContrastiveEvaluation}). */
export function evaluateContrastive(
  model: DualEncoder,
  params: Record<string, tf.Tensor>,
  config: ContrastiveConfig,
  data: ContrastiveData,
  analysis: boolean,
): ContrastiveEvaluation | null {
  const rank = (m: Rows) => featureRank(m.matrix(), { threshold: config.rankThreshold, center: 'sample', rule: 'original' });
  // Test retrieval within batches of evalBatchSize pairs, as the paper (10 batches of 128).
  let imagewise = 0;
  let textwise = 0;
  let testLoss = 0;
  const testBatches = Math.min(config.evalBatches, Math.floor(data.test.count / config.evalBatchSize));
  forEachBatch(
    model,
    params,
    config,
    { split: data.test, examples: testBatches * config.evalBatchSize, batchSize: config.evalBatchSize },
    {},
    (out) => {
      const r = retrievalErrors(out.image, out.text);
      imagewise += r.imagewise;
      textwise += r.textwise;
      testLoss += symmetricInfoNce(out.image, out.text).dataSync()[0]!;
    },
  );
  // Ranks of the final embeddings of the first training pairs; the loss on the same batches.
  const imageRows = new Rows();
  const textRows = new Rows();
  let trainLoss = 0;
  let trainBatches = 0;
  forEachBatch(model, params, config, { split: data.train, examples: config.rankExamples, batchSize: config.evalBatchSize }, {}, (out) => {
    imageRows.add(out.image);
    textRows.add(out.text);
    trainLoss += symmetricInfoNce(out.image, out.text).dataSync()[0]!;
    trainBatches++;
  });
  // Non-finite embeddings (a diverged run) have no rank: the run is marked diverged at this evaluation instead.
  if (!Number.isFinite(trainLoss) || !Number.isFinite(testLoss)) return null;
  const result: ContrastiveEvaluation = {
    imagewiseError: imagewise / testBatches,
    textwiseError: textwise / testBatches,
    testLoss: testLoss / testBatches,
    trainLoss: trainLoss / trainBatches,
    imageRank: rank(imageRows),
    textRank: rank(textRows),
    analysis: null,
  };
  if (analysis) {
    // The post-hoc analysis of the original (docs/paper-notes.md §12.3): test pairs, token 0 of the image tower.
    const taps = config.analysisLayers.flatMap((l) => VIT_TENSORS.map((t) => layerKey(l, t)));
    const tapRows = new Map(taps.map((t) => [t, new Rows()]));
    const preImage = new Rows();
    const preText = new Rows();
    const examples = Math.min(config.rankExamples, data.test.count);
    forEachBatch(
      model,
      params,
      config,
      { split: data.test, examples, batchSize: config.evalBatchSize },
      { preHead: true, imageTaps: taps },
      (out) => {
        preImage.add(out.preHead!.image);
        preText.add(out.preHead!.text);
        for (const t of taps) tapRows.get(t)!.add(out.imageTaps![t]!);
      },
    );
    result.analysis = {
      imagePreHead: rank(preImage),
      textPreHead: rank(preText),
      layers: Object.fromEntries(taps.map((t) => [t, rank(tapRows.get(t)!)])),
    };
  }
  return result;
}

/** Builds the job of one run (a ρ, or a bottleneck width, and a seed), fresh or from `resume`. */
export async function createContrastiveJob(
  config: ContrastiveConfig,
  data: ContrastiveData,
  [run]: RunKey[],
  resume?: RunState,
): Promise<TrainingJob<ContrastiveEvaluation, RunState>> {
  const { rho, bottleneck } = runSetting(config, run!.rho);
  const seed = run!.seed;
  const model = buildDualEncoder(config, data, bottleneck);
  const params = model.init(seed);
  const total = config.iterations!;
  const trainable = config.freezeText ? model.partNames('image') : model.paramSpecs.map((s) => s.name);
  const vars = trainable.map((n) => params[n]!);
  // optax's Adam (ε 1e-8 outside the square root) under a cosine decay to 0 read at the updates done so far.
  const sam = new SAM(tf.train.adam(config.lr, 0.9, 0.999, 1e-8), {
    rho,
    epsilon: config.samEpsilon,
    learningRate: config.lr,
    lrSchedule: cosineSchedule(total),
  });
  const dispose = () => {
    sam.dispose();
    tf.dispose(Object.values(params));
  };
  try {
    for (const [name, p] of data.pretrained) {
      const v = params[name];
      if (!v || v.shape.join() !== p.shape.join())
        throw new CheckpointFormatError(`pretrained parameter ${name} [${p.shape}] does not fit the model`);
      v.assign(tf.tensor(p.values, [...p.shape]));
    }
    if (resume) {
      const problem = checkSavedRun(model.paramSpecs, [], resume);
      if (problem) throw new CheckpointFormatError(`the checkpoint does not fit this run's model: ${problem}`);
      assignCheckpoint(params, checkpointFromJSON(resume.model));
      await restoreOptimizer(sam, resume.optimizer);
    }
  } catch (error) {
    dispose();
    throw error;
  }
  const [h, w, c] = data.imageShape;
  return {
    step(step) {
      const pick = trainBatchIndices(seed, step, data.stepsPerEpoch, data.train.count, config.batchSize, data.train.captionsPerImage);
      const n = pick.images.length;
      const images = tf.tensor4d(data.train.images(pick.images), [n, h, w, c]);
      const tokens = tokenTensor(data.train, config.maxTokens, pick.images, pick.captions);
      return samStepOrDiverged(
        sam,
        () => {
          const e = model.embed(params, images, tokens);
          return symmetricInfoNce(e.image, e.text);
        },
        vars,
        [images, tokens],
      );
    },
    evaluate: (step) => [evaluateContrastive(model, params, config, data, step === 0 || step === total)],
    async save(): Promise<RunState> {
      return {
        model: checkpointToJSON(await saveCheckpoint(params, {})) as RunState['model'],
        optimizer: await saveOptimizer(sam),
      };
    },
    dispose,
  };
}
