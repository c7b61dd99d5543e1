/**
 * report.md of a sweep, built from the definition's text and its metric list: the settings, the per-ρ table
 * (median and range over seeds) with the paper's numbers beside ours, what the runs say about the paper's
 * claims, every run, the notes and the figures.
 */
import type { Metric, PaperValues, ReportText } from './definition.js';
import type { Parameter } from './figures.js';
import { type RhoSummary, type RunResult, type Spread, formatMetric } from './results.js';

/** What the report needs besides the definition's text. */
export interface ReportInput {
  text: ReportText;
  parameter: Parameter;
  metrics: readonly Metric<unknown>[];
  runs: readonly RunResult[];
  summary: readonly RhoSummary[];
  backend: string;
  /** `samrank-repro …` that regenerates the run. */
  command?: string;
  /** Undefined for a resumed run (its wall time would mislead). */
  wallSeconds?: number;
  notes: readonly string[];
  /** Figure file stems written, in order. */
  figures: readonly string[];
}

function cell(metric: Metric<unknown>, s: Spread | undefined): string {
  if (!s || s.n === 0) return '–';
  const median = formatMetric(metric, s.median);
  if (s.n === 1 || s.min === s.max) return median;
  return `${median} (${formatMetric(metric, s.min)}–${formatMetric(metric, s.max)})`;
}

/** Interleaved paper columns when every swept value of the run is in the paper's grid; else a separate table. */
function paperFits(paper: PaperValues | undefined, summary: readonly RhoSummary[]): boolean {
  return paper !== undefined && summary.every((s) => paper.rows.has(s.rho));
}

function finalTable(input: ReportInput): string[] {
  const { metrics, summary, parameter } = input;
  const paper = paperFits(input.text.paper, summary) ? input.text.paper : undefined;
  const paperKeys = new Set(paper ? [...paper.rows.values()].flatMap((r) => Object.keys(r)) : []);
  const anyDiverged = summary.some((s) => s.diverged > 0);
  const header = [parameter.symbol, ...(anyDiverged ? ['diverged'] : [])];
  for (const m of metrics) {
    header.push(m.title);
    if (paperKeys.has(m.key)) header.push('paper');
  }
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const s of summary) {
    const row = [String(s.rho), ...(anyDiverged ? [`${s.diverged}/${s.diverged + s.finished}`] : [])];
    for (const m of metrics) {
      row.push(cell(m, s.metrics[m.key]));
      if (paperKeys.has(m.key)) {
        const v = paper!.rows.get(s.rho)?.[m.key];
        row.push(v === undefined ? '–' : `**${formatMetric(m, v)}**`);
      }
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines;
}

function separatePaperTable(input: ReportInput): string[] {
  const paper = input.text.paper;
  if (!paper || paperFits(paper, input.summary)) return [];
  const keys = new Set([...paper.rows.values()].flatMap((r) => Object.keys(r)));
  const metrics = input.metrics.filter((m) => keys.has(m.key));
  const lines = [
    "## The paper's numbers",
    '',
    `${paper.source}. This run used another grid or preset, so compare the direction of the changes, not the values.`,
    '',
    `| ${[input.parameter.symbol, ...metrics.map((m) => m.title)].join(' | ')} |`,
    `|${['', ...metrics].map(() => '---').join('|')}|`,
  ];
  for (const [rho, row] of paper.rows) lines.push(`| ${[String(rho), ...metrics.map((m) => formatMetric(m, row[m.key]))].join(' | ')} |`);
  return [...lines, ''];
}

/** One sentence per metric with an expected direction: what the medians did from the smallest to the largest ρ. */
function directions(input: ReportInput): string[] {
  const measured = input.summary.filter((s) => s.finished > 0);
  const first = measured[0];
  const last = measured[measured.length - 1];
  if (!first || !last || measured.length < 2) return [];
  const p = input.parameter.symbol;
  return input.metrics
    .filter((m) => m.expect)
    .map((m) => {
      const a = first.metrics[m.key]?.median ?? Number.NaN;
      const b = last.metrics[m.key]?.median ?? Number.NaN;
      const moved = m.expect === 'falls' ? b < a : b > a;
      const [verb, base] = m.expect === 'falls' ? ['falls', 'fall'] : ['rises', 'rise'];
      return (
        `- ${m.title}: median ${formatMetric(m, a)} at ${p} = ${first.rho} → ${formatMetric(m, b)} at ${p} = ${last.rho}` +
        (moved ? ` — it ${verb} with ${p}, as the paper reports.` : ` — it does **not** ${base} here, unlike the paper's claim.`)
      );
    });
}

function everyRun(input: ReportInput): string[] {
  const { metrics, runs, parameter } = input;
  const lines = [
    '## Every run',
    '',
    `| seed | ${parameter.symbol} | ${metrics.map((m) => m.column ?? m.title).join(' | ')} |`,
    `|---|---|${metrics.map(() => '---').join('|')}|`,
  ];
  for (const r of runs) {
    const cells = r.final ? metrics.map((m) => formatMetric(m, r.final![m.key])) : [`diverged at step ${r.divergedAt}`, ...metrics.slice(1).map(() => '')];
    lines.push(`| ${r.seed} | ${r.rho} | ${cells.join(' | ')} |`);
  }
  return [...lines, ''];
}

/** The text of report.md. */
export function renderReport(input: ReportInput): string {
  const { text } = input;
  const lines: string[] = [`# ${text.title}`, '', ...text.settings, ''];
  if (input.command) lines.push(`Command: \`${input.command}\``, '');
  lines.push(
    `Backend \`${input.backend}\`; ${input.wallSeconds !== undefined ? `wall time ${input.wallSeconds.toFixed(1)} s` : 'resumed from a checkpoint (no wall time)'}.`,
    '',
  );
  lines.push(
    '## Final values',
    '',
    `Last evaluation of each run: median over seeds, range in parentheses${paperFits(text.paper, input.summary) ? `; **paper** = ${text.paper!.source}` : ''}.`,
    '',
    ...finalTable(input),
    '',
  );
  const diverged = input.runs.filter((r) => r.status === 'diverged');
  if (diverged.length) {
    lines.push(
      `**Diverged** (non-finite loss, gradient or features; excluded from the medians): ${diverged.map((r) => `${input.parameter.symbol} ${r.rho} seed ${r.seed} at step ${r.divergedAt}`).join('; ')}.`,
      '',
    );
  }
  const said = directions(input);
  if (said.length) lines.push("What the paper's claims look like in these runs (medians over seeds):", '', ...said, '');
  lines.push(...separatePaperTable(input), ...everyRun(input));
  if (input.notes.length) lines.push('## Notes', '', ...input.notes.map((n) => `- ${n}`), '');
  if (input.figures.length) {
    lines.push('## Figures', '');
    for (const f of input.figures) lines.push(`- \`figures/${f}.{svg,png}\`${text.figureCaptions?.[f] ? `: ${text.figureCaptions[f]}` : ''}`);
    lines.push('');
  }
  return lines.join('\n');
}
