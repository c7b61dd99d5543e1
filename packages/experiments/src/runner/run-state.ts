/**
 * What a trained run saves: its model (parameters and BatchNorm statistics, as @samrank/models' checkpoint JSON)
 * and its optimizer's slots, each tensor as base64 of its little-endian bytes. Shared by the experiments whose
 * jobs train a model with SAM over a tfjs optimizer (classification, contrastive).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type BatchNormSpec, type ParamSpec, checkpointFromJSON } from '@samrank/models';
import { type LossClosure, NonFiniteGradientError, type SAM } from '@samrank/optim';
import { z } from 'zod';

/** A tensor saved as base64 of its little-endian bytes. */
export const savedTensorSchema = z.object({
  name: z.string(),
  dtype: z.enum(['float32', 'int32']),
  shape: z.array(z.number().int().nonnegative()),
  base64: z.string(),
});
export type SavedTensor = z.infer<typeof savedTensorSchema>;

/** What a run saves: the model (parameters and BatchNorm statistics) and the optimizer slots. */
export const runStateSchema = z.object({
  model: z.object({
    format: z.literal('samrank-models-checkpoint'),
    version: z.literal(1),
    params: z.record(z.string(), z.object({ shape: z.array(z.number().int().nonnegative()), base64: z.string() })),
    bnState: z.record(
      z.string(),
      z.object({
        mean: z.object({ shape: z.array(z.number().int().nonnegative()), base64: z.string() }),
        variance: z.object({ shape: z.array(z.number().int().nonnegative()), base64: z.string() }),
      }),
    ),
  }),
  optimizer: z.array(savedTensorSchema),
});
export type RunState = z.infer<typeof runStateSchema>;

function toBase64(t: tf.Tensor): SavedTensor['base64'] {
  const values = t.dataSync();
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

/** The optimizer's slots (Adam's moments, momentum buffers, iteration counts) as saved tensors. */
export async function saveOptimizer(sam: SAM): Promise<SavedTensor[]> {
  const weights = await sam.getWeights();
  const out = weights.map((w) => ({
    name: w.name,
    dtype: w.tensor.dtype === 'int32' ? ('int32' as const) : ('float32' as const),
    shape: [...w.tensor.shape],
    base64: toBase64(w.tensor),
  }));
  // Slots that are live variables belong to the optimizer; the rest were made for us.
  tf.dispose(weights.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
  return out;
}

/** Decodes a saved optimizer tensor; throws RangeError when the payload does not fit its shape. */
export function decodeSaved(s: SavedTensor): Float32Array | Int32Array {
  const bytes = Buffer.from(s.base64, 'base64');
  const size = s.shape.reduce((a, b) => a * b, 1);
  if (bytes.toString('base64') !== s.base64 || bytes.byteLength !== 4 * size) {
    throw new RangeError(`optimizer slot '${s.name}' holds ${bytes.byteLength} bytes, expected ${4 * size} for shape [${s.shape}]`);
  }
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return s.dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
}

/** Loads saved slots into `sam`'s base optimizer. */
export async function restoreOptimizer(sam: SAM, saved: SavedTensor[]): Promise<void> {
  const tensors = saved.map((s) => ({ name: s.name, tensor: tf.tensor(decodeSaved(s), s.shape, s.dtype) }));
  await sam.setWeights(tensors);
  tf.dispose(tensors.map((t) => t.tensor));
}

/**
 * Why a saved run state does not fit a model of these parameters and BatchNorm layers (names, shapes), or is not
 * finite, or null. `paramSpecs` null: only the finiteness and the encoding are checked (for experiments whose model
 * also depends on the data, checked again when the job is built).
 */
export function checkSavedRun(
  paramSpecs: readonly ParamSpec[] | null,
  stateSpecs: readonly BatchNormSpec[],
  state: RunState,
): string | null {
  try {
    const ckpt = checkpointFromJSON(state.model);
    for (const [name, p] of Object.entries(ckpt.params)) {
      if (!p.values.every(Number.isFinite)) return `parameter '${name}' is not finite`;
    }
    for (const spec of paramSpecs ?? []) {
      const d = ckpt.params[spec.name];
      if (!d) return `the model checkpoint has no parameter '${spec.name}'`;
      if (d.shape.length !== spec.shape.length || d.shape.some((v, i) => v !== spec.shape[i])) {
        return `parameter '${spec.name}' has shape [${d.shape}], the config's model needs [${spec.shape}]`;
      }
    }
    if (paramSpecs && Object.keys(ckpt.params).length !== paramSpecs.length)
      return "the model checkpoint has parameters the config's model does not";
    for (const bn of stateSpecs) {
      const s = ckpt.bnState[bn.name];
      if (!s || s.mean.values.length !== bn.channels || s.variance.values.length !== bn.channels)
        return `BatchNorm '${bn.name}' statistics are missing or of the wrong size`;
    }
    for (const s of state.optimizer) {
      const values = decodeSaved(s);
      if (s.dtype === 'float32' && !values.every(Number.isFinite)) return `optimizer slot '${s.name}' is not finite`;
    }
  } catch (error) {
    return (error as Error).message;
  }
  return null;
}

/**
 * One SAM step of a single-run job: `[]` when the weights were updated, `[0]` when SAM found the loss or the gradients
 * non-finite before updating (the runner marks the run diverged at this step). `inputs` (the batch) are disposed
 * either way.
 */
export function samStepOrDiverged(sam: SAM, loss: LossClosure, vars: tf.Variable[], inputs: tf.Tensor[]): number[] {
  try {
    sam.minimize(loss, false, vars);
    return [];
  } catch (error) {
    if (error instanceof NonFiniteGradientError) return [0];
    throw error;
  } finally {
    tf.dispose(inputs);
  }
}
