/**
 * A classification sweep with its files, as for teacher-student: checkpoint.json while running (after each
 * evaluation and on a stop request), then results.json, history.jsonl, figures/ and report.md. `resume`
 * continues from the checkpoint to the same results.json as an uninterrupted run.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ResumeError } from '../errors.js';
import { writeFigure } from '../figures.js';
import type { ClassificationConfig } from './config.js';
import { loadExperimentData, type DataLocation } from './data.js';
import { curvesFigure, finalFigure } from './figures.js';
import { classificationReport, rankTrend, summarizeByRho, type RhoSummary } from './report.js';
import { runClassificationSweep, type HistoryRecord, type RunResult, type SweepState } from './train.js';

/** The content of results.json. */
export interface ClassificationResults {
  experiment: ClassificationConfig['dataset'];
  preset: ClassificationConfig['preset'];
  setting: ClassificationConfig['setting'];
  backend: string;
  config: ClassificationConfig;
  notes: string[];
  runs: RunResult[];
  summary: RhoSummary[];
  rankTrend: ReturnType<typeof rankTrend>;
}

/** Options of {@link runClassificationExperiment}. */
export interface ClassificationRunOptions {
  config: ClassificationConfig;
  /** Folder holding the data sets. */
  dataDir?: string;
  /** Download missing data sets. */
  download?: boolean;
  outDir: string;
  backend: string;
  resume?: boolean;
  command?: string;
  figures?: boolean;
  onProgress?(done: number, total: number): void;
  onEvaluation?(record: HistoryRecord): void;
  shouldStop?(): boolean;
  /** Messages (data loading, notes). */
  onLog?(line: string): void;
}

/** Outcome of {@link runClassificationExperiment}. */
export type ClassificationRunOutcome =
  | { status: 'completed'; outDir: string; results: ClassificationResults; wallSeconds: number }
  | { status: 'interrupted'; outDir: string; step: number; runIndex: number };

interface Checkpoint {
  format: 'samrank-classification-checkpoint';
  version: 1;
  backend: string;
  config: ClassificationConfig;
  notes: string[];
  state: SweepState;
}

const toJson = (value: unknown, indent?: number) =>
  JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), indent);

async function writeAtomic(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

/** Reads `dir/checkpoint.json`; {@link ResumeError} when missing or not a classification checkpoint. */
export async function readClassificationCheckpoint(dir: string): Promise<Checkpoint> {
  const file = join(dir, 'checkpoint.json');
  if (!existsSync(file)) {
    throw new ResumeError(
      existsSync(join(dir, 'results.json')) ? `nothing to resume: ${dir} already holds a finished run (results.json)` : `no checkpoint to resume: ${file} does not exist`,
    );
  }
  let parsed: Checkpoint;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8')) as Checkpoint;
  } catch (error) {
    throw new ResumeError(`checkpoint ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed.format !== 'samrank-classification-checkpoint' || parsed.version !== 1) {
    throw new ResumeError(`${file} is not a classification checkpoint (format ${String(parsed.format)})`);
  }
  return parsed;
}

/** Runs (or resumes) the sweep and writes every output file into `outDir`. */
export async function runClassificationExperiment(options: ClassificationRunOptions): Promise<ClassificationRunOutcome> {
  const { outDir, backend } = options;
  await mkdir(outDir, { recursive: true });
  let config = options.config;
  let resume: SweepState | undefined;
  let notes: string[] | undefined;
  if (options.resume) {
    const cp = await readClassificationCheckpoint(outDir);
    if (cp.backend !== backend) {
      throw new ResumeError(`the checkpoint was written on backend ${cp.backend}, not ${backend}; resume with --backend ${cp.backend}`);
    }
    if (cp.config.dataset !== config.dataset) throw new ResumeError(`${outDir} holds a ${cp.config.dataset} run, not ${config.dataset}`);
    config = cp.config;
    resume = cp.state;
    notes = cp.notes;
  }
  const where: DataLocation = {
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    download: options.download ?? false,
    ...(options.onLog ? { onProgress: options.onLog } : {}),
  };
  const data = await loadExperimentData(config, where);
  for (const n of data.notes) options.onLog?.(`note: ${n}`);
  config = { ...config, data: data.data };
  notes ??= data.notes;
  if (config.iterations === undefined) {
    // Steps per epoch of the (subset) training set after the split, fixed before the first checkpoint.
    const n = Math.min(config.trainSubset ?? Infinity, data.dataset.train.count - Math.round(0.001 * data.dataset.train.count));
    config = { ...config, iterations: config.epochs * Math.floor(n / config.batchSize) };
  }
  const save = (state: SweepState) =>
    writeAtomic(join(outDir, 'checkpoint.json'), JSON.stringify({ format: 'samrank-classification-checkpoint', version: 1, backend, config, notes, state } satisfies Checkpoint));
  const t0 = performance.now();
  const outcome = await runClassificationSweep(config, data, {
    ...(resume ? { resume } : {}),
    onCheckpoint: save,
    ...(options.shouldStop ? { shouldStop: options.shouldStop } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.onEvaluation ? { onEvaluation: options.onEvaluation } : {}),
  });
  if (!outcome.completed) {
    await save(outcome.state);
    return { status: 'interrupted', outDir, step: outcome.state.current?.step ?? 0, runIndex: outcome.state.current?.runIndex ?? outcome.state.completed.length };
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const summary = summarizeByRho(config, outcome.runs);
  const results: ClassificationResults = {
    experiment: config.dataset,
    preset: config.preset,
    setting: config.setting,
    backend,
    config,
    notes,
    runs: outcome.runs,
    summary,
    rankTrend: rankTrend(summary),
  };
  await writeFile(join(outDir, 'results.json'), toJson(results, 2) + '\n');
  await writeFile(join(outDir, 'history.jsonl'), outcome.history.map((h) => toJson(h)).join('\n') + '\n');
  await writeFile(
    join(outDir, 'report.md'),
    classificationReport(config, outcome.runs, { backend, notes, ...(options.command ? { command: options.command } : {}), ...(resume ? {} : { wallSeconds }) }),
  );
  if (options.figures !== false) {
    const figDir = join(outDir, 'figures');
    await writeFigure(figDir, 'curves', curvesFigure(config, outcome.history));
    await writeFigure(figDir, 'final-vs-rho', finalFigure(config, outcome.runs));
  }
  await rm(join(outDir, 'checkpoint.json'), { force: true });
  return { status: 'completed', outDir, results, wallSeconds };
}
