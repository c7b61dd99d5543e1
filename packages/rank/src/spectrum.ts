import { RankAccumulator, type GramSide } from './accumulator.js';
import { InvalidOptionError } from './errors.js';
import { jacobiSingularValues } from './jacobi.js';
import { assertFinite, toDense, type DenseMatrix, type MatrixInput } from './matrix.js';
import { buildSpectrum, checkCentering, type Centering, type Spectrum } from './spectrum-result.js';

/** Options of {@link spectrum}. */
export interface SpectrumOptions {
  /** Default `'feature'` (column-mean PCA). See {@link Centering}. */
  center?: Centering;
  /**
   * `'auto'` (default): one-sided Jacobi SVD when min(n,d)²·max(n,d) ≤ 2²², else the Gram route.
   * `'jacobi'`: always the SVD (accurate small σ; slow for big matrices). `'gram'`: always the Gram route.
   */
  method?: 'auto' | 'jacobi' | 'gram';
  /** Which Gram the Gram route forms; default `'auto'` (the smaller one). */
  gram?: GramSide;
}

/** Above this many multiply-adds per Jacobi sweep the Gram route is used. */
const JACOBI_LIMIT = 1 << 22;

function centeredColumnsForJacobi(x: DenseMatrix, center: Centering): { cols: Float64Array; m: number; len: number } {
  const { data, rows: n, cols: d } = x;
  const centered = new Float64Array(n * d);
  if (center === 'feature') {
    for (let c = 0; c < d; c++) {
      let s = 0;
      for (let r = 0; r < n; r++) s += data[r * d + c]!;
      const mean = s / n;
      for (let r = 0; r < n; r++) centered[r * d + c] = data[r * d + c]! - mean;
    }
  } else {
    for (let r = 0; r < n; r++) {
      let mean = 0;
      if (center === 'sample') {
        for (let c = 0; c < d; c++) mean += data[r * d + c]!;
        mean /= d;
      }
      for (let c = 0; c < d; c++) centered[r * d + c] = data[r * d + c]! - mean;
    }
  }
  if (d <= n) {
    // Rotate the d columns (each of length n): store them contiguously.
    const cols = new Float64Array(n * d);
    for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) cols[c * n + r] = centered[r * d + c]!;
    return { cols, m: d, len: n };
  }
  // Rotate the n rows (each of length d): already contiguous.
  return { cols: centered, m: n, len: d };
}

/**
 * Squared singular values (descending, float64) of the centered matrix, with cumulative explained-variance
 * ratios. Rows are examples, columns features.
 */
export function spectrum(matrix: MatrixInput, options: SpectrumOptions = {}): Spectrum {
  const center = checkCentering(options.center ?? 'feature');
  const method = options.method ?? 'auto';
  if (!['auto', 'jacobi', 'gram'].includes(method)) {
    throw new InvalidOptionError(`method must be auto, jacobi or gram; got ${String(method)}`);
  }
  // Float32 data goes to the Gram route unscanned: its SIMD packer reports NaN/Inf (and the row) itself.
  const x = toDense(matrix, 'matrix', { checkFinite: false });
  const small = Math.min(x.rows, x.cols);
  const large = Math.max(x.rows, x.cols);
  if (method === 'jacobi' || (method === 'auto' && small * small * large <= JACOBI_LIMIT)) {
    assertFinite(x.data, x.cols, 'matrix');
    const { cols, m, len } = centeredColumnsForJacobi(x, center);
    const sv = jacobiSingularValues(cols, m, len);
    return buildSpectrum(
      sv.map((s) => s * s),
      small,
      { rows: x.rows, cols: x.cols, center, method: 'jacobi' },
    );
  }
  if (!(x.data instanceof Float32Array)) assertFinite(x.data, x.cols, 'matrix');
  return RankAccumulator.oneShot(x, { center, gram: options.gram ?? 'auto' });
}
