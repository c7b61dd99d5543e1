/**
 * The two-pass step shared by SAM and the finite-difference gradient-norm regularizer: gradient at w,
 * move to a perturbed point, gradient there, restore w exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertFinite, type LossClosure, type LossGradients, lossGradients } from './loss-gradients.js';

/**
 * The two-pass core shared by SAM and the finite-difference regularizer. For each m-sharpness chunk:
 * gradient at w (pass 'first'); a perturbation from `perturb(g, w)`; gradient at w + ε (pass 'second');
 * w restored by re-assigning the saved tensors (bit-identical, also when the closure throws).
 * `combine(gFirst, gSecond)` forms the chunk's gradient (default: gSecond, i.e. SAM). Chunk gradients and
 * first-pass losses are averaged. With `checkFirst`, a non-finite first-pass gradient is reported (with
 * its variable) before anything is perturbed.
 */
export function perturbedGradients(
  f: LossClosure,
  vars: tf.Variable[],
  chunks: number,
  checkFirst: boolean,
  perturb: (grads: ReadonlyArray<tf.Tensor | null>, weights: ReadonlyArray<tf.Tensor>) => Array<tf.Tensor | null>,
  combine?: (first: ReadonlyArray<tf.Tensor | null>, second: ReadonlyArray<tf.Tensor | null>) => Array<tf.Tensor | null>,
): LossGradients {
  // Clones share the variables' buffers, so restoring assigns the very same data back.
  const saved = vars.map((v) => tf.clone(v));
  let valueSum: tf.Scalar | null = null;
  let gradSum: Array<tf.Tensor | null> | null = null;
  try {
    for (let chunk = 0; chunk < chunks; chunk++) {
      const first = lossGradients(f, { pass: 'first', chunk, chunks }, vars);
      let eps: Array<tf.Tensor | null>;
      try {
        if (checkFirst) assertFinite(first.grads, vars, first.value, 'the gradient at w (first pass)');
        eps = tf.tidy(() => perturb(first.grads, saved) as tf.Tensor[]);
      } catch (err) {
        tf.dispose([first.value, ...nonNull(first.grads)]);
        throw err;
      }
      valueSum = accumulateValue(valueSum, first.value);
      let second: LossGradients;
      try {
        tf.tidy(() => {
          vars.forEach((v, i) => {
            const e = eps[i];
            if (e != null) v.assign(tf.add(saved[i]!, e));
          });
        });
        second = lossGradients(f, { pass: 'second', chunk, chunks }, vars);
      } catch (err) {
        tf.dispose(nonNull(first.grads));
        throw err;
      } finally {
        vars.forEach((v, i) => {
          if (eps[i] != null) v.assign(saved[i]!);
        });
        tf.dispose(nonNull(eps));
      }
      second.value.dispose();
      let chunkGrads: Array<tf.Tensor | null>;
      if (combine) {
        chunkGrads = tf.tidy(() => combine(first.grads, second.grads) as tf.Tensor[]);
        tf.dispose([...nonNull(first.grads), ...nonNull(second.grads)]);
      } else {
        tf.dispose(nonNull(first.grads));
        chunkGrads = second.grads;
      }
      gradSum = accumulateGrads(gradSum, chunkGrads);
    }
  } catch (err) {
    tf.dispose([...(valueSum ? [valueSum] : []), ...nonNull(gradSum ?? [])]);
    throw err;
  } finally {
    tf.dispose(saved);
  }
  if (chunks === 1) return { value: valueSum!, grads: gradSum! };
  const inv = 1 / chunks;
  const out = tf.tidy(() => ({
    value: tf.mul(valueSum!, inv) as tf.Scalar,
    grads: gradSum!.map((g) => (g == null ? null : tf.mul(g, inv))) as tf.Tensor[],
  }));
  tf.dispose([valueSum!, ...nonNull(gradSum!)]);
  return out;
}

function nonNull(ts: ReadonlyArray<tf.Tensor | null>): tf.Tensor[] {
  return ts.filter((t): t is tf.Tensor => t != null);
}

function accumulateValue(sum: tf.Scalar | null, v: tf.Scalar): tf.Scalar {
  if (sum == null) return v;
  const s = tf.add(sum, v) as tf.Scalar;
  tf.dispose([sum, v]);
  return s;
}

function accumulateGrads(
  sum: Array<tf.Tensor | null> | null,
  g: Array<tf.Tensor | null>,
): Array<tf.Tensor | null> {
  if (sum == null) return g;
  const out = sum.map((s, i) => {
    const gi = g[i];
    if (s == null) return gi ?? null;
    if (gi == null) return s;
    const r = tf.add(s, gi);
    tf.dispose([s, gi]);
    return r;
  });
  return out;
}
