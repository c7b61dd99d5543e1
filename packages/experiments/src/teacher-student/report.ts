/**
 * report.md for a teacher-student sweep: per ρ, the median and range over seeds of each final metric,
 * beside the values the authors' notebook printed for its single seed (spec §6.4).
 */
import type { TeacherStudentConfig } from './config.js';
import type { StudentMetrics } from './metrics.js';
import type { RunResult } from './train.js';

/** Final values printed by the paper's notebook (seed 4), keyed by ρ / λ. */
export interface PaperRow {
  featureRank: number;
  activeUnits: number;
  weightNorm: number;
  testLoss?: number;
  trainLoss?: number;
}

/** The notebook's numbers for the paper's grids (spec §6.4); undefined where the paper has none. */
export function paperNumbers(
  config: Pick<TeacherStudentConfig, 'activation' | 'method'>,
): Map<number, PaperRow> | undefined {
  const rows = (
    grid: number[],
    rank: number[],
    active: number[],
    norm: number[],
    test?: number[],
    train?: number[],
  ): Map<number, PaperRow> =>
    new Map(
      grid.map((g, i) => [
        g,
        {
          featureRank: rank[i]!,
          activeUnits: active[i]!,
          weightNorm: norm[i]!,
          ...(test ? { testLoss: test[i]! } : {}),
          ...(train ? { trainLoss: train[i]! } : {}),
        },
      ]),
    );
  if (config.activation === 'relu' && config.method === 'sam') {
    return rows(
      [0, 0.1, 0.2, 0.4, 0.6],
      [19, 18, 15, 9, 4],
      [77, 68, 58, 35, 10],
      [6.25, 7.14, 8.61, 10.13, 9.23],
      [0.0147, 0.0089, 0.006, 0.0102, 0.0083],
      [3.8e-6, 1.6e-6, 6.8e-6, 3.3e-4, 1.8e-3],
    );
  }
  if (config.activation === 'relu' && config.method === 'gradnorm') {
    return rows(
      [0, 0.1, 0.2, 0.3, 0.35, 0.38],
      [19, 18, 16, 13, 14, 6],
      [77, 76, 60, 39, 40, 12],
      [6.25, 6.56, 7.88, 11.33, 10.85, 27.24],
      [0.0147, 0.0104, 0.0073, 0.0066, 0.0123, 0.0131],
    );
  }
  if (config.activation === 'abs' && config.method === 'sam') {
    return rows([0, 0.1, 0.2, 0.3, 0.4], [18, 18, 16, 12, 8], [100, 99, 94, 84, 49], [6.85, 3.71, 3.05, 2.84, 2.62]);
  }
  if (config.activation === 'tanh' && config.method === 'sam') {
    return rows([0, 0.2, 0.4, 0.6, 0.8], [17, 16, 12, 6, 3], [100, 99, 67, 11, 4], [22.4, 16.19, 9.15, 4.97, 2.68]);
  }
  return undefined;
}

/** Median, min and max of the finite values (NaN median when there are none). */
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Median (mean of the middle two for even counts), min and max. */
export function spread(values: number[]): Spread {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

/** Per-ρ spread of each final metric over the runs that finished. */
export interface RhoSummary {
  rho: number;
  finished: number;
  diverged: number;
  metrics: Record<keyof StudentMetrics, Spread>;
}

const KEYS: (keyof StudentMetrics)[] = ['featureRank', 'activeUnits', 'trainLoss', 'testLoss', 'weightNorm'];

/** Summarizes final metrics per ρ (in grid order). */
export function summarizeByRho(rhos: number[], runs: RunResult[]): RhoSummary[] {
  return rhos.map((rho) => {
    const mine = runs.filter((r) => r.rho === rho);
    const done = mine.filter((r) => r.final);
    const metrics = Object.fromEntries(KEYS.map((k) => [k, spread(done.map((r) => r.final![k]))])) as RhoSummary['metrics'];
    return { rho, finished: done.length, diverged: mine.length - done.length, metrics };
  });
}

function fmt(x: number, key: keyof StudentMetrics): string {
  if (!Number.isFinite(x)) return '–';
  if (key === 'featureRank' || key === 'activeUnits') return Number.isInteger(x) ? String(x) : x.toFixed(1);
  if (key === 'weightNorm') return x.toFixed(2);
  return x < 1e-3 ? x.toExponential(1) : x.toFixed(4);
}

function cell(s: Spread, key: keyof StudentMetrics): string {
  if (s.n === 0) return '–';
  if (s.n === 1 || s.min === s.max) return fmt(s.median, key);
  return `${fmt(s.median, key)} (${fmt(s.min, key)}–${fmt(s.max, key)})`;
}

const TITLES: Record<keyof StudentMetrics, string> = {
  featureRank: 'feature rank (99.99 %)',
  activeUnits: 'active units',
  trainLoss: 'train loss',
  testLoss: 'test loss',
  weightNorm: 'ℓ2 norm',
};

/** Renders report.md. `extra` lines (command line, timing) go under the header. */
export function teacherStudentReport(
  config: TeacherStudentConfig,
  runs: RunResult[],
  info: { backend: string; command?: string; wallSeconds?: number },
): string {
  const p = config.method === 'sam' ? 'ρ' : 'λ';
  const summary = summarizeByRho(config.rhos, runs);
  const paper = paperNumbers(config);
  const lines: string[] = [];
  const method = config.method === 'sam' ? 'SAM' : 'gradient-norm regularizer';
  lines.push(`# Teacher-student (${config.activation}, ${method})`, '');
  lines.push(
    `Preset \`${config.preset}\`: n = ${config.nTrain} training / ${config.nTest} test points on the unit sphere in R^${config.inputDim}, ` +
      `teacher with ${config.teacherWidth} ${config.activation} units, student m = ${config.width}, init std ${config.initStd}, ` +
      `SGD batch 1, lr ${config.learningRate}, ${config.iterations} iterations, ${method} for i ≤ ${Math.floor(config.regularizedFraction * config.iterations)}. ` +
      `Data seeds ${config.seeds.join(', ')} (labels redrawn until max |y| ≤ ${config.maxAbsLabel}). Backend \`${info.backend}\`.`,
  );
  if (info.command) lines.push('', `Command: \`${info.command}\``);
  if (info.wallSeconds !== undefined) lines.push('', `Wall time: ${info.wallSeconds.toFixed(1)} s.`);
  lines.push(
    '',
    `Final values (last evaluation, before iteration ${Math.round(((config.evaluations - 1) * config.iterations) / config.evaluations)}): ` +
      `median over seeds, range in parentheses${paper ? "; **paper** = the authors' notebook, one seed (spec §6.4)" : ''}.`,
    '',
  );
  const header = [p, ...(summary.some((s) => s.diverged) ? ['diverged'] : [])];
  for (const k of KEYS) {
    header.push(TITLES[k]);
    if (paper && (k !== 'trainLoss' || config.method === 'sam') && (k !== 'testLoss' || config.activation === 'relu')) header.push('paper');
  }
  lines.push(`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`);
  for (const s of summary) {
    const row = [String(s.rho), ...(summary.some((t) => t.diverged) ? [`${s.diverged}/${s.diverged + s.finished}`] : [])];
    const pr = paper?.get(s.rho);
    for (const k of KEYS) {
      row.push(cell(s.metrics[k], k));
      if (paper && (k !== 'trainLoss' || config.method === 'sam') && (k !== 'testLoss' || config.activation === 'relu')) {
        const v = pr?.[k];
        row.push(v === undefined ? '–' : `**${fmt(v, k)}**`);
      }
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  const first = summary[0];
  const last = summary[summary.length - 1];
  if (first && last && summary.length > 1) {
    const r0 = first.metrics.featureRank.median;
    const r1 = last.metrics.featureRank.median;
    const a0 = first.metrics.activeUnits.median;
    const a1 = last.metrics.activeUnits.median;
    lines.push(
      '',
      `From ${p} = ${first.rho} to ${p} = ${last.rho} the median feature rank goes ${fmt(r0, 'featureRank')} → ${fmt(r1, 'featureRank')} ` +
        `and the median number of active units ${fmt(a0, 'activeUnits')} → ${fmt(a1, 'activeUnits')}` +
        (r1 < r0 && a1 < a0 ? ': the low-rank effect the paper reports.' : '.'),
    );
  }
  const perSeed = runs.map((r) =>
    r.final
      ? `| ${r.seed} | ${r.rho} | ${r.final.featureRank} | ${r.final.activeUnits} | ${fmt(r.final.trainLoss, 'trainLoss')} | ${fmt(r.final.testLoss, 'testLoss')} | ${fmt(r.final.weightNorm, 'weightNorm')} |`
      : `| ${r.seed} | ${r.rho} | diverged at ${r.divergedAt} | | | | |`,
  );
  lines.push(
    '',
    '## Every run',
    '',
    `| seed | ${p} | rank | active | train loss | test loss | ℓ2 norm |`,
    '|---|---|---|---|---|---|---|',
    ...perSeed,
    '',
    'Figures: `figures/metrics-vs-iteration.{svg,png}` (median over seeds per ' + p + ') and `figures/final-vs-' + (p === 'ρ' ? 'rho' : 'lambda') + '.{svg,png}`.',
    '',
  );
  return lines.join('\n');
}
