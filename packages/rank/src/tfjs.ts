/**
 * TensorFlow.js adapter (`@samrank/rank/tfjs`): the Gram matrix is formed on the active tfjs backend, in
 * blocks whose float32 products are summed in float64, and then handed to the core float64 eigen-solver.
 *
 * The products are written `matMul(transpose(A), A)` / `matMul(A, transpose(A))`: the wasm backend runs
 * those through XNNPACK, while `matMul(A, A, true)` falls back to a loop ~20× slower (docs/backend-notes.md §2.3, §7.2).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShiftedGram, type GramSide } from './accumulator.js';
import { symmetricEigenvalues } from './eigen.js';
import { EmptyMatrixError, InvalidOptionError, ShapeMismatchError } from './errors.js';
import { assertFinite } from './matrix.js';
import { rankFromSpectrum, type RankRuleOptions } from './rank-rule.js';
import { buildSpectrum, checkCentering, type Centering, type Spectrum } from './spectrum-result.js';

/** Options of the tfjs adapter. */
export interface TfSpectrumOptions {
  /** Default `'feature'`. */
  center?: Centering;
  /** Default `'auto'`: the smaller of n × n and d × d. */
  gram?: GramSide;
  /** Rows (d × d Gram) or columns (n × n Gram) per float32 block product; default 1024. */
  blockSize?: number;
}

function checkTensor(x: tf.Tensor, what: string): [number, number] {
  if (x.rank !== 2) throw new ShapeMismatchError(`${what} must be a rank-2 tensor [examples, features], got shape [${x.shape.join(', ')}]`);
  const [n, d] = x.shape as [number, number];
  if (n === 0 || d === 0) throw new EmptyMatrixError(what, n, d);
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new InvalidOptionError(`${what} has dtype ${x.dtype}; need float32 or int32`);
  return [n, d];
}

/** Throws NonFiniteValueError (with row and column) if x holds NaN/Inf; reads only a flag unless it does. */
function checkFinite(x: tf.Tensor2D, what: string, rowOffset = 0): void {
  const flag = tf.tidy(() => tf.logicalNot(tf.all(tf.isFinite(x))));
  const bad = flag.dataSync()[0];
  flag.dispose();
  if (bad) assertFinite(x.dataSync(), x.shape[1], what, rowOffset);
}

/** Adds the upper triangle of the float32 product `block` (m × m) into the float64 `G`. */
function addBlock(G: Float64Array, block: tf.Tensor2D, m: number): void {
  const values = block.dataSync();
  for (let i = 0; i < m; i++) for (let j = i, o = i * m; j < m; j++) G[o + j]! += values[o + j]!;
}

function centeredTensor(x: tf.Tensor2D, center: Centering): tf.Tensor2D {
  const xf = tf.cast(x, 'float32') as tf.Tensor2D;
  if (center === 'none') return xf;
  return tf.sub(xf, tf.mean(xf, center === 'feature' ? 0 : 1, true));
}

/**
 * Gram matrix (upper triangle, float64) of the centered tensor, the smaller side by default.
 * Returns the matrix, its side and its size m.
 */
export function gramTf(
  x: tf.Tensor2D,
  options: TfSpectrumOptions = {},
): { gram: Float64Array; side: 'features' | 'examples'; size: number } {
  const [n, d] = checkTensor(x, 'x');
  checkFinite(x, 'x');
  const center = checkCentering(options.center ?? 'feature');
  const sideOpt = options.gram ?? 'auto';
  const side = sideOpt === 'auto' ? (n > d ? 'features' : 'examples') : sideOpt;
  const block = Math.max(1, Math.floor(options.blockSize ?? 1024));
  const m = side === 'features' ? d : n;
  const G = new Float64Array(m * m);
  const xc = tf.tidy(() => centeredTensor(x, center));
  try {
    const len = side === 'features' ? n : d;
    for (let s = 0; s < len; s += block) {
      const size = Math.min(block, len - s);
      const prod = tf.tidy(() => {
        if (side === 'features') {
          const rows = tf.slice(xc, [s, 0], [size, d]);
          return tf.matMul(tf.transpose(rows), rows);
        }
        const cols = tf.slice(xc, [0, s], [n, size]);
        return tf.matMul(cols, tf.transpose(cols));
      }) as tf.Tensor2D;
      addBlock(G, prod, m);
      prod.dispose();
    }
  } finally {
    xc.dispose();
  }
  return { gram: G, side, size: m };
}

/** Spectrum (σ² descending, float64, cumulative ratios) of a `[examples, features]` tensor. */
export function spectrumTf(x: tf.Tensor2D, options: TfSpectrumOptions = {}): Spectrum {
  const [n, d] = checkTensor(x, 'x');
  const center = checkCentering(options.center ?? 'feature');
  const { gram, side, size } = gramTf(x, options);
  return buildSpectrum(symmetricEigenvalues(gram, size), Math.min(n, d), {
    rows: n,
    cols: d,
    center,
    method: side === 'features' ? 'gram-features' : 'gram-examples',
  });
}

/** Feature rank of a `[examples, features]` tensor (same rules and defaults as the core `featureRank`). */
export function featureRankTf(x: tf.Tensor2D, options: TfSpectrumOptions & RankRuleOptions = {}): number {
  return rankFromSpectrum(spectrumTf(x, options), options);
}

/**
 * Streaming variant over tensor batches: keeps only the d × d float64 Gram (so it suits n ≥ d; for
 * n < d use `spectrumTf` or the core `RankAccumulator`, which buffers). Batches are not disposed.
 */
export class TfRankAccumulator {
  /** What is subtracted before the spectrum (see `featureRank`'s `center`). */
  readonly center: Centering;
  private state: ShiftedGram | null = null;

  constructor(
    /** Features per row. */
    readonly cols: number,
    options: { center?: Centering } = {},
  ) {
    if (!Number.isInteger(cols) || cols <= 0) throw new InvalidOptionError(`cols must be a positive integer, got ${cols}`);
    this.center = checkCentering(options.center ?? 'feature');
  }

  /** Rows added so far. */
  get rows(): number {
    return this.state?.rows ?? 0;
  }

  /** Adds a `[rows, cols]` batch. */
  add(batch: tf.Tensor2D): this {
    const [n, d] = checkTensor(batch, `batch (rows ${this.rows}..)`);
    if (d !== this.cols) throw new ShapeMismatchError(`batch has ${d} columns, the accumulator expects ${this.cols}`);
    checkFinite(batch, 'batch', this.rows);
    if (!this.state) {
      let shift: Float64Array | null = null;
      if (this.center === 'feature') {
        // The first batch's column means, as float32 values: the tfjs subtraction then uses exactly this shift.
        const mean = tf.tidy(() => tf.mean(tf.cast(batch, 'float32'), 0));
        shift = Float64Array.from(mean.dataSync());
        mean.dispose();
      }
      this.state = new ShiftedGram(d, shift);
    }
    const state = this.state;
    const shifted = tf.tidy(() => {
      const xf = tf.cast(batch, 'float32') as tf.Tensor2D;
      if (this.center === 'sample') return tf.sub(xf, tf.mean(xf, 1, true));
      if (state.shift) return tf.sub(xf, tf.tensor1d(Float32Array.from(state.shift)));
      return xf;
    }) as tf.Tensor2D;
    try {
      const prod = tf.tidy(() => tf.matMul(tf.transpose(shifted), shifted)) as tf.Tensor2D;
      addBlock(state.G, prod, d);
      prod.dispose();
      if (state.sums) {
        // Sums of the float32-rounded shifted values, consistent with the Gram just added.
        const colSums = tf.tidy(() => tf.sum(shifted, 0));
        const v = colSums.dataSync();
        for (let c = 0; c < d; c++) state.sums[c]! += v[c]!;
        colSums.dispose();
      }
    } finally {
      shifted.dispose();
    }
    state.rows += n;
    return this;
  }

  /** Spectrum of everything added so far. */
  spectrum(): Spectrum {
    if (!this.state) throw new InvalidOptionError('TfRankAccumulator.spectrum(): no rows were added');
    const { d, rows } = this.state;
    return buildSpectrum(this.state.eigenvalues(), Math.min(rows, d), {
      rows,
      cols: d,
      center: this.center,
      method: 'gram-features',
    });
  }

  /** Feature rank of everything added so far. */
  featureRank(options: RankRuleOptions = {}): number {
    return rankFromSpectrum(this.spectrum(), options);
  }
}
