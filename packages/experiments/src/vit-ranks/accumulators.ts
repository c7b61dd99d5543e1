/**
 * What a vit-ranks job keeps between batches, in a form that can be saved to a file at Ctrl-C and restored: per
 * probed tensor the float64 Gram of its row-centred features (the paper's 99 % rule needs only its eigenvalues;
 * docs/paper-notes.md §2.3–2.4), and per block the largest post-GeLU values of each unit for the active-unit count
 * (§4.2). Memory is d² doubles per tensor (8 MB at d = 1024) whatever the number of examples.
 */
import * as tf from '@tensorflow/tfjs-core';
import { rankFromSpectrum, symmetricEigenvalues } from '@samrank/rank';

/**
 * Σ x̃ᵀx̃ over batches, x̃ = each row minus its own mean (`center: 'sample'`): products in float32 on the tfjs
 * backend, one batch at a time, summed in float64 (as @samrank/rank's TfRankAccumulator does). Its eigenvalues are
 * the squared singular values of the stacked row-centred matrix.
 */
export class SampleCenteredGram {
  /** Upper triangle of the d × d Gram, row-major (the lower triangle is unused). */
  readonly gram: Float64Array;
  rows = 0;

  constructor(
    readonly cols: number,
    saved?: { rows: number; gram: Float64Array },
  ) {
    this.gram = saved ? saved.gram : new Float64Array(cols * cols);
    if (saved) this.rows = saved.rows;
  }

  /** Adds a [rows, cols] batch (not disposed). */
  add(batch: tf.Tensor2D): void {
    const d = this.cols;
    const prod = tf.tidy(() => {
      const centred = tf.sub(batch, tf.mean(batch, 1, true));
      // matMul(transpose(A), A): the wasm backend's fast path (docs/backend-notes.md §2.3).
      return tf.matMul(tf.transpose(centred), centred);
    });
    const values = prod.dataSync();
    prod.dispose();
    const G = this.gram;
    for (let i = 0; i < d; i++) for (let j = i, o = i * d; j < d; j++) G[o + j]! += values[o + j]!;
    this.rows += batch.shape[0];
  }

  /** σ² in descending order, the min(rows, cols) largest, negatives from rounding set to 0. */
  squaredSingularValues(): Float64Array {
    const values = symmetricEigenvalues(this.gram, this.cols);
    const keep = Math.min(this.rows, this.cols);
    return Float64Array.from(values.subarray(0, keep), (v) => Math.max(0, v));
  }

  /** The paper's rank: fewest components whose share of Σσ² exceeds `threshold` (the original code's rule). */
  rank(threshold: number): number {
    return rankFromSpectrum(this.squaredSingularValues(), { threshold, rule: 'original' });
  }
}

/** Active units of one post-GeLU matrix (docs/paper-notes.md §4.2, ViT row). */
export interface ActiveUnits {
  active: number;
  units: number;
  /** τ = max/10 of the whole matrix. */
  threshold: number;
  /** Examples the count is over. */
  examples: number;
}

/**
 * The ViT GeLU active-unit count streamed over batches: unit j is active when more than 1 % of the first `examples`
 * inputs give it a value above τ = (maximum of the whole matrix)/10, which is when its k-th largest value exceeds τ
 * with k = ⌊0.01·examples⌋ + 1. So the k largest values per unit and the running maximum suffice.
 */
export class TopActivations {
  /** Per unit, its k largest values so far, descending ([units, k] row-major; −∞ where fewer were seen). */
  readonly top: Float32Array;
  readonly k: number;
  max: number;
  seen: number;

  constructor(
    readonly units: number,
    readonly examples: number,
    saved?: { top: Float32Array; max: number; seen: number },
  ) {
    this.k = Math.floor(0.01 * examples) + 1;
    this.top = saved ? saved.top : new Float32Array(units * this.k).fill(-Infinity);
    this.max = saved ? saved.max : -Infinity;
    this.seen = saved ? saved.seen : 0;
  }

  /** Adds the rows of a [rows, units] batch until `examples` rows were seen (not disposed). */
  add(batch: tf.Tensor2D): void {
    const take = Math.min(batch.shape[0], this.examples - this.seen);
    if (take <= 0) return;
    const { values, max } = tf.tidy(() => {
      const rows = take < batch.shape[0] ? tf.slice(batch, [0, 0], [take, this.units]) : batch;
      const merged = tf.concat([tf.tensor2d(this.top, [this.units, this.k]), tf.transpose(rows)], 1);
      return { values: tf.topk(merged, this.k).values, max: tf.max(rows) };
    });
    this.top.set(values.dataSync());
    this.max = Math.max(this.max, max.dataSync()[0]!);
    tf.dispose([values, max]);
    this.seen += take;
  }

  result(): ActiveUnits {
    const tau = this.max / 10;
    let active = 0;
    for (let u = 0; u < this.units; u++) if (this.top[u * this.k + this.k - 1]! > tau) active++;
    return { active, units: this.units, threshold: tau, examples: this.seen };
  }
}

/** The arrays of a job's accumulators, for a partial-state file: a JSON header line, then the raw arrays. */
export interface PartialState {
  header: Record<string, unknown>;
  arrays: Record<string, Float64Array | Float32Array>;
}

/** Serialises `state`: line 1 JSON (`header`, and the name, dtype and byte length of each array), then the bytes. */
export function encodePartial(state: PartialState): Uint8Array {
  const layout = Object.entries(state.arrays).map(([name, a]) => ({
    name,
    dtype: a instanceof Float64Array ? 'f8' : 'f4',
    bytes: a.byteLength,
  }));
  const head = new TextEncoder().encode(`${JSON.stringify({ header: state.header, layout })}\n`);
  // Pad so that every array starts 8-byte aligned.
  const pad = (8 - (head.length % 8)) % 8;
  const total = head.length + pad + layout.reduce((s, l) => s + l.bytes, 0);
  const out = new Uint8Array(total);
  out.set(head, 0);
  out.fill(0x20, head.length, head.length + pad);
  let at = head.length + pad;
  for (const a of Object.values(state.arrays)) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  }
  return out;
}

/** Inverse of {@link encodePartial}; throws on a malformed file. */
export function decodePartial(bytes: Uint8Array): PartialState {
  const nl = bytes.indexOf(0x0a);
  if (nl < 0) throw new Error('no header line');
  const { header, layout } = JSON.parse(new TextDecoder().decode(bytes.subarray(0, nl))) as {
    header: Record<string, unknown>;
    layout: { name: string; dtype: 'f8' | 'f4'; bytes: number }[];
  };
  let at = nl + 1;
  at += (8 - (at % 8)) % 8;
  const arrays: PartialState['arrays'] = {};
  for (const l of layout) {
    if (at + l.bytes > bytes.length) throw new Error(`array ${l.name} runs past the end of the file`);
    const copy = bytes.slice(at, at + l.bytes);
    arrays[l.name] = l.dtype === 'f8' ? new Float64Array(copy.buffer) : new Float32Array(copy.buffer);
    at += l.bytes;
  }
  return { header, arrays };
}
