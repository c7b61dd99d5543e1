/**
 * Plain SGD's gradients over micro-batches for the benchmarks: a batch too large for the wasm32 heap (width 64 at
 * batch 128) runs as `chunks` contiguous slices — @samrank/optim's `chunkRange` / `sliceChunk`, the split its
 * SAM `microBatches` option uses — with gradients (keyed like `params`) averaged by slice size.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  type BatchNormMode,
  type BatchNormStateStore,
  type Model,
  type Params,
  type ValueAndGrads,
  classificationLoss,
  valueAndGrads,
} from '@samrank/models';
import { chunkRange, sliceChunk } from '@samrank/optim';

/** Mean cross-entropy and its gradients over `chunks` micro-batches of (x, y), BatchNorm in `mode`. */
export function accumulatedGrads(
  model: Model,
  params: Params,
  store: BatchNormStateStore,
  x: tf.Tensor,
  y: tf.Tensor1D,
  mode: BatchNormMode,
  chunks: number,
): ValueAndGrads {
  const n = x.shape[0]!;
  let acc: ValueAndGrads | null = null;
  for (let chunk = 0; chunk < chunks; chunk++) {
    const ctx = { chunk, chunks };
    const part = valueAndGrads(params, () => classificationLoss(model, params, store, sliceChunk(x, ctx), sliceChunk(y, ctx), mode)());
    if (chunks === 1) return part;
    const w = chunkRange(n, ctx).size / n;
    const prev: ValueAndGrads | null = acc;
    const next: ValueAndGrads = tf.tidy(() => {
      const grads: Record<string, tf.Tensor> = {};
      for (const [name, g] of Object.entries(part.grads)) grads[name] = prev ? tf.add(prev.grads[name]!, tf.mul(g, w)) : tf.mul(g, w);
      const v = tf.mul(part.value, w);
      return { value: (prev ? tf.add(prev.value, v) : v) as tf.Scalar, grads };
    });
    tf.dispose([part.value, ...Object.values(part.grads)]);
    if (prev) tf.dispose([prev.value, ...Object.values(prev.grads)]);
    acc = next;
  }
  return acc!;
}
