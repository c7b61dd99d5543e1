/**
 * The records a sweep produces and the per-ρ summary over seeds: pure functions of the runs, shared by
 * results.json, report.md, the CLI table and the figures.
 */
import type { Metric } from './definition.js';

/**
 * How a run ended: `diverged` once its loss, gradient or evaluation turned NaN or infinite (a result of the
 * run); `failed` when the job that trained it failed for good (an error, not a result; only a queued sweep
 * records it, with the error in `error`).
 */
export type RunStatus = 'ok' | 'diverged' | 'failed';

/** Metric values by metric key; null where a metric does not apply or could not be computed. */
export type MetricValues = Record<string, number | null>;

/**
 * One line of history.jsonl: one run at one evaluation. The progress field (`iteration` or `step`, plus
 * e.g. `epoch`) comes first, then `rho`, `seed`, the metric values and, when the experiment has series probes,
 * `series` (list-valued probes by key).
 */
export type HistoryRecord = { rho: number; seed: number; series?: Record<string, number[] | null> } & {
  [key: string]: number | null | Record<string, number[] | null> | undefined;
};

/** A record's value for a metric key (null for anything that is not a number). */
export function recordValue(record: HistoryRecord, key: string): number | null {
  const v = record[key];
  return typeof v === 'number' ? v : null;
}

/**
 * The outcome of one run. `final` holds its last evaluation's metric values (and, in results.json, the
 * definition's structured views of them, e.g. `ranks`); null when it diverged.
 */
export interface RunResult {
  rho: number;
  seed: number;
  status: RunStatus;
  /** Steps completed when the run was found non-finite (at an evaluation or a step); null if it did not diverge. */
  divergedAt: number | null;
  final: Record<string, unknown> | null;
  /** Why the run's job failed (status `failed` only). */
  error?: string;
}

/** A run's final value of a metric (null when it has none or it is not a number). */
export function finalValue(run: Pick<RunResult, 'final'>, key: string): number | null {
  const v = run.final?.[key];
  return typeof v === 'number' ? v : null;
}

/** Median, min and max over the finite values (NaN with n = 0 when there are none). */
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Median (mean of the middle two for even counts), min and max of the finite values. */
export function spread(values: readonly (number | null | undefined)[]): Spread {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

/** Per swept value: how many runs finished, diverged or failed, and the spread of each final metric over seeds. */
export interface RhoSummary {
  rho: number;
  finished: number;
  diverged: number;
  /** Runs whose job failed; present only when there are any (a sweep without failures keeps its old shape). */
  failed?: number;
  metrics: Record<string, Spread>;
}

/** Summarises final metrics per ρ, in grid order. */
export function summarizeByRho(
  rhos: readonly number[],
  runs: readonly RunResult[],
  metrics: readonly Pick<Metric<unknown>, 'key'>[],
): RhoSummary[] {
  return rhos.map((rho) => {
    const mine = runs.filter((r) => r.rho === rho);
    const done = mine.filter((r) => r.final !== null);
    const failed = mine.filter((r) => r.status === 'failed').length;
    const values = Object.fromEntries(metrics.map((m) => [m.key, spread(done.map((r) => finalValue(r, m.key)))]));
    return { rho, finished: done.length, diverged: mine.length - done.length - failed, ...(failed ? { failed } : {}), metrics: values };
  });
}

/** Default table format: integers as they are, other numbers to 4 significant digits (small ones in e-notation). */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (Number.isInteger(value)) return String(value);
  const a = Math.abs(value);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

/** A metric's value as the tables print it ('–' for null / non-finite). */
export function formatMetric(metric: Pick<Metric<unknown>, 'format'>, value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return metric.format ? metric.format(value) : formatValue(value);
}

/** JSON with NaN and ±Infinity written as null (JSON has neither). */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), indent);
}
