/**
 * Rank-like summaries of one spectrum (compute the spectrum once, read several numbers off it).
 * All take a {@link Spectrum} (σᵢ² descending).
 */
import { InvalidOptionError } from './errors.js';
import type { Spectrum } from './spectrum-result.js';

/** Options of {@link effectiveRank}. */
export interface EffectiveRankOptions {
  /**
   * `'sigma'` (default, Roy & Vetterli 2007): pᵢ = σᵢ / Σσ. `'sigma2'`: pᵢ = σᵢ² / Σσ² (entropy of the
   * PCA eigenvalues, as some implementations do). The two differ; report which one was used.
   */
  weights?: 'sigma' | 'sigma2';
}

function entropyRank(weights: ArrayLike<number>, eps: number): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += weights[i]!;
  if (!(sum > 0)) return 0;
  let h = 0;
  for (let i = 0; i < weights.length; i++) {
    const p = weights[i]! / sum + eps;
    if (p > 0) h -= p * Math.log(p);
  }
  return Math.exp(h);
}

/** exp(entropy of the normalized spectrum); 0 for an all-zero spectrum. */
export function effectiveRank(spec: Spectrum, options: EffectiveRankOptions = {}): number {
  const weights = options.weights ?? 'sigma';
  if (weights !== 'sigma' && weights !== 'sigma2') {
    throw new InvalidOptionError(`weights must be sigma or sigma2; got ${String(weights)}`);
  }
  return entropyRank(weights === 'sigma' ? spec.squared.map(Math.sqrt) : spec.squared, 0);
}

/**
 * RankMe (Garrido et al. 2023): exp(−Σ pₖ log pₖ) with pₖ = σₖ/‖σ‖₁ + ε, ε = 1e-7 by default
 * (their float32 constant). Equal to the σ-weighted {@link effectiveRank} up to ε.
 */
export function rankMe(spec: Spectrum, options: { eps?: number } = {}): number {
  return entropyRank(spec.squared.map(Math.sqrt), options.eps ?? 1e-7);
}

/** Stable rank ‖A‖_F² / ‖A‖₂² = Σσᵢ² / σ₁²; 0 for an all-zero spectrum. */
export function stableRank(spec: Spectrum): number {
  const top = spec.squared[0] ?? 0;
  return top > 0 ? spec.total / top : 0;
}

/** Participation ratio (Σλᵢ)² / Σλᵢ² of the PCA eigenvalues λᵢ ∝ σᵢ²; 0 for an all-zero spectrum. */
export function participationRatio(spec: Spectrum): number {
  let s2 = 0;
  for (const l of spec.squared) s2 += l * l;
  return s2 > 0 ? (spec.total * spec.total) / s2 : 0;
}

/**
 * Numerical rank: #{σᵢ > tol}. The default tolerance is numpy's `matrix_rank` one,
 * σ₁·max(n, d)·ε (ε = 2⁻⁵²). A Gram-route spectrum (float32 block products) only resolves σ down to
 * about σ₁·√(max(n, d)·ε₃₂) (ε₃₂ = 2⁻²³), so for it the default is raised to that floor (otherwise
 * round-off would count as rank); pass `tol` to override, or compute the spectrum with
 * `method: 'jacobi'` for numpy-identical results.
 */
export function numericalRank(spec: Spectrum, options: { tol?: number } = {}): number {
  const EPS = 2.220446049250313e-16;
  const s1 = Math.sqrt(spec.squared[0] ?? 0);
  let tol = options.tol;
  if (tol === undefined) {
    tol = s1 * Math.max(spec.rows, spec.cols) * EPS;
    if (spec.method !== 'jacobi') tol = Math.max(tol, s1 * Math.sqrt(Math.max(spec.rows, spec.cols) * 2 ** -23));
  }
  let count = 0;
  for (const l of spec.squared) if (Math.sqrt(l) > tol) count++;
  return count;
}
