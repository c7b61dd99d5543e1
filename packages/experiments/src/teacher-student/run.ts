/**
 * The teacher-student experiment with its files: checkpoint.json while running (after each evaluation and
 * on a stop request), then results.json, history.jsonl, figures/ and report.md. `resume` continues from
 * the checkpoint to the same results.json a run without interruption writes.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ResumeError } from '../errors.js';
import { writeFigure } from '../figures.js';
import type { TeacherStudentConfig } from './config.js';
import { finalFigure, iterationFigure } from './figures.js';
import { summarizeByRho, teacherStudentReport, type RhoSummary } from './report.js';
import { runTeacherStudentSweep, type HistoryRecord, type RunResult, type SweepState } from './train.js';

/** The content of results.json. */
export interface TeacherStudentResults {
  experiment: 'teacher-student';
  preset: TeacherStudentConfig['preset'];
  backend: string;
  activation: TeacherStudentConfig['activation'];
  method: TeacherStudentConfig['method'];
  config: TeacherStudentConfig;
  runs: RunResult[];
  summary: RhoSummary[];
}

/** Options of {@link runTeacherStudentExperiment}. */
export interface TeacherStudentRunOptions {
  config: TeacherStudentConfig;
  /** Output folder (created). */
  outDir: string;
  /** Name of the active tfjs backend, recorded in the outputs (resume checks it). */
  backend: string;
  /** Continue from `outDir/checkpoint.json`. */
  resume?: boolean;
  /** The command line, quoted in report.md. */
  command?: string;
  /** Skip the figures (tests). */
  figures?: boolean;
  /** Progress callback (iteration, total). */
  onProgress?(iteration: number, total: number): void;
  /** Called after each evaluation. */
  onEvaluation?(iteration: number, records: HistoryRecord[]): void;
  /** Polled between iterations; true saves a checkpoint and returns `interrupted`. */
  shouldStop?(): boolean;
}

/** Outcome of {@link runTeacherStudentExperiment}. */
export type TeacherStudentRunOutcome =
  | { status: 'completed'; outDir: string; results: TeacherStudentResults; wallSeconds: number }
  | { status: 'interrupted'; outDir: string; iteration: number };

interface Checkpoint {
  format: 'samrank-teacher-student-checkpoint';
  version: 1;
  backend: string;
  config: TeacherStudentConfig;
  state: SweepState;
}

/** Reads `dir/checkpoint.json`; throws {@link ResumeError} when missing or not a checkpoint. */
export async function readCheckpoint(dir: string): Promise<{ backend: string; config: TeacherStudentConfig; state: SweepState }> {
  const file = join(dir, 'checkpoint.json');
  if (!existsSync(file)) {
    const done = existsSync(join(dir, 'results.json'));
    throw new ResumeError(
      done ? `nothing to resume: ${dir} already holds a finished run (results.json)` : `no checkpoint to resume: ${file} does not exist`,
    );
  }
  let parsed: Checkpoint;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'), (_k, v) => (v === null ? NaN : v)) as Checkpoint;
  } catch (error) {
    throw new ResumeError(`checkpoint ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed.format !== 'samrank-teacher-student-checkpoint' || parsed.version !== 1) {
    throw new ResumeError(`${file} is not a teacher-student checkpoint (format ${String(parsed.format)})`);
  }
  // JSON has no NaN; null stood for it, but divergedAt's null is a real null.
  parsed.state.divergedAt = parsed.state.divergedAt.map((d) => (Number.isNaN(d as number) ? null : d));
  return { backend: parsed.backend, config: parsed.config, state: parsed.state };
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

async function writeCheckpoint(dir: string, backend: string, config: TeacherStudentConfig, state: SweepState): Promise<void> {
  const body: Checkpoint = { format: 'samrank-teacher-student-checkpoint', version: 1, backend, config, state };
  await writeAtomic(join(dir, 'checkpoint.json'), JSON.stringify(body));
}

/** JSON with NaN written as null (JSON has no NaN). */
function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), indent);
}

/** Runs (or resumes) the sweep and writes every output file into `outDir`. */
export async function runTeacherStudentExperiment(options: TeacherStudentRunOptions): Promise<TeacherStudentRunOutcome> {
  const { outDir, backend } = options;
  await mkdir(outDir, { recursive: true });
  let config = options.config;
  let resumeState: SweepState | undefined;
  if (options.resume) {
    const cp = await readCheckpoint(outDir);
    if (cp.backend !== backend) {
      throw new ResumeError(`the checkpoint was written on backend ${cp.backend}, not ${backend}; resume with --backend ${cp.backend}`);
    }
    config = cp.config;
    resumeState = cp.state;
  }
  const t0 = performance.now();
  const outcome = await runTeacherStudentSweep(config, {
    resume: resumeState,
    onProgress: options.onProgress,
    onEvaluation: options.onEvaluation,
    shouldStop: options.shouldStop,
    onCheckpoint: (state) => writeCheckpoint(outDir, backend, config, state),
  });
  if (!outcome.completed) {
    await writeCheckpoint(outDir, backend, config, outcome.state);
    return { status: 'interrupted', outDir, iteration: outcome.state.iteration };
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const results: TeacherStudentResults = {
    experiment: 'teacher-student',
    preset: config.preset,
    backend,
    activation: config.activation,
    method: config.method,
    config,
    runs: outcome.runs,
    summary: summarizeByRho(config.rhos, outcome.runs),
  };
  await writeFile(join(outDir, 'results.json'), toJson(results, 2) + '\n');
  await writeFile(join(outDir, 'history.jsonl'), outcome.history.map((h) => toJson(h)).join('\n') + '\n');
  await writeFile(
    join(outDir, 'report.md'),
    teacherStudentReport(config, outcome.runs, { backend, command: options.command, wallSeconds: resumeState ? undefined : wallSeconds }),
  );
  if (options.figures !== false) {
    const figDir = join(outDir, 'figures');
    await writeFigure(figDir, 'metrics-vs-iteration', iterationFigure(config, outcome.history));
    await writeFigure(figDir, config.method === 'sam' ? 'final-vs-rho' : 'final-vs-lambda', finalFigure(config, outcome.runs));
  }
  await rm(join(outDir, 'checkpoint.json'), { force: true });
  return { status: 'completed', outDir, results, wallSeconds };
}
