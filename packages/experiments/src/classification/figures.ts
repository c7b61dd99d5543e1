/** Figures of a classification sweep, like the paper's Figs. 1–3: metrics vs epoch per ρ, and final values vs ρ. */
import type { TopLevelSpec } from 'vega-lite';
import type { ClassificationConfig } from './config.js';
import type { HistoryRecord, RunResult } from './train.js';

interface Panel {
  key: string;
  title: string;
}

function panels(records: { knnError: number | null }[]): Panel[] {
  const list: Panel[] = [
    { key: 'testErrorPct', title: 'test error (%)' },
    { key: 'knnErrorPct', title: 'k-NN error (%)' },
    { key: 'rank3', title: 'feature rank, block 3' },
  ];
  return records.some((r) => r.knnError !== null) ? list : list.filter((p) => p.key !== 'knnErrorPct');
}

function flatten(r: { testError: number; knnError: number | null; featureRank: Record<string, number> }) {
  return { testErrorPct: 100 * r.testError, knnErrorPct: r.knnError === null ? null : 100 * r.knnError, rank3: r.featureRank['3'] };
}

const base = (config: ClassificationConfig, what: string) => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  title: `${config.dataset}, ${config.setting}, ${config.model} w${config.width} (${config.preset}${config.data === 'synthetic' ? ', generated data' : ''}): ${what}`,
  config: { font: 'DejaVu Sans', view: { stroke: null } },
});

/** Test error, k-NN error and block-3 rank vs epoch, one line per ρ (median over seeds). */
export function curvesFigure(config: ClassificationConfig, history: HistoryRecord[]): TopLevelSpec {
  const values = history.map((h) => ({ rho: h.rho, seed: h.seed, epoch: h.epoch, ...flatten(h) }));
  return {
    ...base(config, 'during training'),
    data: { values },
    hconcat: panels(history).map((p) => ({
      width: 220,
      height: 170,
      mark: { type: 'line' as const, point: true, strokeWidth: 1.8 },
      encoding: {
        x: { field: 'epoch', type: 'quantitative' as const, title: 'epoch' },
        y: { aggregate: 'median' as const, field: p.key, type: 'quantitative' as const, title: p.title, scale: { zero: false } },
        color: { field: 'rho', type: 'ordinal' as const, title: 'ρ', scale: { scheme: 'viridis' } },
      },
    })),
  } as TopLevelSpec;
}

/** Final values vs ρ (a dot per seed and the median line). */
export function finalFigure(config: ClassificationConfig, allRuns: RunResult[]): TopLevelSpec {
  // Diverged runs have no final values; their ρ simply has fewer (or no) dots.
  const runs = allRuns.filter((r): r is RunResult & { final: NonNullable<RunResult['final']> } => r.final !== null);
  const values = runs.map((r) => ({ rho: r.rho, seed: r.seed, ...flatten(r.final) }));
  return {
    ...base(config, 'final values vs ρ'),
    data: { values },
    hconcat: panels(runs.map((r) => r.final)).map((p) => ({
      width: 200,
      height: 160,
      layer: [
        { mark: { type: 'point' as const, filled: true, size: 30, color: '#555' }, encoding: { x: { field: 'rho', type: 'quantitative' as const, title: 'ρ' }, y: { field: p.key, type: 'quantitative' as const, title: p.title, scale: { zero: false } } } },
        { mark: { type: 'line' as const, point: true, color: '#3b6ea8', strokeWidth: 2 }, encoding: { x: { field: 'rho', type: 'quantitative' as const, title: 'ρ' }, y: { aggregate: 'median' as const, field: p.key, type: 'quantitative' as const, title: p.title } } },
      ],
    })),
  } as TopLevelSpec;
}
