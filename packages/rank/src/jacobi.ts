/**
 * Singular values by one-sided (Hestenes) Jacobi rotations. Slower than the Gram route (O(m²·L) per
 * sweep) but accurate to ~ε·σ₁ in absolute terms, where the Gram route only resolves σ down to
 * ~√ε·σ₁: it is what `spectrum` uses for small matrices and what makes tiny singular values (and the
 * numerical rank) trustworthy.
 */
import { EigenConvergenceError } from './eigen.js';

/**
 * Singular values (descending) of the `m` vectors of length `len` stored one after another in `cols`
 * (vector i = cols[i·len .. i·len+len)); `cols` is overwritten. The values are those of the len × m matrix
 * with these columns (and of its transpose).
 */
export function jacobiSingularValues(cols: Float64Array, m: number, len: number, maxSweeps = 80): Float64Array {
  const EPS = 2.220446049250313e-16;
  const norms = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let t = i * len; t < (i + 1) * len; t++) s += cols[t]! * cols[t]!;
    norms[i] = s;
  }
  let maxNorm = 0;
  for (let i = 0; i < m; i++) maxNorm = Math.max(maxNorm, norms[i]!);
  // Columns below ~1e-15·σ₁ are round-off of a rank deficiency: rotating them against large ones only
  // churns rounding noise (and can cycle), and they are already below any tolerance a caller can use.
  const negligible = 1e-30 * maxNorm;
  const tol = EPS * Math.sqrt(len);
  let sweep = 0;
  for (; sweep < maxSweeps; sweep++) {
    let rotated = false;
    for (let i = 0; i < m - 1; i++) {
      for (let j = i + 1; j < m; j++) {
        const a = norms[i]!;
        const b = norms[j]!;
        if (a <= negligible || b <= negligible) continue;
        const oi = i * len;
        const oj = j * len;
        let g = 0;
        for (let t = 0; t < len; t++) g += cols[oi + t]! * cols[oj + t]!;
        if (Math.abs(g) <= tol * Math.sqrt(a * b)) continue;
        rotated = true;
        const zeta = (b - a) / (2 * g);
        const tan = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + tan * tan);
        const s = c * tan;
        let na = 0;
        let nb = 0;
        for (let t = 0; t < len; t++) {
          const x = cols[oi + t]!;
          const y = cols[oj + t]!;
          const xr = c * x - s * y;
          const yr = s * x + c * y;
          cols[oi + t] = xr;
          cols[oj + t] = yr;
          na += xr * xr;
          nb += yr * yr;
        }
        // Recomputed norms (not the a − t·g update) keep tiny columns accurate.
        norms[i] = na;
        norms[j] = nb;
      }
    }
    if (!rotated) break;
  }
  if (sweep === maxSweeps) throw new EigenConvergenceError(`one-sided Jacobi did not converge in ${maxSweeps} sweeps`);
  const sv = new Float64Array(m);
  for (let i = 0; i < m; i++) sv[i] = Math.sqrt(norms[i]!);
  return sv.sort().reverse();
}
