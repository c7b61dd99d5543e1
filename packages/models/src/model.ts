/**
 * The contract every model of @samrank/models implements, so an experiment can train, evaluate and probe any
 * registered architecture through the same few calls (docs/design.md §5). Parameters and non-trainable state live
 * in records the caller holds; a model object holds only its configuration.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { ModelConfigError } from './errors.js';
import type { BatchNormSpec, BatchStatistics, BnState, ParamSpec, ParamValues, Params } from './types.js';

/**
 * Non-trainable state of a model: BatchNorm running statistics keyed by layer name, `{}` for models without
 * any. A training-mode `apply` returns the updated state as new tensors; the input state is never modified.
 */
export type ModelState = BnState;

/** Options of one forward pass. */
export interface ApplyOptions {
  /**
   * true: layers with batch-dependent behaviour use the batch (BatchNorm normalises with batch statistics and
   * the result carries updated running statistics); false: they use the state (eval mode).
   */
  training: boolean;
  /** Feature taps to return, named as in the model's `tapNames`; each comes back flattened to [N, D]. */
  taps?: readonly string[];
  /**
   * Default true. false: the pass stops after the deepest requested tap (no head, so at least one tap is
   * needed), and models whose head fixes the input size accept other sizes (a ResNet's convolutional blocks).
   */
  output?: boolean;
  /**
   * Training mode only: also return each BatchNorm layer's own batch statistics (`batchStatistics`), for callers
   * that combine several micro-batches into one running-statistics update.
   */
  batchStatistics?: boolean;
}

/** What a forward pass returns. Every tensor is new and the caller's to dispose or keep. */
export interface ModelOutput<Output extends tf.Tensor = tf.Tensor> {
  /** The model's output (logits, predictions); absent with `output: false`. */
  output?: Output;
  /** The requested taps, each [N, D]. */
  taps: Record<string, tf.Tensor2D>;
  /** With `batchStatistics`: every BatchNorm layer's batch mean, biased variance and count, by layer name. */
  batchStatistics?: Record<string, BatchStatistics>;
  /** Training mode with a state passed in: the updated state (new tensors; `{}` for stateless models). */
  state?: ModelState;
}

/** A model: specs of what it trains and tracks, the taps it offers, a seeded init and a pure forward pass. */
export interface Model {
  /** The name it is registered under (`createModel(name)`). */
  readonly name: string;
  /** Every trainable parameter in a stable order (what `init(seed).params` holds, by name). */
  readonly paramSpecs: readonly ParamSpec[];
  /** Every BatchNorm layer (what the state holds, by name); `[]` for stateless models. */
  readonly stateSpecs: readonly BatchNormSpec[];
  /** The feature taps `apply` can return, shallowest first. */
  readonly tapNames: readonly string[];
  /** Number of trainable scalars. */
  readonly numParams: number;
  /** Seeded parameters (same seed ⇒ same values on every backend) and fresh state. */
  init(seed: number): { params: Params; state: ModelState };
  /**
   * Forward pass of a batch `x`. `state` may be null in training mode (batch statistics, nothing tracked);
   * eval mode needs it for models with state. Runs in its own `tf.tidy`: intermediates are freed, the returned
   * tensors are kept.
   */
  apply(params: ParamValues, state: ModelState | null, x: tf.Tensor, options: ApplyOptions): ModelOutput;
}

/**
 * The requested taps of `options`, checked against `tapNames` (unknown names throw `ModelConfigError` listing
 * the model's taps), as indices into `tapNames`; with `output: false` at least one is required.
 */
export function resolveTaps(model: Pick<Model, 'name' | 'tapNames'>, options: ApplyOptions): Set<number> {
  const out = new Set<number>();
  for (const tap of options.taps ?? []) {
    const i = model.tapNames.indexOf(tap);
    if (i < 0) {
      const known = model.tapNames.length ? model.tapNames.join(', ') : 'none';
      throw new ModelConfigError(`${model.name} has no tap '${tap}' (its taps: ${known})`);
    }
    out.add(i);
  }
  if (options.output === false && out.size === 0) {
    throw new ModelConfigError(
      `apply with output: false needs at least one tap (${model.name}'s taps: ${model.tapNames.join(', ') || 'none'})`,
    );
  }
  return out;
}
