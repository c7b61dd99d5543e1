import * as tf from '@tensorflow/tfjs-core';
import { ParamsMismatchError } from './errors.js';
import type { BatchStatistics, BnState } from './types.js';

/**
 * A mutable holder of a model's state (BatchNorm running statistics) for training loops. A forward pass in
 * training mode returns the updated state as new tensors (`model.apply(...).state`); `update` keeps them (also inside `tf.tidy` or a gradient closure, where
 * they would otherwise be disposed) and disposes the tensors they replace. This is what lets a SAM loss
 * closure decide, pass by pass, whether BatchNorm statistics move.
 */
export class BatchNormStateStore {
  private current: BnState;
  /** Batch statistics collected by `accumulate`, per layer, until `commit`. */
  private readonly pending = new Map<string, BatchStatistics[]>();

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

  /**
   * Collects one micro-batch's batch statistics (kept until {@link commit}); the running statistics do not move.
   * With `commit` after a pass's last micro-batch, BatchNorm's running statistics are updated once per pass with
   * the statistics of the whole batch, as when the batch runs in one piece.
   */
  accumulate(batch: Record<string, BatchStatistics> | undefined): void {
    if (!batch) return;
    for (const [name, stats] of Object.entries(batch)) {
      if (!this.current[name]) throw new ParamsMismatchError(`BatchNorm state '${name}' is not part of this store`);
      tf.keep(stats.mean);
      tf.keep(stats.variance);
      let list = this.pending.get(name);
      if (!list) {
        list = [];
        this.pending.set(name, list);
      }
      list.push(stats);
    }
  }

  /**
   * Updates the running statistics once from everything {@link accumulate}d since the last commit: the combined
   * mean and the unbiased variance of all the values (the within-part variances plus the spread of the parts'
   * means), with `momentum` as PyTorch's BatchNorm. Does nothing when nothing was accumulated.
   */
  commit(momentum: number): void {
    const updates: BnState = {};
    for (const [name, parts] of this.pending) {
      const running = this.current[name]!;
      updates[name] = tf.tidy(() => {
        const n = parts.reduce((a, p) => a + p.count, 0);
        const mean = tf.addN(parts.map((p) => tf.mul(p.mean, p.count / n))) as tf.Tensor1D;
        const within = tf.addN(parts.map((p) => tf.mul(p.variance, p.count / n)));
        const between = tf.addN(parts.map((p) => tf.mul(tf.square(tf.sub(p.mean, mean)), p.count / n)));
        const unbiased = tf.mul(tf.add(within, between), n / (n - 1));
        return {
          mean: tf.add(tf.mul(running.mean, 1 - momentum), tf.mul(mean, momentum)) as tf.Tensor1D,
          variance: tf.add(tf.mul(running.variance, 1 - momentum), tf.mul(unbiased, momentum)) as tf.Tensor1D,
        };
      });
      for (const p of parts) tf.dispose([p.mean, p.variance]);
    }
    this.pending.clear();
    this.update(updates);
  }

  /** Deep copy of the current statistics (new tensors owned by the caller). */
  snapshot(): BnState {
    return cloneBnState(this.current);
  }

  /** Disposes every tensor held. */
  dispose(): void {
    for (const parts of this.pending.values()) for (const p of parts) tf.dispose([p.mean, p.variance]);
    this.pending.clear();
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
