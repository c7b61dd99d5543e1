/**
 * The loss closure contract and one gradient evaluation with input checks (scalar loss, trainable
 * variables, finite values).
 */
import * as tf from '@tensorflow/tfjs-core';
import { EmptyVariableListError, NonFiniteGradientError, NonScalarLossError, RunsMismatchError } from './errors.js';

/**
 * What the loss closure is told on each call.
 * - `pass`: 'first' = at the current weights w; 'second' = at the perturbed weights w + ε (SAM) or
 *   w + r·g/‖g‖ (finite-difference regularizer). Use it to decide what BatchNorm statistics do.
 * - `chunk` / `chunks`: with m-sharpness (`mSharpness: m`) and/or gradient accumulation
 *   (`microBatches: k`), the closure must return the MEAN loss of sub-batch `chunk` of `chunks`
 *   (see `chunkRange` / `sliceChunk`), where `chunks = m·k` (just k when the rule is inactive, ρ = 0 /
 *   λ = 0); `chunks` is 1 otherwise, and then the loss is the whole batch's.
 */
export interface StepContext {
  /** Which forward/backward pass of the step this call is. */
  pass: 'first' | 'second';
  /** Index of the sub-batch (0 ≤ chunk < chunks). */
  chunk: number;
  /** Number of sub-batches this step uses (mSharpness × microBatches; microBatches when SAM is inactive). */
  chunks: number;
}

/**
 * A loss closure: returns the scalar loss (with `runs`, the SUM of the runs' losses, so each run's
 * slice of the gradient is that run's own gradient).
 */
export type LossClosure = (ctx: StepContext) => tf.Scalar;

/** Loss value and gradients, in the order of the variable list (null = variable not connected). */
export interface LossGradients {
  /** The loss (with `runs`, summed over runs). */
  value: tf.Scalar;
  /** One gradient per variable, in the variable list's order; null where the loss does not depend on it. */
  grads: Array<tf.Tensor | null>;
}

/**
 * The trainable variables to optimize: `varList` filtered to trainable ones, or every registered
 * trainable variable; checks the run axis when `runs` is set.
 */
export function resolveVariables(varList: tf.Variable[] | undefined, runs: number | undefined): tf.Variable[] {
  let vars: tf.Variable[];
  if (varList != null) {
    if (!Array.isArray(varList)) throw new EmptyVariableListError('varList is not an array');
    if (varList.length === 0) throw new EmptyVariableListError('varList is []');
    vars = varList.filter((v) => v.trainable);
    if (vars.length === 0) {
      throw new EmptyVariableListError(`none of the ${varList.length} variables in varList is trainable`);
    }
  } else {
    const registered = tf.engine().registeredVariables;
    vars = [];
    for (const name in registered) {
      const v = registered[name]!;
      if (v.trainable) vars.push(v);
    }
    if (vars.length === 0) throw new EmptyVariableListError('no trainable variables are registered');
  }
  if (runs !== undefined) {
    for (const v of vars) {
      if (v.rank === 0 || v.shape[0] !== runs) {
        throw new RunsMismatchError(
          `runs is ${runs} but variable '${v.name}' has shape [${v.shape.join(', ')}]; axis 0 of every ` + 'variable must index the runs',
        );
      }
    }
  }
  return vars;
}

/** Runs `f(ctx)` under a gradient tape and returns the loss and its gradients w.r.t. `vars`. */
export function lossGradients(f: LossClosure, ctx: StepContext, vars: tf.Variable[]): LossGradients {
  let badShape: number[] | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const y = f(ctx) as tf.Tensor;
    if (!(y instanceof tf.Tensor)) {
      throw new NonScalarLossError(null);
    }
    if (y.rank !== 0) {
      // Finish the gradient computation on a scalar so tfjs releases its tape, then report.
      badShape = y.shape.slice();
      return tf.sum(y);
    }
    return y as tf.Scalar;
  }, vars);
  const ordered = vars.map((v) => grads[v.name] ?? null);
  if (badShape != null) {
    tf.dispose([value, ...ordered.filter((g): g is tf.Tensor => g != null)]);
    throw new NonScalarLossError(badShape);
  }
  return { value, grads: ordered };
}

/**
 * Throws {@link NonFiniteGradientError} (naming the first bad variable) when any gradient or the loss
 * holds NaN/±Inf. The common, all-finite case costs one sum per gradient and one scalar read-back.
 */
export function assertFinite(
  grads: ReadonlyArray<tf.Tensor | null>,
  vars: ReadonlyArray<tf.Variable>,
  loss: tf.Scalar,
  what: string,
): void {
  // A sum is finite unless an element is NaN/±Inf (or the sum overflows float32, which the slow path
  // below tells apart). Few kernels matter: tfjs spends more per kernel than on these tiny tensors.
  const flag = tf.tidy(() => {
    let total: tf.Tensor = loss;
    for (const g of grads) if (g != null) total = tf.add(total, tf.sum(g));
    return total === loss ? tf.clone(loss) : total;
  });
  const ok = Number.isFinite(flag.dataSync()[0]);
  flag.dispose();
  if (ok) return;
  for (let i = 0; i < grads.length; i++) {
    const g = grads[i];
    if (g == null) continue;
    const bad = tf.tidy(() => tf.any(tf.logicalNot(tf.isFinite(g))));
    const isBad = bad.dataSync()[0] === 1;
    bad.dispose();
    if (isBad) throw new NonFiniteGradientError(vars[i]!.name, `${what} contains NaN or Infinity`);
  }
  const l = loss.dataSync()[0]!;
  if (!Number.isFinite(l)) throw new NonFiniteGradientError(null, `the loss is ${l}`);
  throw new NonFiniteGradientError(
    null,
    `${what} is finite element by element but sums past float32's range (entries around 1e37 or larger)`,
  );
}
