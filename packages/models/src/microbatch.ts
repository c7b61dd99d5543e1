/**
 * Gradient accumulation over micro-batches, for batches whose activations do not fit (wasm32 caps the heap
 * at 4 GiB: PreAct ResNet-18 at width 64 needs batch 128 as 2 × 64).
 *
 * BatchNorm consequence: in training mode each micro-batch is normalised with its own statistics, and the
 * running statistics are updated once per micro-batch (momentum applied k times per step). That is what
 * PyTorch's gradient accumulation does too, and it is not the same as one batch of the full size: the
 * normalisation noise is that of the micro-batch size. Loss and gradients are the size-weighted mean over
 * micro-batches, so without BatchNorm they equal the full-batch values exactly (up to float rounding).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfigError, ParamsMismatchError } from './errors.js';
import type { Params } from './types.js';

/** A loss value and its gradients keyed like the parameter record. */
export interface ValueAndGrads {
  value: tf.Scalar;
  grads: Record<string, tf.Tensor>;
}

/** One contiguous slice of a batch. */
export interface MicroBatch {
  start: number;
  size: number;
}

/**
 * Splits `batchSize` into ⌈batchSize / maxMicroBatch⌉ contiguous slices whose sizes differ by at most one
 * (balanced, so no micro-batch gets a tiny BatchNorm sample: 100 with max 64 → 50 + 50, not 64 + 36).
 */
export function microBatches(batchSize: number, maxMicroBatch: number): MicroBatch[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ModelConfigError(`batch size must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(maxMicroBatch) || maxMicroBatch < 1) {
    throw new ModelConfigError(`micro-batch size must be a positive integer, got ${maxMicroBatch}`);
  }
  const k = Math.ceil(batchSize / maxMicroBatch);
  const base = Math.floor(batchSize / k);
  const extra = batchSize % k;
  const out: MicroBatch[] = [];
  let start = 0;
  for (let i = 0; i < k; i++) {
    const size = base + (i < extra ? 1 : 0);
    out.push({ start, size });
    start += size;
  }
  return out;
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
 * Mean loss and gradients over a batch processed in micro-batches: `lossFn(start, size)` must return the
 * **mean** loss over examples [start, start + size); results are weighted by size/batchSize and summed.
 * One micro-batch (`maxMicroBatch ≥ batchSize`) is exactly `valueAndGrads`. Memory peaks at one
 * micro-batch's activations plus two gradient sets.
 */
export function microBatchGrads(
  params: Params,
  batchSize: number,
  maxMicroBatch: number,
  lossFn: (start: number, size: number) => tf.Scalar,
): ValueAndGrads {
  const chunks = microBatches(batchSize, maxMicroBatch);
  if (chunks.length === 1) return valueAndGrads(params, () => lossFn(0, batchSize));
  let acc: ValueAndGrads | null = null;
  for (const { start, size } of chunks) {
    const part = valueAndGrads(params, () => lossFn(start, size));
    const w = size / batchSize;
    const prev: ValueAndGrads | null = acc;
    const next: ValueAndGrads = tf.tidy(() => {
      const grads: Record<string, tf.Tensor> = {};
      for (const [name, g] of Object.entries(part.grads)) {
        const scaled = tf.mul(g, w);
        grads[name] = prev ? tf.add(prev.grads[name]!, scaled) : scaled;
      }
      const v = tf.mul(part.value, w);
      return { value: (prev ? tf.add(prev.value, v) : v) as tf.Scalar, grads };
    });
    tf.dispose([part.value, ...Object.values(part.grads)]);
    if (prev) tf.dispose([prev.value, ...Object.values(prev.grads)]);
    acc = next;
  }
  if (!acc) throw new ParamsMismatchError('no micro-batches were run');
  return acc;
}

/** Rows [start, start + size) of a batch tensor (first axis). */
export function sliceBatch<T extends tf.Tensor>(x: T, start: number, size: number): T {
  if (start === 0 && size === x.shape[0]) return x;
  const begin = x.shape.map((_, i) => (i === 0 ? start : 0));
  const sz = x.shape.map((d, i) => (i === 0 ? size : d));
  return tf.slice(x, begin, sz) as T;
}
