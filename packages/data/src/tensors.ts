/**
 * The one place batches become tfjs tensors. Tensors are created in the caller's scope (so a
 * surrounding `tf.tidy` tracks them); outside a tidy the caller disposes them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BatchArrays } from './batches.js';
import type { ClassificationPipeline } from './pipeline.js';
import type { ImageSet } from './image-set.js';

/** A batch as tensors: `x` NHWC float32, `y` int32 class indices. */
export interface TensorBatch {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
}

/** Wraps batch arrays as tensors (no copy of the pixel buffer beyond what tfjs does). */
export function batchToTensors(batch: BatchArrays): TensorBatch {
  return { x: tf.tensor4d(batch.x, batch.shape, 'float32'), y: tf.tensor1d(batch.y, 'int32') };
}

/**
 * The training batches of one epoch from `startStep` on (resume mid-epoch by passing the next step).
 * Each yielded batch belongs to the caller: dispose it (or create it inside `tf.tidy`).
 */
export function* trainBatches(
  pipeline: ClassificationPipeline,
  epoch: number,
  batchSize: number,
  startStep = 0,
): Generator<TensorBatch & { step: number }> {
  const steps = pipeline.stepsPerEpoch(batchSize);
  for (let step = startStep; step < steps; step++) {
    yield { ...batchToTensors(pipeline.trainBatchArrays(epoch, step, batchSize)), step };
  }
}

/** Unaugmented batches covering all of `set` (the last one may be smaller). Caller disposes. */
export function* evalBatches(
  pipeline: ClassificationPipeline,
  set: ImageSet,
  batchSize: number,
): Generator<TensorBatch & { start: number }> {
  for (let start = 0; start < set.count; start += batchSize) {
    yield { ...batchToTensors(pipeline.evalBatchArrays(set, start, batchSize)), start };
  }
}
