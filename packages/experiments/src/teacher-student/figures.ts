/**
 * The teacher-student figures, like the paper's Fig. 5: each metric against the iteration (median over
 * seeds, one line per ρ) and the final values against ρ (every seed as a dot, median line, min–max band).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { TeacherStudentConfig } from './config.js';
import type { HistoryRecord, RunResult } from './train.js';

interface MetricSpec {
  key: 'trainLoss' | 'testLoss' | 'featureRank' | 'activeUnits' | 'weightNorm';
  title: string;
  log?: boolean;
}

function unitName(config: Pick<TeacherStudentConfig, 'activation'>): string {
  return config.activation === 'relu' ? 'active ReLUs' : `active ${config.activation} units`;
}

function metrics(config: Pick<TeacherStudentConfig, 'activation'>): MetricSpec[] {
  return [
    { key: 'trainLoss', title: 'train loss', log: true },
    { key: 'testLoss', title: 'test loss', log: true },
    { key: 'featureRank', title: 'feature rank (99.99%)' },
    { key: 'activeUnits', title: unitName(config) },
    { key: 'weightNorm', title: 'ℓ2 norm of parameters' },
  ];
}

function paramName(config: Pick<TeacherStudentConfig, 'method'>): string {
  return config.method === 'sam' ? 'rho' : 'lambda';
}

function title(config: Pick<TeacherStudentConfig, 'activation' | 'method' | 'seeds'>, what: string): string {
  const method = config.method === 'sam' ? 'SAM' : 'gradient-norm regularizer';
  const n = config.seeds.length;
  return `Teacher-student, ${config.activation}, ${method}: ${what.replace('{seeds}', `${n} seed${n === 1 ? '' : 's'}`)}`;
}

/** Log axes label only 1, 2 and 5 × 10^k, so the minor ticks do not pile up into unreadable labels. */
const LOG_AXIS = {
  labelExpr:
    "indexof([1, 2, 5], round(datum.value / pow(10, floor(log(datum.value) / LN10 + 1e-9)))) >= 0 ? format(datum.value, '.0e') : ''",
};

/** Metric vs iteration, one line per ρ (median over seeds); losses on a log axis. */
export function iterationFigure(
  config: Pick<TeacherStudentConfig, 'activation' | 'method' | 'seeds'>,
  history: HistoryRecord[],
): TopLevelSpec {
  const p = paramName(config);
  const values = history
    .filter((h) => Number.isFinite(h.trainLoss))
    .map((h) => ({ ...h, [p]: h.rho, trainLoss: Math.max(h.trainLoss, 1e-12), testLoss: Math.max(h.testLoss, 1e-12) }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title(config, 'metrics during training (median over {seeds})'),
    data: { values },
    config: { font: 'DejaVu Sans', view: { stroke: null } },
    hconcat: metrics(config).map((m) => ({
      width: 190,
      height: 150,
      mark: { type: 'line' as const, strokeWidth: 1.8 },
      encoding: {
        x: { field: 'iteration', type: 'quantitative' as const, title: 'iteration' },
        y: {
          aggregate: 'median' as const,
          field: m.key,
          type: 'quantitative' as const,
          title: m.title,
          ...(m.log ? { scale: { type: 'log' as const }, axis: LOG_AXIS } : {}),
        },
        color: { field: p, type: 'ordinal' as const, title: p === 'rho' ? 'ρ' : 'λ', scale: { scheme: 'viridis' } },
      },
    })),
  } as TopLevelSpec;
}

/** Final rank / active units / norm / test loss vs ρ: a dot per seed, the median line, the min–max band. */
export function finalFigure(
  config: Pick<TeacherStudentConfig, 'activation' | 'method' | 'seeds'>,
  runs: RunResult[],
): TopLevelSpec {
  const p = paramName(config);
  const values = runs.filter((r) => r.final).map((r) => ({ [p]: r.rho, seed: r.seed, ...r.final! }));
  const panels = metrics(config).filter((m) => m.key !== 'trainLoss');
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title(config, `final values vs ${p === 'rho' ? 'ρ' : 'λ'} ({seeds}: dots, median line, min–max band)`),
    data: { values },
    config: { font: 'DejaVu Sans', view: { stroke: null } },
    hconcat: panels.map((m) => {
      const x = { field: p, type: 'quantitative' as const, title: p === 'rho' ? 'ρ' : 'λ' };
      const yScale = m.log ? { scale: { type: 'log' as const }, axis: LOG_AXIS } : {};
      return {
        width: 200,
        height: 160,
        layer: [
          {
            transform: [{ aggregate: [{ op: 'min' as const, field: m.key, as: `lo_${m.key}` }, { op: 'max' as const, field: m.key, as: `hi_${m.key}` }], groupby: [p] }],
            mark: { type: 'area' as const, opacity: 0.18, color: '#3b6ea8' },
            encoding: {
              x,
              y: { field: `lo_${m.key}`, type: 'quantitative' as const, title: m.title, ...yScale },
              y2: { field: `hi_${m.key}` },
            },
          },
          {
            mark: { type: 'point' as const, filled: true, size: 22, opacity: 0.55, color: '#555' },
            encoding: { x, y: { field: m.key, type: 'quantitative' as const, title: m.title, ...yScale } },
          },
          {
            mark: { type: 'line' as const, point: true, color: '#3b6ea8', strokeWidth: 2 },
            encoding: {
              x,
              y: { aggregate: 'median' as const, field: m.key, type: 'quantitative' as const, title: m.title, ...yScale },
            },
          },
        ],
      };
    }),
  } as TopLevelSpec;
}
