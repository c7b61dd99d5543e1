/**
 * Active-unit counts: the paper's sparsity probes. A unit (column) is active when its activation passes a
 * threshold on enough examples (rows).
 */
import { InvalidOptionError } from './errors.js';
import { toDense, type MatrixInput } from './matrix.js';

/** Options of {@link activeUnits}. */
export interface ActiveUnitsOptions {
  /** Absolute threshold τ (default 0); ignored when `relativeToMax` is given. */
  threshold?: number;
  /** τ = relativeToMax · (maximum of the whole matrix, of |a| with `metric: 'abs'`). */
  relativeToMax?: number;
  /** `'value'` (default) compares a; `'abs'` compares |a| (tanh / abs units). */
  metric?: 'value' | 'abs';
  /** `false` (default): a > τ counts; `true`: a ≥ τ counts. */
  inclusive?: boolean;
  /** Active iff the passing count is > minFraction · rows (default 0: at least one example). */
  minFraction?: number;
}

/**
 * The paper's definitions, ready to spread into {@link activeUnits}:
 * - `relu`: > 0 on at least one example (two-layer ReLU nets, Sec. 4);
 * - `tanhAbs`: |a| ≥ 0.05 on at least one example (two-layer tanh / abs nets, Fig. 12);
 * - `postActResNet`: > max/20 of the whole matrix on at least one example (Sec. 5, Fig. 6);
 * - `gelu`: > max/10 on more than 1 % of the inputs (ViT MLP units, Fig. 7).
 */
export const ACTIVE_UNIT_PRESETS = {
  relu: { threshold: 0 },
  tanhAbs: { threshold: 0.05, metric: 'abs', inclusive: true },
  postActResNet: { relativeToMax: 0.05 },
  gelu: { relativeToMax: 0.1, minFraction: 0.01 },
} as const satisfies Record<string, ActiveUnitsOptions>;

/** Per-unit detail of {@link activeUnitStats}. */
export interface ActiveUnitStats {
  /** Number of active units. */
  active: number;
  /** Number of units (columns). */
  units: number;
  /** active / units. */
  fraction: number;
  /** The threshold τ actually used. */
  threshold: number;
  /** Per unit: how many examples passed the threshold. */
  passCounts: Uint32Array;
  /** Per unit: 1 if active. */
  mask: Uint8Array;
}

/** Counts, threshold and mask of the active units of `matrix` (rows = examples, columns = units). */
export function activeUnitStats(matrix: MatrixInput, options: ActiveUnitsOptions = {}): ActiveUnitStats {
  const { data, rows, cols } = toDense(matrix);
  const metric = options.metric ?? 'value';
  if (metric !== 'value' && metric !== 'abs') throw new InvalidOptionError(`metric must be value or abs; got ${String(metric)}`);
  const minFraction = options.minFraction ?? 0;
  if (!(minFraction >= 0 && minFraction < 1)) throw new InvalidOptionError(`minFraction must be in [0, 1); got ${minFraction}`);
  const abs = metric === 'abs';
  let tau = options.threshold ?? 0;
  if (options.relativeToMax !== undefined) {
    if (!(options.relativeToMax >= 0)) throw new InvalidOptionError(`relativeToMax must be ≥ 0; got ${options.relativeToMax}`);
    let max = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = abs ? Math.abs(data[i]!) : data[i]!;
      if (v > max) max = v;
    }
    tau = options.relativeToMax * max;
  } else if (typeof tau !== 'number' || Number.isNaN(tau)) {
    throw new InvalidOptionError(`threshold must be a number; got ${String(tau)}`);
  }
  const inclusive = options.inclusive ?? false;
  const passCounts = new Uint32Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = abs ? Math.abs(data[o + c]!) : data[o + c]!;
      if (inclusive ? v >= tau : v > tau) passCounts[c]!++;
    }
  }
  const need = minFraction * rows;
  const mask = new Uint8Array(cols);
  let active = 0;
  for (let c = 0; c < cols; c++) {
    if (passCounts[c]! > need) {
      mask[c] = 1;
      active++;
    }
  }
  return { active, units: cols, fraction: active / cols, threshold: tau, passCounts, mask };
}

/**
 * Number of active units: columns whose value exceeds the threshold (default: > 0, the ReLU definition)
 * on at least one example, or on more than `minFraction` of them. See {@link ACTIVE_UNIT_PRESETS}.
 */
export function activeUnits(matrix: MatrixInput, options: ActiveUnitsOptions = {}): number {
  return activeUnitStats(matrix, options).active;
}
