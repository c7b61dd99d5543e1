/**
 * Seeded matrices for the tests (not exported by the package). Draws come from `createRng` of
 * @samrank/core, the RNG every samrank package draws from.
 */
import { createRng } from '@samrank/core';

/** n × m matrix with orthonormal columns (Gram–Schmidt on Gaussian columns, twice for accuracy), row-major. */
export function orthonormalColumns(n: number, m: number, seed: number): Float64Array {
  const rng = createRng(seed);
  const q = new Float64Array(n * m);
  for (let j = 0; j < m; j++) {
    for (let i = 0; i < n; i++) q[i * m + j] = rng.normal();
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += q[i * m + j]! * q[i * m + p]!;
        for (let i = 0; i < n; i++) q[i * m + j]! -= dot * q[i * m + p]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += q[i * m + j]! ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) q[i * m + j]! /= norm;
  }
  return q;
}

/** U · diag(s) · Vᵀ with orthonormal U (n × r) and V (d × r), r = s.length: singular values exactly s. */
export function knownSpectrum(n: number, d: number, s: readonly number[], seed: number): Float64Array {
  const r = s.length;
  const U = orthonormalColumns(n, r, seed);
  const V = orthonormalColumns(d, r, seed + 1);
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      let v = 0;
      for (let k = 0; k < r; k++) v += U[i * r + k]! * s[k]! * V[j * r + k]!;
      x[i * d + j] = v;
    }
  }
  return x;
}

/** Gaussian n × d matrix with column scales `scale(j)` plus per-column offsets (so centering matters). */
export function gaussian(n: number, d: number, seed: number, scale: (j: number) => number = () => 1): Float64Array {
  const rng = createRng(seed);
  const x = new Float64Array(n * d);
  const offsets = Array.from({ length: d }, () => 3 * rng.normal());
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = offsets[j]! + scale(j) * rng.normal();
  return x;
}

/** Rank-k n × d matrix (product of Gaussian n × k and k × d factors). */
export function rankK(n: number, d: number, k: number, seed: number): Float64Array {
  const rng = createRng(seed);
  const a = Float64Array.from({ length: n * k }, () => rng.normal());
  const b = Float64Array.from({ length: k * d }, () => rng.normal());
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      let v = 0;
      for (let t = 0; t < k; t++) v += a[i * k + t]! * b[t * d + j]!;
      x[i * d + j] = v;
    }
  return x;
}

export { createRng };
