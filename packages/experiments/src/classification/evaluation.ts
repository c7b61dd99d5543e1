/**
 * What a classification metric can read, all in eval mode (BatchNorm running statistics) on unaugmented images
 * except the train loss (docs/paper-notes.md §3.1–3.2, §4.3, §11.1): test error, train loss on augmented batches, block features of
 * the fixed rank subset and their rank (row-centred, 99 %, the original rule), k-NN error of block 3 on the
 * transfer set. Lazy, so each metric pays only for what it reads.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchToTensors, evalBatchArrays, type ClassificationPipeline, type ImageSet } from '@samrank/data';
import type { Model, ModelState, ParamValues } from '@samrank/models';
import { softmaxCrossEntropy } from '@samrank/models';
import { ACTIVE_UNIT_PRESETS, type DenseMatrix, NonFiniteValueError, activeUnitStats, knnError, rankFromSpectrum } from '@samrank/rank';
import { RunDivergedError } from '../errors.js';
import { spectrumTf } from '@samrank/rank/tfjs';
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
  /** Test images whose features give the test-split rank (paper Fig. 9). */
  rankTest: ImageSet;
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
    sum += tf.tidy(
      () => softmaxCrossEntropy(ctx.model.apply(params, state, x, { training: false }).output as tf.Tensor2D, y).dataSync()[0]!,
    );
    tf.dispose([x, y]);
  }
  return sum / steps;
}

/** Which images a block's features come from: the fixed training subset, or the head of the test set. */
export type Split = 'train' | 'test';

/** What the classification metrics read for one run at one evaluation; every part is computed once, on demand. */
export interface ClassificationEvaluation {
  /** Mean cross-entropy on augmented training batches (computed first: a non-finite value means the run diverged). */
  trainLoss: number;
  testError(): number;
  /** Flattened block outputs of the rank subset (train) or the test images, [n, D] per block (one pass per split). */
  features(split: Split, block: number): Features;
  /** Eigenvalues of the row-centred Gram of a block's features, descending (one eigen-solve per split and block). */
  spectrum(split: Split, block: number): Float64Array;
  /** Feature rank (row-centred, the original rule) at `threshold`, read off {@link spectrum}. */
  rank(split: Split, block: number, threshold: number): number;
  /** k-NN error of block 3 on the transfer set, or null without one. */
  knnError(): number | null;
}

/** Memoizes a function of a split and a block. */
function perSplitBlock<T>(f: (split: Split, block: number) => T): (split: Split, block: number) => T {
  const cache = new Map<string, T>();
  return (split, block) => {
    const key = `${split}/${block}`;
    if (!cache.has(key)) cache.set(key, f(split, block));
    return cache.get(key)!;
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
export function classificationEvaluation(
  ctx: EvalContext,
  params: ParamValues,
  state: ModelState,
  step: number,
): ClassificationEvaluation | null {
  const loss = trainLoss(ctx, params, state, step);
  if (!Number.isFinite(loss)) return null;
  const sets: Record<Split, ImageSet> = { train: ctx.pipeline.rankSubset, test: ctx.rankTest };
  const passes = {
    train: once(() =>
      collectFeatures(ctx, params, state, sets.train, ctx.blocks, (s, c) => batchToTensors(ctx.pipeline.evalBatchArrays(sets.train, s, c))),
    ),
    test: once(() =>
      collectFeatures(ctx, params, state, sets.test, ctx.blocks, (s, c) => batchToTensors(ctx.pipeline.evalBatchArrays(sets.test, s, c))),
    ),
  };
  const features = (split: Split, block: number) => {
    const m = passes[split]().get(block);
    if (!m) throw new RangeError(`block ${block} is not among the evaluated blocks ${ctx.blocks.join(', ')}`);
    return m;
  };
  const spectrum = perSplitBlock((split, block) => {
    const m = features(split, block);
    const t = tf.tensor2d(m.data, [m.rows, m.cols]);
    try {
      return Float64Array.from(spectrumTf(t, { center: 'sample' }).squared);
    } catch (error) {
      if (error instanceof NonFiniteValueError) throw new RunDivergedError(`block ${block} ${split} features are not finite`);
      throw error;
    } finally {
      t.dispose();
    }
  });
  return {
    trainLoss: loss,
    testError: once(() => testError(ctx, params, state)),
    features,
    spectrum,
    rank: (split, block, threshold) => rankFromSpectrum(spectrum(split, block), { threshold, rule: 'original' }),
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

/**
 * The leading normalised eigenvalues λᵢ/Σλ of a spectrum, as many as reach `upTo` of the variance (plus one), to
 * 6 significant digits: enough to recompute the rank at any threshold ≤ `upTo` from history.jsonl (Fig. 10).
 */
export function normalisedSpectrumHead(eigenvalues: ArrayLike<number>, upTo = 0.999): number[] {
  let total = 0;
  for (let i = 0; i < eigenvalues.length; i++) total += eigenvalues[i]!;
  if (!(total > 0)) return [];
  const out: number[] = [];
  let acc = 0;
  for (let i = 0; i < eigenvalues.length; i++) {
    const v = eigenvalues[i]! / total;
    out.push(Number(v.toPrecision(6)));
    acc += v;
    if (acc > upTo) break;
  }
  return out;
}

/** Fraction of active ReLUs (τ = max/20) of a block's features. */
export function activeReluFraction(features: DenseMatrix): number {
  return activeUnitStats(features, ACTIVE_UNIT_PRESETS.postActResNet).fraction;
}
