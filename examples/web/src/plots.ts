/**
 * The page's two Vega-Lite figures (the CLI draws its figures with Vega-Lite too): the curves of one training
 * session, one line per ρ, and the final values of every finished run against ρ. Both read named data sets that
 * grow by `insert` while training, so a new evaluation redraws without re-parsing the spec.
 */
import embed, { type VisualizationSpec } from 'vega-embed';
import { type View, changeset } from 'vega';
import type { Evaluation } from './train.js';

const CURVES = 'history';
const FINALS = 'finals';

/** One point of the curves (diverged evaluations are left out: their NaNs cannot go on a log scale). */
type CurveRow = Pick<Evaluation, 'iteration' | 'rho' | 'trainLoss' | 'testLoss' | 'featureRank' | 'activeUnits'>;
/** One finished run; `series` names the seed and schedule the point belongs to. */
export type FinalRow = Evaluation & { iterations: number; series: string };

const rhoColor = { field: 'rho', type: 'ordinal', title: 'ρ', scale: { scheme: 'viridis' } } as const;

function curvePanel(field: keyof CurveRow, title: string, log: boolean) {
  return {
    title,
    width: 170,
    height: 150,
    mark: { type: 'line', interpolate: 'linear', clip: true },
    encoding: {
      x: { field: 'iteration', type: 'quantitative', title: 'iteration' },
      y: {
        field,
        type: 'quantitative',
        title: null,
        ...(log ? { scale: { type: 'log' }, axis: { tickCount: 4, format: '.0e' } } : { scale: { zero: true } }),
      },
      color: rhoColor,
      tooltip: [{ field: 'rho', title: 'ρ' }, { field: 'iteration' }, { field, title, format: log ? '.2e' : 'd' }],
    },
  };
}

const curvesSpec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  data: { name: CURVES },
  hconcat: [
    curvePanel('trainLoss', 'train loss', true),
    curvePanel('testLoss', 'test loss', true),
    curvePanel('featureRank', 'feature rank (99.99 %)', false),
    curvePanel('activeUnits', 'active ReLUs', false),
  ],
  // resize: the legend and axis labels appear with the first data; without it the canvas keeps its empty size.
  autosize: { type: 'pad', resize: true },
  config: { view: { stroke: '#ddd' }, concat: { spacing: 14 } },
} as unknown as VisualizationSpec;

function finalPanel(field: 'featureRank' | 'activeUnits' | 'testLoss', title: string) {
  const y = {
    field,
    type: 'quantitative',
    title: null,
    ...(field === 'testLoss' ? { scale: { type: 'log' }, axis: { tickCount: 4, format: '.0e' } } : { scale: { zero: true } }),
  };
  const color = { field: 'series', type: 'nominal', title: 'run' };
  return {
    title,
    width: 210,
    height: 170,
    layer: [
      { mark: { type: 'line' }, encoding: { x: { field: 'rho', type: 'quantitative', title: 'ρ' }, y, color, order: { field: 'rho' } } },
      {
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: { field: 'rho', type: 'quantitative' },
          y,
          color,
          tooltip: [
            { field: 'series', title: 'run' },
            { field: 'rho', title: 'ρ' },
            { field, title, format: field === 'testLoss' ? '.2e' : 'd' },
          ],
        },
      },
    ],
  };
}

const finalsSpec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  data: { name: FINALS },
  hconcat: [finalPanel('featureRank', 'feature rank'), finalPanel('activeUnits', 'active ReLUs'), finalPanel('testLoss', 'test loss')],
  autosize: { type: 'pad', resize: true },
  config: { view: { stroke: '#ddd' }, concat: { spacing: 20 } },
} as unknown as VisualizationSpec;

/** The two live figures of the page. */
export class Plots {
  private constructor(
    private readonly curves: View,
    private readonly finals: View,
  ) {}

  static async create(curvesEl: HTMLElement, finalsEl: HTMLElement): Promise<Plots> {
    // Canvas redraws faster than SVG at one update per evaluation; the menu keeps only the PNG/SVG export. Log level
    // 1 (vega's Error): empty data sets before the first run would otherwise warn about infinite extents.
    const options = { renderer: 'canvas', logLevel: 1, actions: { export: true, source: false, compiled: false, editor: false } } as const;
    const [curves, finals] = await Promise.all([embed(curvesEl, curvesSpec, options), embed(finalsEl, finalsSpec, options)]);
    return new Plots(curves.view, finals.view);
  }

  /** Starts a new set of curves. */
  async resetCurves(): Promise<void> {
    await this.curves.remove(CURVES, () => true).runAsync();
  }

  async addEvaluations(rows: readonly Evaluation[]): Promise<void> {
    const points: CurveRow[] = rows
      .filter((r) => !r.diverged)
      .map(({ iteration, rho, trainLoss, testLoss, featureRank, activeUnits }) => ({
        iteration,
        rho,
        trainLoss,
        testLoss,
        featureRank,
        activeUnits,
      }));
    if (points.length > 0) await this.curves.insert(CURVES, points).runAsync();
  }

  /** Replaces the finished runs shown against ρ. */
  async setFinals(rows: readonly FinalRow[]): Promise<void> {
    // One changeset: a separate remove and insert in the same pulse kept the removed points.
    const points = rows.filter((r) => !r.diverged).map((r) => ({ ...r }));
    await this.finals
      .change(
        FINALS,
        changeset()
          .remove(() => true)
          .insert(points),
      )
      .runAsync();
  }

  /** How many points each figure holds (the test hook reads it). */
  counts(): { curves: number; finals: number } {
    return { curves: this.curves.data(CURVES).length, finals: this.finals.data(FINALS).length };
  }
}
