/**
 * Helpers for m-sharpness and micro-batched loss closures: which rows of the batch belong to the
 * sub-batch the closure is asked for (`ctx.chunk` of `ctx.chunks`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from './errors.js';
import type { StepContext } from './loss-gradients.js';

/**
 * Rows [start, start + size) of a batch of `batchSize` examples that form sub-batch `ctx.chunk` of
 * `ctx.chunks`. Sizes differ by at most one (the first `batchSize % chunks` chunks get one more), so
 * equal sub-batches (batchSize divisible by chunks) give exactly the paper's m-sharpness average, and
 * make the average of micro-batch mean losses (`microBatches`) equal the full batch's mean loss.
 */
export function chunkRange(batchSize: number, ctx: Pick<StepContext, 'chunk' | 'chunks'>): { start: number; size: number } {
  const { chunk, chunks } = ctx;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidOptionError('batchSize', `must be an integer >= 1, got ${batchSize}`);
  }
  if (!Number.isInteger(chunks) || chunks < 1 || !Number.isInteger(chunk) || chunk < 0 || chunk >= chunks) {
    throw new InvalidOptionError('chunk', `need integers 0 <= chunk < chunks, got chunk ${chunk} of ${chunks}`);
  }
  if (chunks > batchSize) {
    throw new InvalidOptionError(
      'mSharpness',
      `${chunks} sub-batches (mSharpness × microBatches) cannot be cut from a batch of ${batchSize}`,
    );
  }
  const base = Math.floor(batchSize / chunks);
  const extra = batchSize % chunks;
  const start = chunk * base + Math.min(chunk, extra);
  return { start, size: base + (chunk < extra ? 1 : 0) };
}

/** The part of `x` (batch along `axis`, default 0) that belongs to sub-batch `ctx.chunk`; `x` itself when chunks is 1. */
export function sliceChunk<T extends tf.Tensor>(x: T, ctx: Pick<StepContext, 'chunk' | 'chunks'>, axis = 0): T {
  if (ctx.chunks === 1 && ctx.chunk === 0) return x;
  const { start, size } = chunkRange(x.shape[axis]!, ctx);
  const begin = x.shape.map((_, i) => (i === axis ? start : 0));
  const sizes = x.shape.map((d, i) => (i === axis ? size : d));
  return tf.slice(x, begin, sizes) as T;
}
