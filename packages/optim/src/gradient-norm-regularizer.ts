/**
 * The gradient-norm regularizer (the paper's "first-order SAM", Fig. 13): the base optimizer follows the
 * gradient of L + λ‖∇L‖₂ (norm, not squared), computed exactly by double backprop or by the two-pass
 * finite difference ∇L(w) + (λ/r)(∇L(w + r·g/‖g‖) − ∇L(w)).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DoubleBackpropGradientsError, InvalidOptionError } from './errors.js';
import { type LossClosure, type LossGradients, lossGradients, type StepContext } from './loss-gradients.js';
import { broadcastPerRun, samPerturbation, sumSquaresPerRun } from './perturbation.js';
import { averaged, perturbedGradients } from './perturbed-gradients.js';
import { evaluateSchedule, type Schedule } from './schedules.js';
import { PerRunTensorCache, perRunValues, WrappedOptimizer, type WrapperOptions } from './wrapped-optimizer.js';

/** How ∇(λ‖∇L‖) is obtained. */
export type GradientNormMode = 'exact' | 'finite-difference';

/** Options of {@link GradientNormRegularizer}. */
export interface GradientNormRegularizerOptions extends WrapperOptions {
  /** Penalty weight λ (default 0.05); with `runs`, a number for all runs or one per run. */
  lambda?: number | number[];
  /**
   * 'exact' (default): double backprop through the gradient (dense nets, or conv nets on the cpu backend);
   * needs the double-backprop gradient fixes of docs/backend-notes.md §4 registered by `registerDoubleBackpropGradients()` (or `setupBackend()`)
   * of `@samrank/backend` and throws `DoubleBackpropGradientsError` at its step otherwise. 'finite-difference':
   * two gradient passes, works for any model, and is the only mode that supports `microBatches` (exact mode
   * throws `InvalidOptionError`).
   */
  mode?: GradientNormMode;
  /** Finite-difference step r (default 0.01); ignored in exact mode. */
  r?: number;
  /** λ schedule `(step, lambda) => lambda_t`, applied to each run's λ (e.g. a window for the first half). */
  lambdaSchedule?: Schedule;
}

/**
 * `@samrank/backend`'s registerDoubleBackpropGradients() leaves, under this symbol, the list of kernels it covers
 * on globalThis and a `true` property on each gradient config it registers. Checked by marker rather than by
 * import: this package depends on tfjs-core alone.
 */
const DOUBLE_BACKPROP_MARKER = Symbol.for('samrank.doubleBackpropGradients');

/** Throws DoubleBackpropGradientsError unless every double-backprop gradient is the registered one. */
function assertDoubleBackpropGradients(): void {
  const kernels = (globalThis as Record<symbol, unknown>)[DOUBLE_BACKPROP_MARKER] as readonly string[] | undefined;
  const fix =
    "call registerDoubleBackpropGradients() (import { registerDoubleBackpropGradients } from '@samrank/backend') or setupBackend() before the step";
  if (kernels === undefined) {
    throw new DoubleBackpropGradientsError(`GradientNormRegularizer mode 'exact' needs the double-backprop gradients: ${fix}`, []);
  }
  const replaced = kernels.filter(
    (k) => (tf.getGradient(k) as unknown as Record<symbol, unknown> | undefined)?.[DOUBLE_BACKPROP_MARKER] !== true,
  );
  if (replaced.length > 0) {
    throw new DoubleBackpropGradientsError(
      `GradientNormRegularizer mode 'exact': the double-backprop gradients of ${replaced.join(', ')} were replaced since they were registered (e.g. by importing @tensorflow/tfjs-layers again): ${fix}`,
      replaced,
    );
  }
}

/**
 * tfjs' "gradient function not found for X" (an op of the loss, or of its gradient, has no registered gradient) as
 * a {@link DoubleBackpropGradientsError} naming the kernel and the fixes; other errors unchanged.
 */
function missingGradientError(err: unknown): unknown {
  const kernel = err instanceof Error ? /gradient function not found for (\w+)/.exec(err.message)?.[1] : undefined;
  if (kernel === undefined) return err;
  return new DoubleBackpropGradientsError(
    `GradientNormRegularizer mode 'exact' differentiates the loss twice, and ${kernel} (in the loss or in its gradient) has no ` +
      `registered gradient: register one with tf.registerGradient (a boolean op or comparison gets zeros), or use mode ` +
      `'finite-difference'. (The double-backprop gradients of @samrank/backend's registerDoubleBackpropGradients() cover ` +
      `tfjs-layers' losses; tfjs's own first-order gradients come with importing @tensorflow/tfjs or @tensorflow/tfjs-layers.)`,
    [kernel],
  );
}

/** ‖·‖ with a zero-safe derivative: sqrt(s + 1e-30) equals sqrt(s) in float32 unless s < ~1e-23. */
const TINY = 1e-30;

/**
 * A base optimizer driven by ∇(L + λ‖∇L‖₂). With `runs`, the penalty is Σ_r λ_r‖∇L_r‖ (one norm per run);
 * with `mSharpness: k`, each of the k sub-batches gets its own penalty and the gradients are averaged
 * (k = batch size gives the per-example variant (1/n)Σ_i‖∇ℓ_i‖). With `microBatches: k` ('finite-difference'
 * mode only) both passes are accumulated over k micro-batches, so the penalty is the whole batch's ‖∇L‖.
 * `minimize` returns the loss L at w.
 */
export class GradientNormRegularizer extends WrappedOptimizer {
  /** Serialization name (registered with `tf.serialization.registerClass`). */
  static get className(): string {
    return 'GradientNormRegularizer';
  }

  /** 'exact' or 'finite-difference'. */
  readonly mode: GradientNormMode;
  /** Finite-difference step. */
  readonly r: number;
  /** λ schedule (may be replaced between steps). */
  lambdaSchedule: Schedule | undefined;

  private lambdaValues: number[];
  private readonly lambdaTensors: PerRunTensorCache;
  private readonly coefTensors: PerRunTensorCache;
  private readonly rTensor: tf.Scalar;
  private readonly zero: tf.Scalar;

  constructor(base: tf.Optimizer, options: GradientNormRegularizerOptions = {}) {
    super(base, options);
    const mode = options.mode ?? 'exact';
    if (mode !== 'exact' && mode !== 'finite-difference') {
      throw new InvalidOptionError('mode', `must be 'exact' or 'finite-difference', got ${String(mode)}`);
    }
    const r = options.r ?? 0.01;
    if (typeof r !== 'number' || !Number.isFinite(r) || r <= 0) {
      throw new InvalidOptionError('r', `must be a finite number > 0, got ${r}`);
    }
    if (options.lambdaSchedule !== undefined && typeof options.lambdaSchedule !== 'function') {
      throw new InvalidOptionError('lambdaSchedule', 'must be a function (step, lambda) => lambda');
    }
    if (mode === 'exact' && this.microBatches > 1) {
      // ∇‖∇L‖ of the full batch needs the full-batch gradient inside the double backprop; a mean of
      // micro-batch penalties would silently optimize a different objective.
      throw new InvalidOptionError(
        'microBatches',
        `mode 'exact' cannot accumulate over micro-batches (got microBatches ${this.microBatches}): the ` +
          "full batch's ‖∇L‖ is not the mean of the micro-batches' norms; use mode 'finite-difference'",
      );
    }
    this.mode = mode;
    this.r = r;
    this.lambdaSchedule = options.lambdaSchedule;
    this.lambdaValues = perRunValues(options.lambda ?? 0.05, this.runs, 'lambda');
    this.lambdaTensors = new PerRunTensorCache(this.runs);
    this.coefTensors = new PerRunTensorCache(this.runs);
    this.rTensor = tf.keep(tf.scalar(r));
    this.zero = tf.keep(tf.scalar(0));
    this.lambdaTensors.get(this.lambdaValues);
    this.coefTensors.get(this.lambdaValues.map((l) => l / r));
  }

  /** λ as configured (a number, or one per run with `runs`), before any schedule. */
  get lambda(): number | number[] {
    return this.perRunPublic(this.lambdaValues);
  }

  /** Sets λ: a number (all runs) or, with `runs`, one value per run. Throws on negative/NaN values. */
  setLambda(lambda: number | number[]): void {
    this.lambdaValues = perRunValues(lambda, this.runs, 'lambda');
  }

  /** The λ of each run (length 1 without runs) used by the step at `step`, schedule applied. */
  lambdaAt(step: number = this.iterations): number[] {
    const schedule = this.lambdaSchedule;
    if (schedule === undefined) return this.lambdaValues.slice();
    return this.lambdaValues.map((l) => evaluateSchedule(schedule, step, l, 'lambda'));
  }

  protected override stepGradients(f: LossClosure, vars: tf.Variable[]): LossGradients {
    const lambdaNow = this.lambdaAt(this.iterations);
    if (lambdaNow.every((l) => l === 0)) {
      return this.plainGradients(f, vars);
    }
    if (this.mode === 'exact') {
      assertDoubleBackpropGradients();
      return this.exactGradients(f, vars, this.lambdaTensors.get(lambdaNow));
    }
    const coef = this.coefTensors.get(lambdaNow.map((l) => l / this.r));
    const spec = {
      rho: this.rTensor,
      normalize: true,
      epsilon: this.zero,
      epsilonIsZero: true,
      adaptiveEta: null,
      runs: this.runs,
    };
    return perturbedGradients(
      f,
      vars,
      this.chunkLayout,
      this.checkFinite,
      (g, w) => samPerturbation(g, w, spec),
      (g1, g2) =>
        g1.map((a, i) => {
          const b = g2[i];
          if (a == null || b == null) return a ?? b ?? null;
          return tf.add(a, tf.mul(tf.sub(b, a), broadcastPerRun(coef, a.rank)));
        }),
    );
  }

  private exactGradients(f: LossClosure, vars: tf.Variable[], lambda: tf.Tensor): LossGradients {
    const chunks = this.mSharpness;
    let valueSum: tf.Scalar | null = null;
    let gradSum: Array<tf.Tensor | null> | null = null;
    try {
      for (let chunk = 0; chunk < chunks; chunk++) {
        const r = regularizedGradients(f, { pass: 'first', chunk, chunks }, vars, lambda, this.runs);
        tf.dispose([r.objective, r.gradNorm]);
        valueSum = valueSum == null ? r.value : addDispose(valueSum, r.value);
        gradSum =
          gradSum == null
            ? r.grads
            : gradSum.map((s, i) => {
                const g = r.grads[i];
                if (s == null || g == null) return s ?? g ?? null;
                return addDispose(s, g);
              });
      }
    } catch (err) {
      tf.dispose([...(valueSum ? [valueSum] : []), ...(gradSum ?? []).filter((g): g is tf.Tensor => g != null)]);
      throw missingGradientError(err);
    }
    return averaged({ value: valueSum!, grads: gradSum! }, chunks);
  }

  protected override ownState(): Array<{ name: string; values: number[] }> {
    return [{ name: 'gradnorm/lambda', values: this.lambdaValues.slice() }];
  }

  protected override setOwnState(name: string, values: number[]): boolean {
    if (name !== 'gradnorm/lambda') return false;
    this.setLambda(this.perRunPublic(values));
    return true;
  }

  /** Serializable config: base optimizer (class + config) and every option except the schedules. */
  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...this.wrapperConfig(),
      lambda: this.perRunPublic(this.lambdaValues),
      mode: this.mode,
      r: this.r,
    };
  }

  /** Rebuilds a regularizer from `getConfig()` (schedules are functions: set them again afterwards). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const { base, options } = WrappedOptimizer.wrapperFromConfig(config);
    const o: GradientNormRegularizerOptions = {
      ...options,
      lambda: config['lambda'] as number | number[],
      mode: config['mode'] as GradientNormMode,
      r: config['r'] as number,
    };
    return new (cls as unknown as new (b: tf.Optimizer, o: GradientNormRegularizerOptions) => T)(base, o);
  }

  /** Frees the base optimizer and the regularizer's own tensors. */
  override dispose(): void {
    this.lambdaTensors.dispose();
    this.coefTensors.dispose();
    this.rTensor.dispose();
    this.zero.dispose();
    super.dispose();
  }
}

tf.serialization.registerClass(GradientNormRegularizer);

function addDispose<T extends tf.Tensor>(a: T, b: T): T {
  const s = tf.add(a, b) as T;
  tf.dispose([a, b]);
  return s;
}

/** Loss, objective L + Σ_r λ_r‖∇L_r‖ and its exact gradient (double backprop) for one closure call. */
export interface RegularizedGradients extends LossGradients {
  /** The regularized objective J = L + λ‖∇L‖ (summed over runs). */
  objective: tf.Scalar;
  /** ‖∇L‖ per run (scalar without runs). */
  gradNorm: tf.Tensor;
}

/**
 * Exact gradient of J = L + λ‖∇L‖₂ by double backprop. `lambda` is a scalar or, with runs, [R]. Needs
 * `registerDoubleBackpropGradients()` of `@samrank/backend` for models using exp/sigmoid/tanh/softmax/max/conv2d.
 */
export function regularizedGradients(
  f: LossClosure,
  ctx: StepContext,
  vars: tf.Variable[],
  lambda: tf.Tensor,
  runs: number | undefined,
): RegularizedGradients {
  let loss: tf.Scalar | null = null;
  let gradNorm: tf.Tensor | null = null;
  let outer: LossGradients;
  try {
    outer = lossGradients(
      () => {
        const inner = lossGradients(f, ctx, vars);
        let sq: tf.Tensor | null = null;
        for (const g of inner.grads) {
          if (g == null) continue;
          const s = sumSquaresPerRun(g, runs);
          sq = sq == null ? s : tf.add(sq, s);
        }
        const norm = sq == null ? tf.zerosLike(lambda) : tf.sqrt(tf.add(sq, TINY));
        loss = tf.keep(inner.value);
        gradNorm = tf.keep(norm);
        return tf.add(inner.value, tf.sum(tf.mul(lambda, norm))) as tf.Scalar;
      },
      ctx,
      vars,
    );
  } catch (err) {
    if (loss != null) tf.dispose(loss as tf.Tensor);
    if (gradNorm != null) tf.dispose(gradNorm as tf.Tensor);
    throw err;
  }
  return { value: loss!, objective: outer.value, grads: outer.grads, gradNorm: gradNorm! };
}
