/**
 * The teacher-student metrics of docs/paper-notes.md §9.3, computed in float64 from a run's parameters: train / test MSE
 * (no ½), feature rank of act(X Wᵀ + b) on the training points (uncentered, the original rule), active
 * units, and the ℓ2 norm of all parameters. The rank and active-unit definitions come from @samrank/rank.
 */
import { ACTIVE_UNIT_PRESETS, activeUnits, featureRank } from '@samrank/rank';
import { twoLayerForward, twoLayerHidden, type TwoLayerActivation, type TwoLayerParams } from '@samrank/core';

/** One evaluation of one run. Losses are NaN once a run has diverged. */
export interface StudentMetrics {
  trainLoss: number;
  testLoss: number;
  featureRank: number;
  activeUnits: number;
  weightNorm: number;
}

/** The data a student is evaluated on (row-major inputs [n, inputDim]). */
export interface EvaluationData {
  inputDim: number;
  xTrain: Float64Array;
  yTrain: Float64Array;
  xTest: Float64Array;
  yTest: Float64Array;
}

/** Settings of the metric definitions. */
export interface MetricOptions {
  activation: TwoLayerActivation;
  /** Fraction of Σσ² the rank must explain (0.9999 in the paper's two-layer runs). */
  rankThreshold: number;
  /** |act| ≥ this makes a tanh / abs unit active; ReLU units are active when act > 0 on some point. */
  activeThreshold: number;
  /** Column-center the features before the rank (the trajectory fixtures' definition); default false (the paper's). */
  centered?: boolean;
}

/** mean (p − y)². */
export function meanSquaredError(pred: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (pred[i]! - y[i]!) ** 2;
  return s / y.length;
}

/** sqrt(‖W‖² + ‖b‖² + ‖a‖² + c²). */
export function weightNorm(params: TwoLayerParams): number {
  let s = params.c * params.c;
  for (const arr of [params.W, params.b, params.a]) for (const v of arr) s += v * v;
  return Math.sqrt(s);
}

/** Feature rank of a [n, m] feature matrix with the paper's two-layer conventions (kept in one place). */
export function studentFeatureRank(phi: Float64Array, n: number, options: MetricOptions): number {
  return featureRank(
    { data: phi, rows: n, cols: phi.length / n },
    { threshold: options.rankThreshold, center: options.centered ? 'feature' : 'none', rule: 'original' },
  );
}

/** Active hidden units of a [n, m] feature matrix (docs/paper-notes.md §4.2). */
export function studentActiveUnits(phi: Float64Array, n: number, options: MetricOptions): number {
  const matrix = { data: phi, rows: n, cols: phi.length / n };
  return options.activation === 'relu'
    ? activeUnits(matrix, ACTIVE_UNIT_PRESETS.relu)
    : activeUnits(matrix, { ...ACTIVE_UNIT_PRESETS.tanhAbs, threshold: options.activeThreshold });
}

/** What the teacher-student metrics read for one run at one evaluation (features computed once, on demand). */
export interface StudentEvaluation {
  params: TwoLayerParams;
  data: EvaluationData;
  options: MetricOptions;
  trainLoss: number;
  weightNorm: number;
  /** Hidden features act(X Wᵀ + b) on the training points, [n, m] row-major. */
  features(): Float64Array;
}

/**
 * The evaluation context of one run, or null when its parameters or training loss are no longer finite (the run
 * has diverged).
 */
export function studentEvaluation(params: TwoLayerParams, data: EvaluationData, options: MetricOptions): StudentEvaluation | null {
  const norm = weightNorm(params);
  const trainLoss = meanSquaredError(twoLayerForward(params, options.activation, data.xTrain, data.inputDim), data.yTrain);
  if (!Number.isFinite(norm) || !Number.isFinite(trainLoss)) return null;
  let phi: Float64Array | undefined;
  return {
    params,
    data,
    options,
    trainLoss,
    weightNorm: norm,
    features: () => {
      phi ??= twoLayerHidden(params, options.activation, data.xTrain, data.inputDim);
      return phi;
    },
  };
}

/** Test MSE of one run. */
export function studentTestLoss(e: StudentEvaluation): number {
  return meanSquaredError(twoLayerForward(e.params, e.options.activation, e.data.xTest, e.data.inputDim), e.data.yTest);
}
