/**
 * Schedules for the learning rate and for ρ / λ, as pure functions `(step, base) => value`.
 *
 * `step` is the optimizer's `iterations` count before the step (0-based) and `base` is the value the
 * schedule modulates (the base optimizer's initial learning rate, or each run's ρ / λ). Passing the base
 * in, instead of baking it into the schedule, lets one schedule drive per-run ρ arrays and lets
 * schedules compose: `(s, b) => window(s, piecewise(s, b))`.
 */
import { InvalidScheduleError } from './errors.js';

/** A schedule: value to use at optimizer step `step` (0-based) given the unscheduled value `base`. */
export type Schedule = (step: number, base: number) => number;

function checkTotal(totalSteps: number, name: string): void {
  if (!Number.isInteger(totalSteps) || totalSteps <= 0) {
    throw new InvalidScheduleError(`${name}: totalSteps must be a positive integer, got ${totalSteps}`);
  }
}

/** The base value at every step. */
export function constantSchedule(): Schedule {
  return (_step, base) => base;
}

/** Options of {@link piecewise05Epochs}. */
export interface PiecewiseOptions {
  /**
   * Which fraction of training a step's learning rate is read at: 'start' (default) = step/totalSteps, the
   * fraction done before the step; 'end' = (step + 1)/totalSteps, the fraction done after it — how the paper's
   * classification code evaluates its schedule (epoch − 1 + (i + 1)/iterations per epoch), so each drop comes one
   * step earlier.
   */
  at?: 'start' | 'end';
}

/**
 * The paper's `piecewise_05epochs`: `base` while the fraction of training t < 0.5, `base / 10` while < 0.9, then
 * `base / 100` (divisions, not multiplications by 0.1, so the values equal the original code's exactly).
 */
export function piecewise05Epochs(totalSteps: number, options: PiecewiseOptions = {}): Schedule {
  checkTotal(totalSteps, 'piecewise05Epochs');
  const shift = options.at === 'end' ? 1 : 0;
  if (options.at !== undefined && options.at !== 'start' && options.at !== 'end') {
    throw new InvalidScheduleError(`piecewise05Epochs: at must be 'start' or 'end', got ${String(options.at)}`);
  }
  return (step, base) => {
    const t = (step + shift) / totalSteps;
    if (t < 0.5) return base;
    if (t < 0.9) return base / 10;
    return base / 100;
  };
}

/** Options of {@link cosineSchedule}. */
export interface CosineScheduleOptions {
  /** Value reached at the end of training, as a fraction of `base` (default 0). */
  finalFraction?: number;
}

/**
 * Cosine decay from `base` at step 0 to `base * finalFraction` at step `totalSteps` (the original
 * code's `cosine`: `base * 0.5 * (1 + cos(pi * t))` when finalFraction is 0); constant afterwards.
 */
export function cosineSchedule(totalSteps: number, options: CosineScheduleOptions = {}): Schedule {
  checkTotal(totalSteps, 'cosineSchedule');
  const final = options.finalFraction ?? 0;
  if (!Number.isFinite(final) || final < 0) {
    throw new InvalidScheduleError(`cosineSchedule: finalFraction must be a finite number >= 0, got ${final}`);
  }
  return (step, base) => {
    const t = Math.min(step / totalSteps, 1);
    const c = 0.5 * (1 + Math.cos(Math.PI * t));
    return final === 0 ? base * c : base * (final + (1 - final) * c);
  };
}

/** Options of {@link windowSchedule}. */
export interface WindowScheduleOptions {
  /** Fraction of training where the window opens (inclusive; default 0). */
  start?: number;
  /** Fraction of training where the window closes (default 1). */
  end?: number;
  /**
   * Whether step/totalSteps == end is still inside (default true, as the paper's code:
   * `start <= epoch/epochs <= end`, and the two-layer code's `i <= 0.5 * num_iter`).
   */
  includeEnd?: boolean;
}

/**
 * `base` inside a window of training and 0 outside: SAM (or the gradient-norm penalty) active only
 * between two fractions of training, as in the teacher-student experiment (first half only).
 */
export function windowSchedule(totalSteps: number, options: WindowScheduleOptions = {}): Schedule {
  checkTotal(totalSteps, 'windowSchedule');
  const start = options.start ?? 0;
  const end = options.end ?? 1;
  const includeEnd = options.includeEnd ?? true;
  if (!Number.isFinite(start) || !Number.isFinite(end) || start < 0 || end < start) {
    throw new InvalidScheduleError(`windowSchedule: need finite 0 <= start <= end, got start ${start}, end ${end}`);
  }
  return (step, base) => {
    const t = step / totalSteps;
    const inside = t >= start && (includeEnd ? t <= end : t < end);
    return inside ? base : 0;
  };
}

/** Evaluates a schedule and checks its value is a finite number >= 0. */
export function evaluateSchedule(schedule: Schedule, step: number, base: number, what: string): number {
  const v = schedule(step, base);
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new InvalidScheduleError(`${what} schedule returned ${v} at step ${step}; need a finite number >= 0`);
  }
  return v;
}
