/**
 * Tensor math shared by SAM and the gradient-norm regularizer: per-run gradient norms and the SAM
 * ascent direction. Pure functions of their tensor arguments; callers own `tf.tidy`.
 *
 * "Per run": with `runs = R`, axis 0 of every tensor indexes R independent models, so every reduction
 * keeps axis 0 and the result has shape [R]; without runs the reductions are global (scalars).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Sum of squares of `g`, over everything (runs undefined) or over all axes but 0 (shape [R]). */
export function sumSquaresPerRun(g: tf.Tensor, runs: number | undefined): tf.Tensor {
  const sq = tf.square(g);
  if (runs === undefined) return tf.sum(sq);
  if (g.rank <= 1) return sq;
  const axes: number[] = [];
  for (let a = 1; a < g.rank; a++) axes.push(a);
  return tf.sum(sq, axes);
}

/** L2 norm over all tensors jointly: a scalar, or shape [R] (one norm per run). Nulls are skipped. */
export function jointNormPerRun(tensors: ReadonlyArray<tf.Tensor | null>, runs: number | undefined): tf.Tensor {
  let total: tf.Tensor | null = null;
  for (const t of tensors) {
    if (t == null) continue;
    const s = sumSquaresPerRun(t, runs);
    total = total == null ? s : tf.add(total, s);
  }
  if (total == null) return runs === undefined ? tf.scalar(0) : tf.zeros([runs]);
  return tf.sqrt(total);
}

/**
 * Reshapes a per-run factor ([R]) so it broadcasts against a tensor of rank `rank` whose axis 0 is the
 * run axis; scalars pass through.
 */
export function broadcastPerRun(factor: tf.Tensor, rank: number): tf.Tensor {
  if (factor.rank === 0 || rank <= 1) return factor;
  const shape = [factor.shape[0]!];
  for (let a = 1; a < rank; a++) shape.push(1);
  return tf.reshape(factor, shape);
}

const MIN_NORM = 1e-30;

/** How the SAM ascent step is formed. */
export interface PerturbationSpec {
  /** ρ: a scalar, or shape [R] with runs. */
  rho: tf.Tensor;
  /** Divide by the (per-run) gradient norm; false = unnormalized SAM (ε = ρ·g). */
  normalize: boolean;
  /** Unnormalized only: scale ε down onto the ρ-ball when ‖ρ·g‖ > ρ. */
  clipToBall?: boolean;
  /** Stabilizer added to the norm (a scalar tensor; 0 gives ε = 0 when ‖g‖ = 0, never NaN). */
  epsilon: tf.Scalar;
  /** Whether epsilon is exactly 0 (then a zero norm is guarded explicitly). */
  epsilonIsZero: boolean;
  /** ASAM: element-wise scale T_w = |w| + η (η as a scalar tensor), or null for plain SAM. */
  adaptiveEta: tf.Scalar | null;
  /** Independent runs along axis 0, or undefined. */
  runs: number | undefined;
}

/**
 * The SAM perturbation ε for gradients `grads` at weights `weights` (same order; null gradients give
 * null ε):
 * - SAM: ε = ρ·g / (‖g‖ + epsilon), the norm over all tensors jointly (per run);
 * - ASAM: ε = ρ·T²g / (‖T g‖ + epsilon), T = |w| + η;
 * - unnormalized: ε = ρ·g (ASAM: ρ·T²g), with `clipToBall` ε = ρ·g·min(1, 1/‖g‖) (ASAM: the norm of T g).
 * With epsilon 0 and a zero norm, ε is 0 (not NaN).
 */
export function samPerturbation(
  grads: ReadonlyArray<tf.Tensor | null>,
  weights: ReadonlyArray<tf.Tensor>,
  spec: PerturbationSpec,
): Array<tf.Tensor | null> {
  const scaleT: Array<tf.Tensor | null> = spec.adaptiveEta
    ? grads.map((g, i) => (g == null ? null : tf.add(tf.abs(weights[i]!), spec.adaptiveEta!)))
    : grads.map(() => null);
  const directions = grads.map((g, i) => (g == null ? null : scaleT[i] ? tf.mul(scaleT[i]!, g) : g));
  let scale: tf.Tensor;
  if (spec.normalize) {
    const norm = jointNormPerRun(directions, spec.runs);
    // epsilon 0: a zero norm means g = 0, so dividing by max(‖g‖, 1e-30) gives ε = 0·finite = 0, not NaN
    // (two kernels instead of divNoNan's four; identical to ρ/‖g‖ whenever ‖g‖ >= 1e-30).
    scale = spec.epsilonIsZero ? tf.div(spec.rho, tf.maximum(norm, MIN_NORM)) : tf.div(spec.rho, tf.add(norm, spec.epsilon));
  } else if (spec.clipToBall) {
    // ‖ρ·g‖ ≤ ρ ⇔ ‖g‖ ≤ 1: the factor min(1, 1/‖g‖) leaves small gradients unnormalized and projects the rest.
    const norm = jointNormPerRun(directions, spec.runs);
    scale = tf.mul(spec.rho, tf.minimum(1, tf.div(1, tf.maximum(norm, MIN_NORM))));
  } else {
    scale = spec.rho;
  }
  return directions.map((d, i) => {
    if (d == null) return null;
    const s = broadcastPerRun(scale, d.rank);
    const e = tf.mul(d, s);
    return scaleT[i] ? tf.mul(scaleT[i]!, e) : e;
  });
}

/** g + wd·w for each pair (coupled, PyTorch-style weight decay); returns `grads` untouched when wd is null. */
export function addWeightDecay(
  grads: ReadonlyArray<tf.Tensor | null>,
  weights: ReadonlyArray<tf.Tensor>,
  weightDecay: tf.Scalar | null,
): Array<tf.Tensor | null> {
  if (weightDecay == null) return grads.slice();
  return grads.map((g, i) => (g == null ? null : tf.add(g, tf.mul(weights[i]!, weightDecay))));
}
