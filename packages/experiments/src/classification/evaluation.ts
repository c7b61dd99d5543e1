/**
 * What a classification metric can read, all in eval mode (BatchNorm running statistics) on unaugmented images
 * except the train loss (spec §1.3–1.4, §2, §7): test error, train loss on augmented batches, block features of
 * the fixed rank subset and their rank (row-centred, 99 %, the original rule), k-NN error of block 3 on the
 * transfer set. Lazy, so each metric pays only for what it reads.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchToTensors, evalBatchArrays, type ClassificationPipeline, type ImageSet } from '@samrank/data';
import type { Model, ModelState, ParamValues } from '@samrank/models';
import { softmaxCrossEntropy } from '@samrank/models';
import { ACTIVE_UNIT_PRESETS, type DenseMatrix, NonFiniteValueError, activeUnitStats, knnError } from '@samrank/rank';
import { RunDivergedError } from '../errors.js';
import { featureRankTf } from '@samrank/rank/tfjs';
import type { KnnData } from './data.js';

/** Block outputs of a set of images, one row per image. */
export interface Features {
  data: Float32Array;
  rows: number;
  cols: number;
}

/** Everything an evaluation reads. */
export interface EvalContext {
  model: Model;
  pipeline: ClassificationPipeline;
  test: ImageSet;
  knn: KnnData | null;
  blocks: number[];
  /** Batch size for feature extraction. */
  batchSize: number;
  trainLossBatches: number;
  trainBatchSize: number;
  /** Channels the network takes. */
  channels: number;
}

/** Collects flattened block outputs of `set` (eval mode) as one [n, D] float32 matrix per block. */
export function collectFeatures(
  ctx: Pick<EvalContext, 'model' | 'batchSize'>,
  params: ParamValues,
  state: ModelState,
  set: ImageSet,
  blocks: number[],
  batch: (start: number, count: number) => { x: tf.Tensor4D; y: tf.Tensor1D },
): Map<number, Features> {
  const out = new Map<number, Features>();
  for (let start = 0; start < set.count; start += ctx.batchSize) {
    const { x, y } = batch(start, ctx.batchSize);
    const res = ctx.model.apply(params, state, x, { training: false, output: false, taps: blocks.map((b) => `block${b}`) });
    for (const b of blocks) {
      const t = res.taps[`block${b}`]!;
      const [n, d] = t.shape;
      let m = out.get(b);
      if (!m) {
        m = { data: new Float32Array(set.count * d), rows: set.count, cols: d };
        out.set(b, m);
      }
      m.data.set(t.dataSync(), start * d);
      if (n !== Math.min(ctx.batchSize, set.count - start)) throw new Error(`feature batch has ${n} rows`);
    }
    tf.dispose([x, y, ...Object.values(res.taps)]);
  }
  return out;
}

function testError(ctx: EvalContext, params: ParamValues, state: ModelState): number {
  let wrong = 0;
  for (let start = 0; start < ctx.test.count; start += ctx.batchSize) {
    const { x, y } = batchToTensors(ctx.pipeline.evalBatchArrays(ctx.test, start, ctx.batchSize));
    wrong += tf.tidy(() => {
      const logits = ctx.model.apply(params, state, x, { training: false }).output!;
      return tf.sum(tf.cast(tf.notEqual(tf.argMax(logits, 1), y), 'int32')).dataSync()[0]!;
    });
    tf.dispose([x, y]);
  }
  return wrong / ctx.test.count;
}

/**
 * Mean cross-entropy on `trainLossBatches` augmented training batches in eval mode (as the original
 * logs it); the batches come from a pseudo-epoch numbered by the step so the estimate is reproducible.
 */
function trainLoss(ctx: EvalContext, params: ParamValues, state: ModelState, step: number): number {
  let sum = 0;
  const steps = Math.min(ctx.trainLossBatches, ctx.pipeline.stepsPerEpoch(ctx.trainBatchSize));
  for (let i = 0; i < steps; i++) {
    const { x, y } = batchToTensors(ctx.pipeline.trainBatchArrays(-1 - step, i, ctx.trainBatchSize));
    sum += tf.tidy(() => softmaxCrossEntropy(ctx.model.apply(params, state, x, { training: false }).output as tf.Tensor2D, y).dataSync()[0]!);
    tf.dispose([x, y]);
  }
  return sum / steps;
}

/** What the classification metrics read for one run at one evaluation; every part is computed once, on demand. */
export interface ClassificationEvaluation {
  /** Mean cross-entropy on augmented training batches (computed first: a non-finite value means the run diverged). */
  trainLoss: number;
  testError(): number;
  /** Flattened block outputs of the rank subset, [n, D] per block (one forward pass for all blocks). */
  rankFeatures(block: number): Features;
  /** 99 % feature rank (row-centred, the original rule) of a block on the rank subset. */
  featureRank(block: number): number;
  /** k-NN error of block 3 on the transfer set, or null without one. */
  knnError(): number | null;
}

/** Memoizes a function of a number (a block). */
function perBlock<T>(f: (block: number) => T): (block: number) => T {
  const cache = new Map<number, T>();
  return (block) => {
    if (!cache.has(block)) cache.set(block, f(block));
    return cache.get(block)!;
  };
}

/** Memoizes a thunk. */
function once<T>(f: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = f();
      done = true;
    }
    return value;
  };
}

/**
 * The evaluation context of a run at `step`, or null when its training loss is no longer finite (diverged).
 * Features that turn out non-finite raise {@link RunDivergedError} from the metric that reads them.
 */
export function classificationEvaluation(ctx: EvalContext, params: ParamValues, state: ModelState, step: number): ClassificationEvaluation | null {
  const loss = trainLoss(ctx, params, state, step);
  if (!Number.isFinite(loss)) return null;
  const rankSet = ctx.pipeline.rankSubset;
  const features = once(() => collectFeatures(ctx, params, state, rankSet, ctx.blocks, (s, c) => batchToTensors(ctx.pipeline.evalBatchArrays(rankSet, s, c))));
  const rankFeatures = (block: number) => {
    const m = features().get(block);
    if (!m) throw new RangeError(`block ${block} is not among the evaluated blocks ${ctx.blocks.join(', ')}`);
    return m;
  };
  return {
    trainLoss: loss,
    testError: once(() => testError(ctx, params, state)),
    rankFeatures,
    featureRank: perBlock((block) => {
      const m = rankFeatures(block);
      const t = tf.tensor2d(m.data, [m.rows, m.cols]);
      try {
        return featureRankTf(t, { center: 'sample', threshold: 0.99, rule: 'original' });
      } catch (error) {
        if (error instanceof NonFiniteValueError) throw new RunDivergedError(`block ${block} features are not finite`);
        throw error;
      } finally {
        t.dispose();
      }
    }),
    knnError: once(() => {
      if (!ctx.knn) return null;
      const k = ctx.knn;
      const feed = (set: ImageSet) => (s: number, c: number) => batchToTensors(evalBatchArrays(set, s, c, k.normalization, ctx.channels));
      const tr = collectFeatures(ctx, params, state, k.train, [3], feed(k.train)).get(3)!;
      const te = collectFeatures(ctx, params, state, k.test, [3], feed(k.test)).get(3)!;
      return knnError(tr, k.train.labels, te, k.test.labels, { k: Math.min(10, tr.rows) });
    }),
  };
}

/** Fraction of active ReLUs (τ = max/20) of a block's features. */
export function activeReluFraction(features: DenseMatrix): number {
  return activeUnitStats(features, ACTIVE_UNIT_PRESETS.postActResNet).fraction;
}
