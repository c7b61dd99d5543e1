/**
 * Streaming Gram accumulation: batches of rows go in, the spectrum comes out, and the full n × d matrix
 * is held only while it is the smaller side. Rows are buffered until there are more of them than
 * features; from then on only the d × d Gram (float64) and the column sums are kept. At the end the
 * smaller Gram (n × n from the buffer, or d × d) is eigen-solved.
 *
 * Column ("feature") centering across batches uses a shift: the Gram of x − s is accumulated, with s the
 * column mean of the first rows seen in Gram mode, and corrected by n·(m − s)(m − s)ᵀ at the end, which
 * avoids the cancellation of the textbook Σxxᵀ − n·mmᵀ when the means are large.
 */
import { solverInput, symmetricEigenvalues, symmetricEigenvaluesMinus } from './eigen.js';
import { InvalidOptionError, ShapeMismatchError } from './errors.js';
import { addProductTN, addRowGramF32, type Operand } from './gemm.js';
import { assertFinite, toDense, type DenseMatrix, type MatrixInput } from './matrix.js';
import { rankFromSpectrum, type RankRuleOptions } from './rank-rule.js';
import { buildSpectrum, checkCentering, type Centering, type Spectrum } from './spectrum-result.js';

/** Which Gram the accumulator forms: `'auto'` picks the smaller of n × n and d × d. */
export type GramSide = 'auto' | 'features' | 'examples';

/** Options of {@link RankAccumulator}. */
export interface AccumulatorOptions {
  /** Default `'feature'`. */
  center?: Centering;
  /** Default `'auto'`. `'features'` never buffers rows; `'examples'` always does. */
  gram?: GramSide;
}

/**
 * A d × d Gram of shifted rows, Σ(x − s)(x − s)ᵀ (upper triangle, float64), with the column sums of x − s
 * when the shift is the column-centering one. Shared by the core and the tfjs accumulators: only how the
 * block products are formed differs.
 */
export class ShiftedGram {
  /** Upper triangle, row-major d × d. */
  readonly G: Float64Array;
  /** Σ(x − s) per column; null unless centering by columns. */
  readonly sums: Float64Array | null;
  rows = 0;

  constructor(
    readonly d: number,
    /** Column shift s for `'feature'` centering (null otherwise). */
    readonly shift: Float64Array | null,
    /** Zeroed storage for G (d × d), else a new array. */
    storage?: Float64Array,
  ) {
    this.G = storage ?? new Float64Array(d * d);
    this.sums = shift ? new Float64Array(d) : null;
  }

  /**
   * Eigenvalues (descending) of Σ(x−m)(x−m)ᵀ = Σ(x−s)(x−s)ᵀ − n·(m−s)(m−s)ᵀ with m − s = sums / n. The correction
   * is applied in the eigen-solver's copy, so G stays as it is and the accumulator usable, unless G is the solver's
   * own array (`solverInput`, one-shot spectra), which the solve consumes.
   */
  eigenvalues(): Float64Array {
    const { d, rows: n } = this;
    if (!this.sums || n === 0) return symmetricEigenvalues(this.G, d);
    return symmetricEigenvaluesMinus(this.G, d, { u: this.sums.map((v) => v / n), scale: n });
  }
}

function rowMeans(x: DenseMatrix): Float64Array {
  const { data, rows, cols } = x;
  const means = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0, o = r * cols; c < cols; c++) s += data[o + c]!;
    means[r] = s / cols;
  }
  return means;
}

/** Column means over the first `limit` rows (all by default). */
function columnMeans(x: DenseMatrix, limit = Infinity): Float64Array {
  const { data, cols } = x;
  const rows = Math.min(x.rows, limit);
  const sums = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0, o = r * cols; c < cols; c++) sums[c]! += data[o + c]!;
  for (let c = 0; c < cols; c++) sums[c]! /= rows;
  return sums;
}

/**
 * Accumulates batches of rows of one feature matrix and returns its spectrum / feature rank.
 * All three centerings are exact: the result equals the one-shot computation on the stacked batches.
 */
export class RankAccumulator {
  /** Number of features (columns) every batch must have. */
  readonly cols: number;
  /** What is subtracted before the spectrum (see {@link featureRank}'s `center`). */
  readonly center: Centering;
  /** Which Gram matrix the spectrum comes from (`'auto'`: the smaller one). */
  readonly gram: GramSide;
  private buffered: DenseMatrix[] = [];
  private bufferedRows = 0;
  private gramState: ShiftedGram | null = null;
  /**
   * Set by {@link RankAccumulator.oneShot}: the Gram is formed in the eigen-solver's memory (no fresh array, whose page
   * faults cost about 6 ms per 2 MiB on the benchmark VM, and no copy into the solver), and consumed by the solve.
   */
  private transient = false;

  constructor(cols: number, options: AccumulatorOptions = {}) {
    if (!Number.isInteger(cols) || cols <= 0) throw new InvalidOptionError(`cols must be a positive integer, got ${cols}`);
    this.cols = cols;
    this.center = checkCentering(options.center ?? 'feature');
    const gram = options.gram ?? 'auto';
    if (!['auto', 'features', 'examples'].includes(gram)) {
      throw new InvalidOptionError(`gram must be auto, features or examples; got ${String(gram)}`);
    }
    this.gram = gram;
  }

  /** Rows added so far. */
  get rows(): number {
    return this.bufferedRows + (this.gramState?.rows ?? 0);
  }

  /**
   * Adds a batch of rows (examples). Typed data is copied when it has to be buffered, so the caller may
   * reuse its buffer.
   */
  add(batch: MatrixInput): this {
    // Float32 data is checked for NaN/Inf where it is consumed (the SIMD packer flags it for free).
    const x = toDense(batch, 'matrix', { checkFinite: false, rowOffset: this.rows });
    if (!(x.data instanceof Float32Array)) assertFinite(x.data, x.cols, 'matrix', this.rows);
    return this.addDense(x, true);
  }

  /**
   * @internal The spectrum of one validated matrix, its Gram formed in the eigen-solver's memory (the accumulator is
   * never seen by the caller, so nothing else can hold on to that array).
   */
  static oneShot(x: DenseMatrix, options: AccumulatorOptions): Spectrum {
    const acc = new RankAccumulator(x.cols, options);
    acc.transient = true;
    return acc.addDense(x, false).spectrum();
  }

  /** @internal Adds an already validated batch; `copy = false` lets one-shot callers skip the copy. */
  addDense(x: DenseMatrix, copy: boolean): this {
    if (x.cols !== this.cols) {
      throw new ShapeMismatchError(`batch has ${x.cols} columns, the accumulator expects ${this.cols}`);
    }
    if (this.gramState === null && this.gram !== 'features') {
      this.buffered.push(copy ? { data: x.data.slice(), rows: x.rows, cols: x.cols } : x);
      this.bufferedRows += x.rows;
      if (this.gram === 'auto' && this.bufferedRows > this.cols) this.switchToFeatureGram();
      return this;
    }
    this.addToFeatureGram(x);
    return this;
  }

  private switchToFeatureGram(): void {
    const stacked = this.stackBuffer();
    this.buffered = [];
    this.bufferedRows = 0;
    this.addToFeatureGram(stacked);
  }

  private stackBuffer(): DenseMatrix {
    if (this.buffered.length === 1) return this.buffered[0]!;
    const f64 = this.buffered.some((b) => b.data instanceof Float64Array);
    const data = f64 ? new Float64Array(this.bufferedRows * this.cols) : new Float32Array(this.bufferedRows * this.cols);
    let offset = 0;
    for (const b of this.buffered) {
      data.set(b.data, offset);
      offset += b.data.length;
    }
    return { data, rows: this.bufferedRows, cols: this.cols };
  }

  private addToFeatureGram(x: DenseMatrix): void {
    const d = this.cols;
    // Shift by the column means of the first (up to 256) rows, rounded to float32 so the float32 kernels
    // subtract it exactly: later sums of x − s stay small, so the final correction cancels nothing.
    this.gramState ??= new ShiftedGram(
      d,
      this.center === 'feature' ? columnMeans(x, 256).map(Math.fround) : null,
      this.transient ? solverInput(d) : undefined,
    );
    const state = this.gramState;
    const kShift = this.center === 'sample' ? rowMeans(x) : null;
    if (x.data instanceof Float32Array) {
      const badRow = addRowGramF32(x.data, d, 0, x.rows, state.shift, kShift, state.G, state.sums);
      if (badRow >= 0) {
        assertFinite(x.data.subarray(badRow * d), d, 'matrix', state.rows + badRow);
      }
    } else {
      const op: Operand = { data: x.data, offset: 0, strideK: d, strideC: 1, k: x.rows, c: d, cShift: state.shift, kShift };
      addProductTN(op, null, state.G);
      if (state.sums) {
        const sums = state.sums;
        const s = state.shift!;
        const data = x.data;
        for (let r = 0; r < x.rows; r++) for (let c = 0, o = r * d; c < d; c++) sums[c]! += data[o + c]! - s[c]!;
      }
    }
    state.rows += x.rows;
  }

  /** Feature rank of everything added so far (see `rankFromSpectrum` for the options). */
  featureRank(options: RankRuleOptions = {}): number {
    return rankFromSpectrum(this.spectrum(), options);
  }

  /** The spectrum of everything added so far (the accumulator stays usable). */
  spectrum(): Spectrum {
    const n = this.rows;
    if (n === 0) throw new InvalidOptionError('RankAccumulator.spectrum(): no rows were added');
    const d = this.cols;
    const keep = Math.min(n, d);
    const meta = { rows: n, cols: d, center: this.center };
    if (this.gramState === null) {
      const x = this.stackBuffer();
      if (x.data instanceof Float32Array) assertFinite(x.data, d, 'matrix');
      const op: Operand = {
        data: x.data,
        offset: 0,
        strideK: 1,
        strideC: d,
        k: d,
        c: n,
        kShift: this.center === 'feature' ? columnMeans(x) : null,
        cShift: this.center === 'sample' ? rowMeans(x) : null,
      };
      const G = this.transient ? solverInput(n) : new Float64Array(n * n);
      addProductTN(op, null, G);
      return buildSpectrum(symmetricEigenvalues(G, n), keep, { ...meta, method: 'gram-examples' });
    }
    return buildSpectrum(this.gramState.eigenvalues(), keep, { ...meta, method: 'gram-features' });
  }
}
