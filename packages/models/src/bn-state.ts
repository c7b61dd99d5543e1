import * as tf from '@tensorflow/tfjs-core';
import { ParamsMismatchError } from './errors.js';
import type { BnState } from './types.js';

/**
 * A mutable holder of a model's state (BatchNorm running statistics) for training loops. A forward pass in
 * training mode returns the updated state as new tensors (`model.apply(...).state`); `update` keeps them (also inside `tf.tidy` or a gradient closure, where
 * they would otherwise be disposed) and disposes the tensors they replace. This is what lets a SAM loss
 * closure decide, pass by pass, whether BatchNorm statistics move.
 */
export class BatchNormStateStore {
  private current: BnState;

  /** Takes ownership of `initial` (its tensors are disposed when replaced). */
  constructor(initial: BnState) {
    this.current = { ...initial };
  }

  /** The current statistics (do not dispose them; the store owns them). */
  get state(): BnState {
    return this.current;
  }

  /** Replaces the named layers' statistics with `updates` (all of them if `updates` is complete). */
  update(updates: BnState | undefined): void {
    if (!updates) return;
    for (const [name, stats] of Object.entries(updates)) {
      const old = this.current[name];
      if (!old) throw new ParamsMismatchError(`BatchNorm state '${name}' is not part of this store`);
      if (stats === old) continue;
      tf.keep(stats.mean);
      tf.keep(stats.variance);
      this.current[name] = stats;
      if (old.mean !== stats.mean) old.mean.dispose();
      if (old.variance !== stats.variance) old.variance.dispose();
    }
  }

  /** Replaces the whole state (e.g. after restoring a checkpoint), disposing the old tensors. */
  replace(state: BnState): void {
    const old = this.current;
    this.current = { ...state };
    for (const s of Object.values(state)) {
      tf.keep(s.mean);
      tf.keep(s.variance);
    }
    for (const s of Object.values(old)) {
      if (!Object.values(state).some((n) => n.mean === s.mean)) s.mean.dispose();
      if (!Object.values(state).some((n) => n.variance === s.variance)) s.variance.dispose();
    }
  }

  /** Deep copy of the current statistics (new tensors owned by the caller). */
  snapshot(): BnState {
    return cloneBnState(this.current);
  }

  /** Disposes every tensor held. */
  dispose(): void {
    for (const s of Object.values(this.current)) {
      s.mean.dispose();
      s.variance.dispose();
    }
    this.current = {};
  }
}

/** Deep copy of BatchNorm statistics (new tensors). */
export function cloneBnState(state: BnState): BnState {
  const out: BnState = {};
  for (const [name, s] of Object.entries(state)) out[name] = { mean: tf.clone(s.mean), variance: tf.clone(s.variance) };
  return out;
}
