/**
 * The two figures every sweep gets, built from its metric list like the paper's Figs. 1–3 and 5: each
 * metric against training progress (median over seeds, one line per ρ), and the final values against ρ (a
 * dot per seed, the median line and the min–max band).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Metric } from './definition.js';
import { type HistoryRecord, type RunResult, finalValue, recordValue } from './results.js';

/** The swept parameter's name and symbol (ρ for SAM, λ for the regularizer). */
export interface Parameter {
  name: string;
  symbol: string;
}

/** Log axes label only 1, 2 and 5 × 10^k, so the minor ticks do not pile up into unreadable labels. */
const LOG_AXIS = {
  labelExpr:
    "indexof([1, 2, 5], round(datum.value / pow(10, floor(log(datum.value) / LN10 + 1e-9)))) >= 0 ? format(datum.value, '.0e') : ''",
};

const BASE = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: { font: 'DejaVu Sans', view: { stroke: null } } };

/** A data field name for a metric key: vega-lite reads dots and brackets in field names as nested paths. */
export function fieldOf(key: string): string {
  return key.replace(/[^A-Za-z0-9_]/g, '_');
}

/** A metric's plotted value: scaled, and clamped above 0 on log axes (log(0) is undefined). */
function plotted(metric: Metric<unknown>, value: number | null | undefined): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const v = value * (metric.plot?.scale ?? 1);
  return metric.plot?.log ? Math.max(v, 1e-12) : v;
}

function yAxis(metric: Metric<unknown>, field = fieldOf(metric.key)) {
  return {
    field,
    type: 'quantitative' as const,
    title: metric.title,
    ...(metric.plot?.log ? { scale: { type: 'log' as const }, axis: LOG_AXIS } : { scale: { zero: false } }),
  };
}

/** Each of `metrics` against the progress field, one line per ρ (median over seeds); metrics without values are left out. */
export function curvesFigure(
  title: string,
  metrics: readonly Metric<unknown>[],
  history: readonly HistoryRecord[],
  x: { field: string; label: string },
  parameter: Parameter,
): TopLevelSpec | null {
  const panels = metrics.filter((m) => history.some((h) => plotted(m, recordValue(h, m.key)) !== null));
  if (panels.length === 0) return null;
  const values = history.map((h) => ({
    [x.field]: h[x.field],
    [parameter.name]: h.rho,
    seed: h.seed,
    ...Object.fromEntries(panels.map((m) => [fieldOf(m.key), plotted(m, recordValue(h, m.key))])),
  }));
  return {
    ...BASE,
    title,
    data: { values },
    hconcat: panels.map((m) => ({
      width: 200,
      height: 160,
      mark: { type: 'line' as const, strokeWidth: 1.8 },
      encoding: {
        x: { field: x.field, type: 'quantitative' as const, title: x.label },
        y: { ...yAxis(m), aggregate: 'median' as const },
        color: { field: parameter.name, type: 'ordinal' as const, title: parameter.symbol, scale: { scheme: 'viridis' } },
      },
    })),
  } as TopLevelSpec;
}

/** Each of `metrics` against ρ: a dot per seed, the median line, the min–max band; metrics without values are left out. */
export function finalFigure(
  title: string,
  metrics: readonly Metric<unknown>[],
  runs: readonly RunResult[],
  parameter: Parameter,
): TopLevelSpec | null {
  const done = runs.filter((r) => r.final !== null);
  const panels = metrics.filter((m) => done.some((r) => plotted(m, finalValue(r, m.key)) !== null));
  if (panels.length === 0) return null;
  const p = parameter.name;
  const values = done.map((r) => ({
    [p]: r.rho,
    seed: r.seed,
    ...Object.fromEntries(panels.map((m) => [fieldOf(m.key), plotted(m, finalValue(r, m.key))])),
  }));
  const x = { field: p, type: 'quantitative' as const, title: parameter.symbol };
  return {
    ...BASE,
    title,
    data: { values },
    hconcat: panels.map((m) => {
      const f = fieldOf(m.key);
      return {
        width: 200,
        height: 160,
        layer: [
          {
            transform: [
              {
                aggregate: [
                  { op: 'min' as const, field: f, as: `lo_${f}` },
                  { op: 'max' as const, field: f, as: `hi_${f}` },
                ],
                groupby: [p],
              },
            ],
            mark: { type: 'area' as const, opacity: 0.18, color: '#3b6ea8' },
            encoding: { x, y: yAxis(m, `lo_${f}`), y2: { field: `hi_${f}` } },
          },
          { mark: { type: 'point' as const, filled: true, size: 22, opacity: 0.55, color: '#555' }, encoding: { x, y: yAxis(m) } },
          {
            mark: { type: 'line' as const, point: true, color: '#3b6ea8', strokeWidth: 2 },
            encoding: { x, y: { ...yAxis(m), aggregate: 'median' as const } },
          },
        ],
      };
    }),
  } as TopLevelSpec;
}

/**
 * Final values of `metrics` against the position each stands for (`profile.positions`, e.g. the block a layer's rank
 * was taken after), one line per ρ with the median over seeds: the paper's rank-per-layer plots (Figs. 7, 14).
 */
export function profileFigure(
  title: string,
  metrics: readonly Metric<unknown>[],
  profile: { positions: readonly number[]; label: string; panel: string },
  runs: readonly RunResult[],
  parameter: Parameter,
): TopLevelSpec | null {
  const values = runs
    .filter((r) => r.final !== null)
    .flatMap((r) =>
      metrics.map((m, i) => ({
        position: profile.positions[i],
        [parameter.name]: r.rho,
        seed: r.seed,
        value: plotted(m, finalValue(r, m.key)),
      })),
    )
    .filter((v) => v.value !== null && v.position !== undefined);
  if (values.length === 0) return null;
  return {
    ...BASE,
    title,
    data: { values },
    width: 260,
    height: 180,
    mark: { type: 'line' as const, point: true, strokeWidth: 1.8 },
    encoding: {
      x: { field: 'position', type: 'quantitative' as const, title: profile.label, axis: { tickMinStep: 1 } },
      y: { field: 'value', type: 'quantitative' as const, title: profile.panel, aggregate: 'median' as const, scale: { zero: false } },
      color: { field: parameter.name, type: 'ordinal' as const, title: parameter.symbol, scale: { scheme: 'viridis' } },
    },
  } as TopLevelSpec;
}
