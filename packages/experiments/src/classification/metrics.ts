/**
 * One evaluation of a classification model (spec §1.3–1.4, §2, §7), all in eval mode (BatchNorm running
 * statistics) on unaugmented images except the train loss: test error, train loss on augmented batches,
 * feature rank of blocks 3/4/5 on the fixed rank subset (row-centred, 99 %, the original rule), k-NN error
 * of block 3 on the transfer set, and active ReLUs (τ = max/20) for the post-activation model.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchToTensors, evalBatchArrays, type ClassificationPipeline, type ImageSet } from '@samrank/data';
import type { BnState, ParamValues, ResNet18 } from '@samrank/models';
import { softmaxCrossEntropy } from '@samrank/models';
import { ACTIVE_UNIT_PRESETS, activeUnitStats, knnError } from '@samrank/rank';
import { featureRankTf } from '@samrank/rank/tfjs';
import type { KnnData } from './data.js';

/** Metrics of one evaluation. Per-block values are keyed by block number. */
export interface EvalMetrics {
  testError: number;
  trainLoss: number;
  featureRank: Record<string, number>;
  knnError: number | null;
  activeRelus: Record<string, number> | null;
}

/** Everything an evaluation reads. */
export interface EvalContext {
  model: ResNet18;
  pipeline: ClassificationPipeline;
  test: ImageSet;
  knn: KnnData | null;
  blocks: number[];
  /** Batch size for feature extraction. */
  batchSize: number;
  trainLossBatches: number;
  trainBatchSize: number;
  /** Post-activation model: count active ReLUs. */
  postAct: boolean;
  /** Channels the network takes. */
  channels: number;
}

/** Collects flattened block outputs of `set` (eval mode) as one [n, D] float32 matrix per block. */
export function collectFeatures(
  ctx: Pick<EvalContext, 'model' | 'batchSize'>,
  params: ParamValues,
  bnState: BnState,
  set: ImageSet,
  blocks: number[],
  batch: (start: number, count: number) => { x: tf.Tensor4D; y: tf.Tensor1D },
): Map<number, { data: Float32Array; rows: number; cols: number }> {
  const out = new Map<number, { data: Float32Array; rows: number; cols: number }>();
  for (let start = 0; start < set.count; start += ctx.batchSize) {
    const { x, y } = batch(start, ctx.batchSize);
    const res = ctx.model.features(params, bnState, x, blocks, { training: false });
    for (const b of blocks) {
      const t = res.taps[b as 3]!;
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

function testError(ctx: EvalContext, params: ParamValues, bnState: BnState): number {
  let wrong = 0;
  for (let start = 0; start < ctx.test.count; start += ctx.batchSize) {
    const { x, y } = batchToTensors(ctx.pipeline.evalBatchArrays(ctx.test, start, ctx.batchSize));
    wrong += tf.tidy(() => {
      const { logits } = ctx.model.apply(params, bnState, x, { training: false });
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
function trainLoss(ctx: EvalContext, params: ParamValues, bnState: BnState, step: number): number {
  let sum = 0;
  const steps = Math.min(ctx.trainLossBatches, ctx.pipeline.stepsPerEpoch(ctx.trainBatchSize));
  for (let i = 0; i < steps; i++) {
    const { x, y } = batchToTensors(ctx.pipeline.trainBatchArrays(-1 - step, i, ctx.trainBatchSize));
    sum += tf.tidy(() => softmaxCrossEntropy(ctx.model.apply(params, bnState, x, { training: false }).logits, y).dataSync()[0]!);
    tf.dispose([x, y]);
  }
  return sum / steps;
}

/** Runs one evaluation. */
export function evaluate(ctx: EvalContext, params: ParamValues, bnState: BnState, step: number): EvalMetrics {
  const rankSet = ctx.pipeline.rankSubset;
  const features = collectFeatures(ctx, params, bnState, rankSet, ctx.blocks, (s, c) => batchToTensors(ctx.pipeline.evalBatchArrays(rankSet, s, c)));
  const featureRank: Record<string, number> = {};
  const activeRelus: Record<string, number> = {};
  for (const [b, m] of features) {
    const t = tf.tensor2d(m.data, [m.rows, m.cols]);
    try {
      featureRank[b] = featureRankTf(t, { center: 'sample', threshold: 0.99, rule: 'original' });
    } finally {
      t.dispose();
    }
    if (ctx.postAct) activeRelus[b] = activeUnitStats(m, ACTIVE_UNIT_PRESETS.postActResNet).fraction;
  }
  let knn: number | null = null;
  if (ctx.knn) {
    const k = ctx.knn;
    const feed = (set: ImageSet) => (s: number, c: number) => batchToTensors(evalBatchArrays(set, s, c, k.normalization, ctx.channels));
    const tr = collectFeatures(ctx, params, bnState, k.train, [3], feed(k.train)).get(3)!;
    const te = collectFeatures(ctx, params, bnState, k.test, [3], feed(k.test)).get(3)!;
    knn = knnError(tr, k.train.labels, te, k.test.labels, { k: Math.min(10, tr.rows) });
  }
  return {
    testError: testError(ctx, params, bnState),
    trainLoss: trainLoss(ctx, params, bnState, step),
    featureRank,
    knnError: knn,
    activeRelus: ctx.postAct ? activeRelus : null,
  };
}
