/**
 * Checkpoints of parameters + BatchNorm running statistics as plain typed arrays, and a JSON-safe form
 * (little-endian float32 bytes in base64) for writing to disk.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointFormatError, ParamsMismatchError } from './errors.js';
import type { ModelState } from './model.js';
import type { BatchNormSpec, ParamSpec, ParamValues, Params } from './types.js';

/** One tensor's shape and float32 values. */
export interface TensorData {
  shape: number[];
  values: Float32Array;
}

/**
 * Parameters and BatchNorm statistics (a model's state) as typed arrays. `bnState` keeps the name of the JSON
 * format's field, so checkpoints written before the `Model` contract still load.
 */
export interface ModelCheckpoint {
  params: Record<string, TensorData>;
  bnState: Record<string, { mean: TensorData; variance: TensorData }>;
}

/** JSON-safe checkpoint: every tensor's values are base64 of little-endian float32 bytes. */
export interface CheckpointJSON {
  format: 'samrank-models-checkpoint';
  version: 1;
  params: Record<string, { shape: number[]; base64: string }>;
  bnState: Record<string, { mean: { shape: number[]; base64: string }; variance: { shape: number[]; base64: string } }>;
}

/** What a checkpoint must match: a model's parameter and state specs (any `Model` is one). */
export interface CheckpointLayout {
  paramSpecs: readonly ParamSpec[];
  stateSpecs: readonly BatchNormSpec[];
}

async function read(t: tf.Tensor): Promise<TensorData> {
  return { shape: [...t.shape], values: Float32Array.from(await t.data()) };
}

/** Copies parameters and (optionally) the model's state (BatchNorm statistics) out of tfjs. */
export async function saveCheckpoint(params: ParamValues, state: ModelState | null = null): Promise<ModelCheckpoint> {
  const out: ModelCheckpoint = { params: {}, bnState: {} };
  for (const [name, t] of Object.entries(params)) out.params[name] = await read(t);
  for (const [name, s] of Object.entries(state ?? {})) {
    out.bnState[name] = { mean: await read(s.mean), variance: await read(s.variance) };
  }
  return out;
}

function checkTensorData(where: string, d: TensorData, expected?: readonly number[]): void {
  const size = d.shape.reduce((a, b) => a * b, 1);
  if (d.values.length !== size) {
    throw new CheckpointFormatError(`${where}: shape [${d.shape}] needs ${size} values, found ${d.values.length}`);
  }
  if (expected && (expected.length !== d.shape.length || expected.some((v, i) => v !== d.shape[i]))) {
    throw new ParamsMismatchError(`${where}: checkpoint shape [${d.shape}] does not match the model's [${expected}]`);
  }
  for (let i = 0; i < d.values.length; i++) {
    if (!Number.isFinite(d.values[i]!)) throw new CheckpointFormatError(`${where}: value ${i} is not finite (${d.values[i]})`);
  }
}

function checkLayout(ckpt: ModelCheckpoint, layout: CheckpointLayout): void {
  const want = new Set(layout.paramSpecs.map((s) => s.name));
  const extra = Object.keys(ckpt.params).filter((n) => !want.has(n));
  const missing = [...want].filter((n) => !(n in ckpt.params));
  const wantBn = new Set(layout.stateSpecs.map((s) => s.name));
  extra.push(
    ...Object.keys(ckpt.bnState)
      .filter((n) => !wantBn.has(n))
      .map((n) => `bn:${n}`),
  );
  missing.push(...[...wantBn].filter((n) => !(n in ckpt.bnState)).map((n) => `bn:${n}`));
  if (missing.length || extra.length) {
    throw new ParamsMismatchError(
      `checkpoint does not fit the model: missing [${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}], ` +
        `unexpected [${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''}]`,
    );
  }
}

/**
 * Creates variables and state tensors from a checkpoint (the shape of `model.init`'s result). With a `layout`
 * (a model), names and shapes are checked first and parameters come out in the model's order.
 */
export function restoreCheckpoint(ckpt: ModelCheckpoint, layout?: CheckpointLayout): { params: Params; state: ModelState } {
  const shapes = new Map(layout?.paramSpecs.map((s) => [s.name, s.shape]));
  const channels = new Map(layout?.stateSpecs.map((s) => [s.name, s.channels]));
  if (layout) checkLayout(ckpt, layout);
  const names = layout ? layout.paramSpecs.map((s) => s.name) : Object.keys(ckpt.params);
  for (const name of names) checkTensorData(`parameter '${name}'`, ckpt.params[name]!, shapes.get(name));
  for (const [name, s] of Object.entries(ckpt.bnState)) {
    const c = channels.get(name);
    checkTensorData(`BatchNorm '${name}' mean`, s.mean, c === undefined ? undefined : [c]);
    checkTensorData(`BatchNorm '${name}' variance`, s.variance, c === undefined ? undefined : [c]);
  }
  const params: Params = {};
  for (const name of names) {
    const d = ckpt.params[name]!;
    const t = tf.tensor(d.values, d.shape, 'float32');
    params[name] = tf.variable(t, true);
    t.dispose();
  }
  const state: ModelState = {};
  for (const [name, s] of Object.entries(ckpt.bnState)) {
    state[name] = { mean: tf.tensor1d(s.mean.values), variance: tf.tensor1d(s.variance.values) };
  }
  return { params, state };
}

/** Writes checkpoint values into existing variables (e.g. to roll a run back), after checking names and shapes. */
export function assignCheckpoint(params: Params, ckpt: ModelCheckpoint): void {
  for (const [name, v] of Object.entries(params)) {
    const d = ckpt.params[name];
    if (!d) throw new ParamsMismatchError(`checkpoint has no parameter '${name}'`);
    checkTensorData(`parameter '${name}'`, d, v.shape);
  }
  for (const [name, v] of Object.entries(params)) {
    const d = ckpt.params[name]!;
    tf.tidy(() => v.assign(tf.tensor(d.values, d.shape, 'float32')));
  }
}

function toBase64(values: Float32Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

function fromBase64(where: string, text: unknown, shape: unknown): TensorData {
  if (typeof text !== 'string' || !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new CheckpointFormatError(`${where}: expected { shape: int[], base64: string }`);
  }
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 4 !== 0 || bytes.toString('base64') !== text) {
    throw new CheckpointFormatError(`${where}: payload is not valid base64 of float32 values`);
  }
  const values = new Float32Array(bytes.length / 4);
  new Uint8Array(values.buffer).set(bytes);
  const d = { shape: shape as number[], values };
  checkTensorData(where, d);
  return d;
}

/** JSON-safe form of a checkpoint (`JSON.stringify` it). */
export function checkpointToJSON(ckpt: ModelCheckpoint): CheckpointJSON {
  const enc = (d: TensorData) => ({ shape: [...d.shape], base64: toBase64(d.values) });
  const out: CheckpointJSON = { format: 'samrank-models-checkpoint', version: 1, params: {}, bnState: {} };
  for (const [name, d] of Object.entries(ckpt.params)) out.params[name] = enc(d);
  for (const [name, s] of Object.entries(ckpt.bnState)) out.bnState[name] = { mean: enc(s.mean), variance: enc(s.variance) };
  return out;
}

/** Parses the JSON-safe form back (validates format tag, base64 payloads, sizes and finiteness). */
export function checkpointFromJSON(json: unknown): ModelCheckpoint {
  const j = json as Partial<CheckpointJSON> | null;
  if (!j || typeof j !== 'object' || j.format !== 'samrank-models-checkpoint' || j.version !== 1) {
    throw new CheckpointFormatError("not a samrank model checkpoint (expected format 'samrank-models-checkpoint', version 1)");
  }
  if (typeof j.params !== 'object' || j.params === null || typeof j.bnState !== 'object' || j.bnState === null) {
    throw new CheckpointFormatError('checkpoint needs `params` and `bnState` objects');
  }
  const out: ModelCheckpoint = { params: {}, bnState: {} };
  for (const [name, d] of Object.entries(j.params)) out.params[name] = fromBase64(`parameter '${name}'`, d?.base64, d?.shape);
  for (const [name, s] of Object.entries(j.bnState)) {
    out.bnState[name] = {
      mean: fromBase64(`BatchNorm '${name}' mean`, s?.mean?.base64, s?.mean?.shape),
      variance: fromBase64(`BatchNorm '${name}' variance`, s?.variance?.base64, s?.variance?.shape),
    };
  }
  return out;
}
