/**
 * report.md of a sweep, built from the definition's text and its metric list: the settings, the per-ρ table
 * (median and range over seeds) with the paper's numbers beside ours, what the runs say about the paper's
 * claims, every run, the notes and the figures.
 */
import type { Metric, PaperValues, ReportText } from './definition.js';
import type { Parameter } from './figures.js';
import { type RhoSummary, type RunResult, type Spread, finalValue, formatMetric } from './results.js';
import { CONFIDENCE, type PairedComparison } from './statistics.js';

/** What the report needs besides the definition's text. */
export interface ReportInput {
  text: ReportText;
  parameter: Parameter;
  metrics: readonly Metric<unknown>[];
  runs: readonly RunResult[];
  summary: readonly RhoSummary[];
  comparisons: readonly PairedComparison[];
  backend: string;
  /** `samrank-repro …` that regenerates the run. */
  command?: string;
  /** Undefined for a resumed run (its wall time would mislead). */
  wallSeconds?: number;
  notes: readonly string[];
  /** Figure file stems written, in order, with captions beyond the definition's own. */
  figures: readonly { name: string; caption?: string }[];
  /** The definition's own tables in place of the sweep sections (`reportTables`). */
  tables?: readonly string[];
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
  const { summary, parameter } = input;
  const metrics = input.metrics.filter((m) => m.table !== false);
  const paper = paperFits(input.text.paper, summary) ? input.text.paper : undefined;
  const paperKeys = new Set(paper ? [...paper.rows.values()].flatMap((r) => Object.keys(r)) : []);
  const anyDiverged = summary.some((s) => s.diverged > 0);
  const anyFailed = summary.some((s) => (s.failed ?? 0) > 0);
  const header = [parameter.symbol, ...(anyDiverged ? ['diverged'] : []), ...(anyFailed ? ['failed'] : [])];
  for (const m of metrics) {
    header.push(m.title);
    if (paperKeys.has(m.key)) header.push('paper');
  }
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const s of summary) {
    const runs = s.diverged + s.finished + (s.failed ?? 0);
    const row = [String(s.rho), ...(anyDiverged ? [`${s.diverged}/${runs}`] : []), ...(anyFailed ? [`${s.failed ?? 0}/${runs}`] : [])];
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
  const metrics = input.metrics.filter((m) => keys.has(m.key) && m.table !== false);
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

/** What the paired comparisons say about one claimed metric, as one sentence. */
export function claimSentence(metric: Metric<unknown>, comparisons: readonly PairedComparison[], symbol: string): string {
  const expected = metric.expect === 'falls' ? 'lower' : 'higher';
  const opposite = expected === 'lower' ? 'higher' : 'lower';
  const list = (cs: readonly PairedComparison[]) => cs.map((c) => `${symbol} = ${c.rho}`).join(', ');
  const seeds = Math.max(0, ...comparisons.map((c) => c.n));
  if (seeds < 3)
    return `- ${metric.title}: only ${seeds} seed${seeds === 1 ? '' : 's'} per ${symbol} paired with ${symbol} = 0 — too few for a verdict.`;
  const yes = comparisons.filter((c) => c.verdict === expected);
  const no = comparisons.filter((c) => c.verdict === opposite);
  const unclear = comparisons.filter((c) => c.verdict === 'unclear');
  const claim = `the paper reports it ${expected} than at ${symbol} = 0`;
  if (yes.length === comparisons.length)
    return `- ${metric.title}: ${expected} than at ${symbol} = 0 at every ${symbol} > 0 — ${claim}: **reproduced**.`;
  if (yes.length === 0 && no.length === 0)
    return `- ${metric.title}: no clear difference from ${symbol} = 0 at any ${symbol} — ${claim}: **no clear effect** in these runs.`;
  const parts = [
    yes.length ? `${expected} at ${list(yes)}` : '',
    unclear.length ? `no clear difference at ${list(unclear)}` : '',
    no.length ? `**${opposite}** at ${list(no)}` : '',
  ].filter(Boolean);
  const verdict = no.length
    ? 'contradicted where it is ' + opposite
    : yes.some((c) => c.rho === Math.max(...comparisons.map((x) => x.rho)))
      ? 'reproduced at the larger values'
      : 'partly reproduced';
  return `- ${metric.title}: ${parts.join('; ')} — ${claim}: **${verdict}**.`;
}

function pairedSection(input: ReportInput): string[] {
  const { metrics, comparisons, parameter } = input;
  const p = parameter.symbol;
  const shown = metrics.filter((m) => m.expect || m.trainingQuality);
  if (!shown.length || !comparisons.length) return [];
  const lines = [
    `## Against ${p} = 0, paired by seed`,
    '',
    `Runs of the same seed share the data order and the initialisation, so each seed gives one difference m(${p}) − m(${p} = 0). ` +
      `Median difference with a ${Math.round(100 * CONFIDENCE)} % bootstrap interval (10,000 seeded resamples; for 3–5 seeds it spans the smallest to the largest difference) and an exact two-sided sign test; ` +
      'a difference counts only when the interval excludes 0 (with at least 3 seeds), i.e. when the seeds agree.',
    '',
    `| metric | ${p} | seeds | median difference (${Math.round(100 * CONFIDENCE)} % interval) | mean difference | sign test p | verdict |`,
    '|---|---|---|---|---|---|---|',
  ];
  for (const m of shown) {
    for (const c of comparisons.filter((x) => x.metric === m.key)) {
      const fmt = (v: number) =>
        Number.isFinite(v) ? formatMetric({ format: m.format ?? ((x) => String(Number(x.toPrecision(3)))) }, v) : '–';
      lines.push(
        `| ${m.title} | ${c.rho} | ${c.n} | ${fmt(c.medianDifference)} (${fmt(c.interval[0])} to ${fmt(c.interval[1])}) | ${fmt(c.meanDifference)} | ${c.signTestP.toFixed(3)} | ${c.verdict} |`,
      );
    }
  }
  lines.push('', "What this says about the paper's claims:", '');
  for (const m of metrics.filter((x) => x.expect))
    lines.push(
      claimSentence(
        m,
        comparisons.filter((c) => c.metric === m.key),
        p,
      ),
    );
  for (const m of metrics.filter((x) => x.trainingQuality)) {
    const worse = comparisons.filter((c) => c.metric === m.key && c.verdict === 'higher');
    if (worse.length) {
      lines.push(
        `- ${m.title} is also clearly higher at ${worse.map((c) => `${p} = ${c.rho}`).join(', ')}: those runs are less trained, so part of any difference there may come from less training rather than from SAM's bias.`,
      );
    }
  }
  return [...lines, ''];
}

function everyRun(input: ReportInput): string[] {
  const { runs, parameter } = input;
  const metrics = input.metrics.filter((m) => m.table !== false);
  const lines = [
    '## Every run',
    '',
    `| seed | ${parameter.symbol} | ${metrics.map((m) => m.column ?? m.title).join(' | ')} |`,
    `|---|---|${metrics.map(() => '---').join('|')}|`,
  ];
  for (const r of runs) {
    const lost = r.status === 'failed' ? 'failed (job error)' : `diverged at step ${r.divergedAt}`;
    const cells = r.final ? metrics.map((m) => formatMetric(m, finalValue(r, m.key))) : [lost, ...metrics.slice(1).map(() => '')];
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
  if (input.tables) lines.push(...input.tables, '');
  else {
    lines.push(
      '## Final values',
      '',
      `Last evaluation of each run: median over seeds, range in parentheses${paperFits(text.paper, input.summary) ? `; **paper** = ${text.paper!.source}` : ''}.`,
      '',
      ...finalTable(input),
      '',
    );
  }
  const diverged = input.runs.filter((r) => r.status === 'diverged');
  if (diverged.length) {
    lines.push(
      `**Diverged** (non-finite loss, gradient or features; excluded from the medians): ${diverged.map((r) => `${input.parameter.symbol} ${r.rho} seed ${r.seed} at step ${r.divergedAt}`).join('; ')}.`,
      '',
    );
  }
  const failed = input.runs.filter((r) => r.status === 'failed');
  if (failed.length) {
    lines.push(
      `**Failed** (the job training them failed after its retries; no result, excluded from the medians): ${failed.map((r) => `${input.parameter.symbol} ${r.rho} seed ${r.seed}${r.error ? ` (${r.error})` : ''}`).join('; ')}.`,
      '',
    );
  }
  if (!input.tables) lines.push(...pairedSection(input), ...separatePaperTable(input), ...everyRun(input));
  if (input.notes.length) lines.push('## Notes', '', ...input.notes.map((n) => `- ${n}`), '');
  if (input.figures.length) {
    lines.push('## Figures', '');
    for (const f of input.figures) {
      const caption = f.caption ?? text.figureCaptions?.[f.name];
      lines.push(`- \`figures/${f.name}.{svg,png}\`${caption ? `: ${caption}` : ''}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
