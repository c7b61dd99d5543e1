import { InvalidOptionError } from './errors.js';

/**
 * What is subtracted before the spectrum is taken:
 * - `'feature'`: each column's mean over the examples (standard PCA, the paper's wording, the fixtures);
 * - `'sample'`: each row's own mean over its features (what the original ResNet / ViT / MS-COCO code did);
 * - `'none'`: nothing (the original two-layer code).
 */
export type Centering = 'feature' | 'sample' | 'none';

/** How the squared singular values were obtained. */
export type SpectrumMethod = 'jacobi' | 'gram-features' | 'gram-examples';

/** Squared singular values of a (centered) feature matrix and what follows from them. */
export interface Spectrum {
  /** σᵢ², descending, float64, `min(rows, cols)` of them; round-off negatives of the Gram route are clamped to 0. */
  readonly squared: Float64Array;
  /** Cᵢ / C with Cᵢ = σ₁² + … + σᵢ² and C the total; `null` when the total is 0. */
  readonly cumulative: Float64Array | null;
  /** C = Σσᵢ² = ‖centered matrix‖_F². */
  readonly total: number;
  /** Rows (examples) of the matrix. */
  readonly rows: number;
  /** Columns (features) of the matrix. */
  readonly cols: number;
  /** The centering applied before the spectrum. */
  readonly center: Centering;
  /**
   * `'jacobi'`: one-sided Jacobi SVD, σ accurate to ~ε·σ₁; `'gram-features'` / `'gram-examples'`: eigenvalues
   * of the d×d or n×n Gram matrix, σ² accurate to ~ε·σ₁²·min(n, d) (σ itself only down to ~√ε·σ₁).
   */
  readonly method: SpectrumMethod;
}

const CENTERINGS: readonly Centering[] = ['feature', 'sample', 'none'];

/** Throws {@link InvalidOptionError} unless `center` is one of the three centerings. */
export function checkCentering(center: unknown): Centering {
  if (!CENTERINGS.includes(center as Centering)) {
    throw new InvalidOptionError(`center must be one of ${CENTERINGS.join(', ')}; got ${String(center)}`);
  }
  return center as Centering;
}

/** Sorts descending, clamps negatives to 0, keeps the `keep` largest and adds the cumulative ratios. */
export function buildSpectrum(
  values: Float64Array,
  keep: number,
  meta: { rows: number; cols: number; center: Centering; method: SpectrumMethod },
): Spectrum {
  const sorted = Float64Array.from(values).sort().reverse();
  const squared = new Float64Array(keep);
  for (let i = 0; i < keep && i < sorted.length; i++) squared[i] = Math.max(0, sorted[i]!);
  let total = 0;
  for (let i = 0; i < keep; i++) total += squared[i]!;
  let cumulative: Float64Array | null = null;
  if (total > 0) {
    cumulative = new Float64Array(keep);
    let acc = 0;
    for (let i = 0; i < keep; i++) {
      acc += squared[i]!;
      cumulative[i] = acc / total;
    }
  }
  return { squared, cumulative, total, ...meta };
}

/** σᵢ = √σᵢ², descending. */
export function singularValues(spectrum: Spectrum): Float64Array {
  return spectrum.squared.map(Math.sqrt);
}
