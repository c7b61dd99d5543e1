import type * as tf from '@tensorflow/tfjs-core';

/**
 * Trainable parameters of a model: a flat record with stable, dotted names (`layer2.0.conv1.weight`), usable
 * directly as SAM's variable list. Insertion order is the model's registration order and never changes.
 */
export type Params = Record<string, tf.Variable>;

/**
 * Parameter values a forward pass reads. Variables qualify, and so do plain tensors (e.g. perturbed weights
 * `w + ε` computed without touching the variables).
 */
export type ParamValues = Record<string, tf.Tensor>;

/** Running statistics of one BatchNorm layer (PyTorch semantics: `variance` is the unbiased estimate). */
export interface BatchNormStats {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** Running statistics of every BatchNorm layer, keyed by layer name (`layer1.0.bn1`, `bn`, ...). */
export type BnState = Record<string, BatchNormStats>;

/** How a parameter is initialised. All random kinds draw from a seeded stream forked by parameter name. */
export type InitSpec =
  | { kind: 'kaimingNormalFanOut' }
  | { kind: 'uniform'; bound: number }
  | { kind: 'normal'; std: number }
  | { kind: 'zeros' }
  | { kind: 'ones' }
  /**
   * Drawn by the model's own `init` (e.g. the two-layer net packs every run's W, b, a, c from one stream), which
   * `description` spells out; `createParams` refuses it, so nothing silently draws other values.
   */
  | { kind: 'custom'; description: string };

/** Name, shape and initialiser of one parameter. */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: InitSpec;
}

/** Name and channel count of one BatchNorm layer. */
export interface BatchNormSpec {
  readonly name: string;
  readonly channels: number;
}

/**
 * One BatchNorm layer's statistics of a training-mode batch: per-channel mean and biased variance over the
 * `count` values per channel (N·H·W). What running statistics are made from, for callers that combine
 * micro-batches before updating them.
 */
export interface BatchStatistics {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  count: number;
}
