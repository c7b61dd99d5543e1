/**
 * Training helpers: gradients keyed by parameter name, and the classification loss closure a SAM step calls
 * twice, once at w and once at w + ε, each time choosing what BatchNorm does. Micro-batching (gradient
 * accumulation) is @samrank/optim's `microBatches` option with its `chunkRange` / `sliceChunk`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BatchNormStateStore } from './bn-state.js';
import { InputShapeError } from './errors.js';
import { softmaxCrossEntropy } from './losses.js';
import type { Model } from './model.js';
import type { ParamValues, Params } from './types.js';

/** A loss value and its gradients keyed like the parameter record. */
export interface ValueAndGrads {
  value: tf.Scalar;
  grads: Record<string, tf.Tensor>;
}

/**
 * Value and gradients of `lossFn` with respect to every trainable variable of `params`, keyed by the record's
 * names (tfjs' own `variableGrads` keys by the global variable names).
 */
export function valueAndGrads(params: Params, lossFn: () => tf.Scalar): ValueAndGrads {
  const names = Object.keys(params).filter((n) => params[n]!.trainable);
  const vars = names.map((n) => params[n]!);
  const { value, grads } = tf.variableGrads(lossFn, vars);
  const out: Record<string, tf.Tensor> = {};
  names.forEach((name, i) => {
    const g = grads[vars[i]!.name];
    // A parameter the loss does not reach gets a zero gradient, so every optimiser sees every name.
    out[name] = g ?? tf.zerosLike(vars[i]!);
  });
  return { value, grads: out };
}

/**
 * What BatchNorm does in one pass:
 * - `'train'`: batch statistics, running statistics updated (the paper: both SAM passes, docs/paper-notes.md §5.4);
 * - `'train-accumulate'`: batch statistics; the batch statistics are collected in the store
 *   (`store.accumulate`) and the running statistics move only at `store.commit` — once per pass of a
 *   micro-batched step, as when the batch runs in one piece;
 * - `'train-frozen'`: batch statistics, running statistics left alone (e.g. only the first SAM pass updates);
 * - `'eval'`: running statistics (the reference code's `--freeze_bn_stats`).
 */
export type BatchNormMode = 'train' | 'train-accumulate' | 'train-frozen' | 'eval';

/**
 * A closure returning the mean softmax cross-entropy of `model`'s output (logits [N, K]) on (x, labels), with
 * BatchNorm in `mode`. In `'train'` mode each call moves the running statistics in `store`. For a stateless
 * model the modes differ only in the `training` flag.
 */
export function classificationLoss(
  model: Model,
  params: ParamValues,
  store: BatchNormStateStore,
  x: tf.Tensor,
  labels: tf.Tensor1D | tf.Tensor2D,
  mode: BatchNormMode,
): () => tf.Scalar {
  return () => {
    const training = mode !== 'eval';
    const accumulate = mode === 'train-accumulate';
    const state = mode === 'train-frozen' || accumulate ? null : store.state;
    const out = model.apply(params, state, x, { training, ...(accumulate ? { batchStatistics: true } : {}) });
    if (mode === 'train') store.update(out.state);
    if (accumulate) store.accumulate(out.batchStatistics);
    const logits = out.output;
    if (logits?.rank !== 2) throw new InputShapeError(`${model.name}'s output is not a logits matrix [N, K]: [${logits?.shape ?? ''}]`);
    return softmaxCrossEntropy(logits as tf.Tensor2D, labels);
  };
}
