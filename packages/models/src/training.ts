/**
 * Loss closures for training a ResNet with explicit BatchNorm state: the piece a SAM step calls twice, once at
 * w and once at w + ε, each time choosing what BatchNorm does.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { BatchNormStateStore } from './bn-state.js';
import { softmaxCrossEntropy } from './losses.js';
import { type ValueAndGrads, microBatchGrads, sliceBatch } from './microbatch.js';
import type { ResNet18 } from './resnet.js';
import type { Params, ParamValues } from './types.js';

/**
 * What BatchNorm does in one pass:
 * - `'train'`: batch statistics, running statistics updated (the paper: both SAM passes, paper-spec §3.1);
 * - `'train-frozen'`: batch statistics, running statistics left alone (e.g. only the first SAM pass updates);
 * - `'eval'`: running statistics (the reference code's `--freeze_bn_stats`).
 */
export type BatchNormMode = 'train' | 'train-frozen' | 'eval';

/**
 * A closure returning the mean softmax cross-entropy of `model` on (x, labels), with BatchNorm in `mode`. In
 * `'train'` mode each call moves the running statistics in `store`.
 */
export function classificationLoss(
  model: ResNet18,
  params: ParamValues,
  store: BatchNormStateStore,
  x: tf.Tensor4D,
  labels: tf.Tensor1D | tf.Tensor2D,
  mode: BatchNormMode,
): () => tf.Scalar {
  return () => {
    const training = mode !== 'eval';
    const out = model.apply(params, mode === 'train-frozen' ? null : store.state, x, { training });
    if (mode === 'train') store.update(out.bnState);
    return softmaxCrossEntropy(out.logits, labels);
  };
}

/**
 * Mean cross-entropy and its gradients over a batch run as micro-batches of at most `maxMicroBatch` examples
 * (each normalised with its own BatchNorm statistics in training modes; running statistics are updated once
 * per micro-batch in `'train'` mode).
 */
export function classificationGrads(
  model: ResNet18,
  params: Params,
  store: BatchNormStateStore,
  x: tf.Tensor4D,
  labels: tf.Tensor1D | tf.Tensor2D,
  mode: BatchNormMode,
  maxMicroBatch: number = x.shape[0],
): ValueAndGrads {
  return microBatchGrads(params, x.shape[0], maxMicroBatch, (start, size) =>
    classificationLoss(model, params, store, sliceBatch(x, start, size), sliceBatch(labels, start, size), mode)(),
  );
}
