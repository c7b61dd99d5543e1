/**
 * The files a finished sweep leaves: results.json, history.jsonl, report.md and figures/. This module is the
 * only writer of them; every write is atomic (files.ts).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { version_core } from '@tensorflow/tfjs-core';
import { wasmKernelVariant } from '@samrank/backend';
import packageJson from '../../package.json' with { type: 'json' };
import type { AnyExperiment, DataSourceRecord, FigureSpec, Metric } from './definition.js';
import { curvesFigure, finalFigure, profileFigure } from './figures.js';
import { writeFileAtomic } from './files.js';
import { renderFigure } from './render.js';
import { renderReport } from './report.js';
import { type HistoryRecord, type RhoSummary, type RunResult, summarizeByRho, toJson } from './results.js';
import { type PairedComparison, pairedComparisons } from './statistics.js';

export const RESULTS_FILE = 'results.json';
export const HISTORY_FILE = 'history.jsonl';
export const REPORT_FILE = 'report.md';
export const FIGURES_DIR = 'figures';

/** The content of results.json. */
export interface Results {
  experiment: string;
  /** Arguments after `samrank-repro` (without --out) that regenerate these runs; null when not run from the CLI. */
  command: string[] | null;
  /** Versions of the code that made the runs. */
  versions: Record<string, string>;
  preset: string;
  backend: string;
  /**
   * On wasm: which build of @samrank/backend's kernels ran ('relaxed': fused multiply-adds, Node 22+; 'plain'). The
   * two can differ in the last bits, so a rerun that must be identical uses the same build (`SAMRANK_RELAXED_SIMD=0`
   * for 'plain'); results without the field were made by the plain build.
   */
  kernels?: 'plain' | 'relaxed';
  config: unknown;
  notes: string[];
  /** Where each data set was read from. */
  sources: DataSourceRecord[];
  /** Every run; `final` may carry the definition's structured views beside the metric values. */
  runs: RunResult[];
  /** Per swept value: median, min and max over seeds of each final metric. */
  summary: RhoSummary[];
  /** Every ρ against the smallest ρ, paired by seed, for each metric (runner/statistics.ts). */
  comparisons: PairedComparison[];
}

/** Assembles results.json's content. */
export function buildResults(input: {
  definition: AnyExperiment;
  config: { preset: string } & Record<string, unknown>;
  backend: string;
  command: string[] | null;
  notes: string[];
  sources: DataSourceRecord[];
  runs: RunResult[];
  metrics: readonly Metric<unknown>[];
}): Results {
  const { definition, config } = input;
  const rhos = [
    ...new Set(
      definition
        .jobs(config)
        .flat()
        .map((r) => r.rho),
    ),
  ];
  const results: Results = {
    experiment: definition.name,
    command: input.command,
    versions: { '@samrank/experiments': packageJson.version, '@tensorflow/tfjs-core': version_core, node: process.version },
    preset: config.preset,
    backend: input.backend,
    ...(input.backend === 'wasm' ? { kernels: wasmKernelVariant() } : {}),
    config,
    notes: input.notes,
    sources: input.sources,
    runs: input.runs.map((r) =>
      r.final && definition.finalDetails
        ? { ...r, final: { ...r.final, ...definition.finalDetails(r.final as Record<string, number | null>, config) } }
        : r,
    ),
    summary: summarizeByRho(rhos, input.runs, input.metrics),
    comparisons: definition.comparisons === false ? [] : input.metrics.flatMap((m) => pairedComparisons(m.key, rhos, input.runs)),
  };
  const extra = definition.resultsFields?.(input.runs, config) ?? {};
  const clash = Object.keys(extra).filter((k) => k in results);
  if (clash.length) throw new Error(`internal: ${definition.name}'s results fields ${clash.join(', ')} clash with the runner's`);
  return { ...results, ...extra };
}

/** `samrank-repro <command>` as one line, arguments quoted where a shell needs it. */
export function commandLine(command: readonly string[] | null): string | undefined {
  if (!command) return undefined;
  return ['samrank-repro', ...command.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))].join(' ');
}

/** What {@link writeOutputs} writes. */
export interface OutputInput {
  definition: AnyExperiment;
  results: Results;
  history: readonly HistoryRecord[];
  metrics: readonly Metric<unknown>[];
  progress: { field: string; label: string };
  figures: boolean;
  wallSeconds?: number;
}

/** Writes results.json, history.jsonl, report.md and (unless disabled) the figures into `dir`. */
export async function writeOutputs(dir: string, input: OutputInput): Promise<void> {
  const { definition: def, results, metrics } = input;
  const config = results.config as { preset: string; seeds: number[] };
  const parameter = def.parameter(config);
  const figureFiles: { name: string; caption?: string }[] = [];
  if (input.figures) {
    const text = def.report(config, results.notes);
    const n = config.seeds.length;
    const seeds = `${n} seed${n === 1 ? '' : 's'}`;
    const byKey = new Map(metrics.map((m) => [m.key, m]));
    const pick = (keys: readonly string[]) => keys.map((k) => byKey.get(k)).filter((m): m is Metric<unknown> => m !== undefined);
    const specs: FigureSpec[] = [
      {
        name: 'curves',
        title: `${text.title}: during training (median over ${seeds})`,
        kind: 'curves',
        metrics: metrics.filter((m) => m.plot?.curve).map((m) => m.key),
      },
      {
        name: `final-vs-${parameter.name}`,
        title: `${text.title}: final values (${seeds}: dots, median, min–max band)`,
        kind: 'final',
        metrics: metrics.filter((m) => m.plot?.final).map((m) => m.key),
      },
      ...(def.extraFigures?.(config) ?? []),
    ];
    const figDir = join(dir, FIGURES_DIR);
    await mkdir(figDir, { recursive: true });
    for (const f of specs) {
      const spec =
        f.kind === 'curves'
          ? curvesFigure(f.title, pick(f.metrics), input.history, input.progress, parameter)
          : f.kind === 'profile' && f.profile
            ? profileFigure(f.title, pick(f.metrics), f.profile, results.runs, parameter)
            : finalFigure(f.title, pick(f.metrics), results.runs, parameter);
      if (!spec) continue;
      const { svg, png } = await renderFigure(spec);
      await writeFileAtomic(join(figDir, `${f.name}.svg`), svg);
      await writeFileAtomic(join(figDir, `${f.name}.png`), png);
      figureFiles.push({ name: f.name, ...(f.caption ? { caption: f.caption } : {}) });
    }
  }
  await writeFileAtomic(join(dir, HISTORY_FILE), input.history.map((h) => toJson(h)).join('\n') + '\n');
  await writeFileAtomic(join(dir, REPORT_FILE), reportMarkdown(def, results, figureFiles, input.wallSeconds));
  // results.json last: its presence marks a finished run.
  await writeFileAtomic(join(dir, RESULTS_FILE), toJson(results, 2) + '\n');
}

/** report.md of finished results; `figures` are the figure file stems written beside it. */
export function reportMarkdown(
  definition: AnyExperiment,
  results: Results,
  figures: readonly { name: string; caption?: string }[],
  wallSeconds?: number,
): string {
  const config = results.config as { preset: string; seeds: number[] };
  return renderReport({
    text: definition.report(config, results.notes),
    parameter: definition.parameter(config),
    metrics: definition.metrics(config) as Metric<unknown>[],
    runs: results.runs,
    summary: results.summary,
    comparisons: results.comparisons,
    backend: results.backend,
    command: commandLine(results.command),
    wallSeconds,
    notes: results.notes,
    figures,
    ...(definition.reportTables ? { tables: definition.reportTables(results.runs, config) } : {}),
  });
}

/** Removes a previous run's outputs from `dir` (for --force): only the files a run writes, and `sideOutputs`. */
export async function removeOutputs(dir: string, sideOutputs: readonly string[] = []): Promise<void> {
  for (const f of [RESULTS_FILE, HISTORY_FILE, REPORT_FILE, 'checkpoint.json']) await rm(join(dir, f), { force: true });
  for (const f of sideOutputs) await rm(join(dir, f), { recursive: true, force: true });
  await rm(join(dir, FIGURES_DIR), { recursive: true, force: true });
}
