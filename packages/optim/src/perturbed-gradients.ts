/**
 * The two-pass step shared by SAM and the finite-difference gradient-norm regularizer: gradient at w,
 * move to a perturbed point, gradient there, restore w exactly. Both passes may be accumulated over
 * micro-batches, so one perturbation can cover a batch too large to differentiate at once.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertFinite, type LossClosure, type LossGradients, lossGradients } from './loss-gradients.js';

/**
 * How a step's batch is cut: `groups` m-sharpness sub-batches (one perturbation each), each accumulated
 * over `microBatches` micro-batches. The closure sees `chunks = groups · microBatches` and
 * `chunk = group · microBatches + micro`, so `sliceChunk(x, ctx)` picks the right rows.
 */
export interface ChunkLayout {
  /** m-sharpness sub-batches, each with its own perturbation (1 = one global perturbation). */
  groups: number;
  /** Micro-batches whose gradients are averaged within each pass of a group (1 = no accumulation). */
  microBatches: number;
}

/**
 * The two-pass core shared by SAM and the finite-difference regularizer. For each m-sharpness group:
 * gradient at w (pass 'first', averaged over the group's micro-batches); a perturbation from
 * `perturb(g, w)`; gradient at w + ε (pass 'second', averaged the same way); w restored by re-assigning
 * the saved tensors (bit-identical, also when the closure throws). `combine(gFirst, gSecond)` forms the
 * group's gradient (default: gSecond, i.e. SAM). Group gradients and first-pass losses are averaged.
 * With `checkFirst`, a non-finite first-pass gradient is reported (with its variable) before anything is
 * perturbed.
 */
export function perturbedGradients(
  f: LossClosure,
  vars: tf.Variable[],
  layout: ChunkLayout,
  checkFirst: boolean,
  perturb: (grads: ReadonlyArray<tf.Tensor | null>, weights: ReadonlyArray<tf.Tensor>) => Array<tf.Tensor | null>,
  combine?: (first: ReadonlyArray<tf.Tensor | null>, second: ReadonlyArray<tf.Tensor | null>) => Array<tf.Tensor | null>,
): LossGradients {
  const { groups } = layout;
  // Clones share the variables' buffers, so restoring assigns the very same data back.
  const saved = vars.map((v) => tf.clone(v));
  let valueSum: tf.Scalar | null = null;
  let gradSum: Array<tf.Tensor | null> | null = null;
  try {
    for (let group = 0; group < groups; group++) {
      const first = accumulatedGradients(f, vars, 'first', group, layout);
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
        second = accumulatedGradients(f, vars, 'second', group, layout);
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
      let groupGrads: Array<tf.Tensor | null>;
      if (combine) {
        groupGrads = tf.tidy(() => combine(first.grads, second.grads) as tf.Tensor[]);
        tf.dispose([...nonNull(first.grads), ...nonNull(second.grads)]);
      } else {
        tf.dispose(nonNull(first.grads));
        groupGrads = second.grads;
      }
      gradSum = accumulateGrads(gradSum, groupGrads);
    }
  } catch (err) {
    tf.dispose([...(valueSum ? [valueSum] : []), ...nonNull(gradSum ?? [])]);
    throw err;
  } finally {
    tf.dispose(saved);
  }
  return averaged({ value: valueSum!, grads: gradSum! }, groups);
}

/**
 * Loss and gradient of one pass over group `group`, averaged over its `layout.microBatches`
 * micro-batches (closure called once per micro-batch; only one micro-batch's tape is alive at a time).
 * With `groups = 1` and `pass = 'first'` this is plain gradient accumulation (micro-batched SGD).
 */
export function accumulatedGradients(
  f: LossClosure,
  vars: tf.Variable[],
  pass: 'first' | 'second',
  group: number,
  layout: ChunkLayout,
): LossGradients {
  const { groups, microBatches } = layout;
  const chunks = groups * microBatches;
  let valueSum: tf.Scalar | null = null;
  let gradSum: Array<tf.Tensor | null> | null = null;
  try {
    for (let micro = 0; micro < microBatches; micro++) {
      const r = lossGradients(f, { pass, chunk: group * microBatches + micro, chunks }, vars);
      valueSum = accumulateValue(valueSum, r.value);
      gradSum = accumulateGrads(gradSum, r.grads);
    }
  } catch (err) {
    tf.dispose([...(valueSum ? [valueSum] : []), ...nonNull(gradSum ?? [])]);
    throw err;
  }
  return averaged({ value: valueSum!, grads: gradSum! }, microBatches);
}

/** `sums / count` (consumes `sums`); `sums` itself when count is 1. */
export function averaged(sums: LossGradients, count: number): LossGradients {
  if (count === 1) return sums;
  const inv = 1 / count;
  const out = tf.tidy(() => ({
    value: tf.mul(sums.value, inv) as tf.Scalar,
    grads: sums.grads.map((g) => (g == null ? null : tf.mul(g, inv))) as tf.Tensor[],
  }));
  tf.dispose([sums.value, ...nonNull(sums.grads)]);
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

function accumulateGrads(sum: Array<tf.Tensor | null> | null, g: Array<tf.Tensor | null>): Array<tf.Tensor | null> {
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
