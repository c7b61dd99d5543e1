/**
 * What an experiment is to the runner: a definition. It declares its flags and config, says which runs a
 * sweep has and which of them train together (a job), builds a job that can step, evaluate and save itself,
 * and lists its metrics. Everything else — the sweep loop, progress, checkpoints and resume, divergence,
 * results.json, history.jsonl, report.md and figures — belongs to the runner (docs/design.md).
 */
import type { z } from 'zod';
import type { FlagSpecs, FlagValues } from './flags.js';
import type { RunResult } from './results.js';

/** One run of a sweep: a value of the swept parameter (ρ, or λ for the regularizer) and a data seed. */
export interface RunKey {
  rho: number;
  seed: number;
}

/** Where a number goes besides results.json and history.jsonl. */
export interface MetricPlot {
  /** A panel of the curves figure (the metric against training progress, median over seeds per ρ). */
  curve?: boolean;
  /** A panel of the final-vs-ρ figure (a dot per seed, median line, min–max band). */
  final?: boolean;
  /** Log-scaled axis (losses). */
  log?: boolean;
  /** Multiply before plotting (100 for errors shown in %). */
  scale?: number;
}

/**
 * One measured quantity: a number per run per evaluation, computed from the evaluation context `E` that
 * the experiment's job hands out (lazy and memoized there, so metrics sharing work — a feature matrix, a
 * spectrum — compute it once).
 */
export interface Metric<E> {
  /** Key in history records and `final`; stable, it is part of the output format. */
  key: string;
  /** Long label: report columns, figure axes. */
  title: string;
  /** Short label for the CLI summary table; omitted = not in that table. */
  column?: string;
  /** In report.md's tables (default true); false keeps it to results.json, history.jsonl, figures and statistics. */
  table?: boolean;
  compute(e: E): number | null;
  /** How a value is printed in tables (default: integers as is, others to 4 significant digits). */
  format?(value: number): string;
  plot?: MetricPlot;
  /**
   * The paper's claim about this metric against ρ = 0: lower ('falls', e.g. the feature rank) or higher
   * ('rises') at ρ > 0. The report tests it with paired statistics over seeds and says where it holds.
   */
  expect?: 'falls' | 'rises';
  /**
   * A measure of how well trained a run is (train loss): when it is clearly worse at a larger ρ, the report
   * warns that a claimed change may come from less training rather than from SAM.
   */
  trainingQuality?: boolean;
}

/**
 * A list-valued probe recorded in history.jsonl only (e.g. a normalised spectrum, enough to recompute a rank at
 * any threshold later): `series[key]` of each record.
 */
export interface SeriesProbe<E> {
  key: string;
  compute(e: E): number[] | null;
}

/**
 * An extra figure built from metric keys: against training progress ('curves'), final values against ρ ('final'),
 * or final values against a position the metrics stand for, one line per ρ ('profile': e.g. a rank per layer).
 */
export interface FigureSpec {
  /** File stem under figures/. */
  name: string;
  title: string;
  kind: 'curves' | 'final' | 'profile';
  metrics: string[];
  /** For 'profile': the x value of each metric (same order) and the axis title. */
  profile?: { positions: number[]; label: string; panel: string };
  caption?: string;
}

/** A group of runs that trains as one (a batched model, or a single run). */
export interface TrainingJob<E, S> {
  /**
   * One optimizer step (`step` = steps completed before it) for the live runs. Returns the indices (into
   * the job's runs) of runs whose step was non-finite: they are marked diverged at `step + 1`.
   */
  step(step: number): number[] | Promise<number[]>;
  /**
   * Evaluation contexts, one per run of the job; null for a run found non-finite now (diverged at `step`).
   * `live[i]` is false for runs that diverged earlier (their entry is ignored).
   */
  evaluate(step: number, live: readonly boolean[]): Array<E | null>;
  /** Takes diverged runs out of a batched job so their values cannot disturb the others (optional). */
  retire?(runs: readonly number[]): void;
  /** A JSON-serializable state from which {@link ExperimentDefinition.createJob} resumes bit-identically. */
  save(): S | Promise<S>;
  dispose(): void;
}

/** Output of {@link ExperimentDefinition.prepare}: loaded data and what the run should record about it. */
export interface Prepared<C, P> {
  prepared: P;
  /** The config with what only the data can tell filled in (e.g. steps per epoch). */
  config: C;
  /** Facts the report must state (a fallback to generated data, a skipped probe). */
  notes: string[];
  /** Where each data set was read from (path and digest), recorded in results.json. */
  sources: DataSourceRecord[];
}

/** One data set an experiment read. */
export interface DataSourceRecord {
  name: string;
  /** Folder or file read; 'generated' for synthetic data. */
  location: string;
  /** sha256 of the files read (hex), when files were read. */
  sha256?: string;
}

/** The paper's values to print beside ours. */
export interface PaperValues {
  /** Where they come from (figure, notebook). */
  source: string;
  /** Values per swept value (ρ or λ), keyed by metric key. */
  rows: ReadonlyMap<number, Readonly<Record<string, number>>>;
}

/** Options every experiment shares (parsed by the CLI; `undefined` = not given). */
export interface CommonValues {
  preset?: string;
  seeds?: number;
  seed?: number;
  iterations?: number;
  /** The tfjs backend the run will use (active when the config is resolved), for defaults that depend on it. */
  backend?: string;
}

/** How the report describes the run. */
export interface ReportText {
  /** The heading. */
  title: string;
  /** Markdown lines describing the settings (a table or sentences). */
  settings: string[];
  /** The paper's numbers for this configuration, if any. */
  paper?: PaperValues;
  /** Figure captions, keyed by figure file stem. */
  figureCaptions?: Record<string, string>;
}

/** How an experiment counts its progress (see {@link ExperimentDefinition.progress}). */
export interface Progress {
  field: string;
  label: string;
  extra?: (step: number) => Record<string, number>;
  axis?: { field: string; label: string };
}

/** Evaluation steps every `every` completed steps from 0, and after the last one (the usual `evaluationSteps`). */
export function everyNSteps(total: number, every: number): number[] {
  const steps: number[] = [];
  for (let s = 0; s < total; s += every) steps.push(s);
  steps.push(total);
  return steps;
}

/** The field and title of the curves' x-axis. */
export function curvesAxis(progress: Progress): { field: string; label: string } {
  return progress.axis ?? { field: progress.field, label: progress.label };
}

/**
 * An experiment. `C` config, `P` prepared data, `E` evaluation context, `S` saved job state, `F` flag specs.
 */
export interface ExperimentDefinition<C extends { preset: string; seeds: number[] }, P, E, S, F extends FlagSpecs = FlagSpecs> {
  /** Subcommand name and `experiment` field of results.json. */
  name: string;
  /** One line for `--help`. */
  summary: string;
  /** The presets `--preset` accepts, first = default. */
  presets: readonly string[];
  /** Flags of this experiment (the common ones are the runner's). */
  flags: F;
  /** Flags that may accompany `--resume` (they do not change results), besides the runner's. */
  resumeFlags?: readonly (keyof F & string)[];
  /** Validates a resolved config (also the one inside a checkpoint). */
  configSchema: z.ZodType<C>;
  /** Builds the config from the preset, the common flags and this experiment's flags. Throws ExperimentConfigError. */
  resolveConfig(common: CommonValues, values: FlagValues<F>): C;
  /** Upper bound of the memory the sweep needs, in bytes (checked before work starts). */
  estimateMemory(config: C): number;
  /** Folder name (without the time stamp) of the default output folder. */
  outName(config: C): string;
  /** What the swept parameter is called: ρ for SAM, λ for the regularizer. */
  parameter(config: C): { symbol: string; name: string };
  /** One line describing the sweep for the start-up banner (long lists already summarised). */
  banner(config: C): string;
  /** The runs of the sweep grouped into jobs, in order (job order = run order in results.json). */
  jobs(config: C): RunKey[][];
  /**
   * Loads data once per sweep. `options` holds the CLI's flag values and, for a local run, `runDir`: the run
   * folder (absolute), for experiments that write side outputs there.
   */
  prepare(config: C, log: (line: string) => void, options: Record<string, unknown>): Promise<Prepared<C, P>>;
  /** Optimizer steps every run takes. */
  steps(config: C, prepared: P): number;
  /** Numbers of completed steps at which the runs are evaluated, ascending (0 = before the first step). */
  evaluationSteps(config: C, prepared: P): number[];
  /** Builds the job of `runs`, fresh or from a saved state. */
  createJob(config: C, prepared: P, runs: RunKey[], resume?: S): TrainingJob<E, S> | Promise<TrainingJob<E, S>>;
  /** Validates a saved job state (shape); `checkState` checks it against the config. */
  stateSchema: z.ZodType<S>;
  /** Why a saved state does not fit `config` and `runs` (wrong array length, non-finite weights), or null. */
  checkState(config: C, runs: RunKey[], state: S): string | null;
  /** The metrics, in table order. */
  metrics(config: C): Metric<E>[];
  /**
   * Structured views of a run's final metric values added to its `final` object in results.json (e.g. a list of
   * ranks by block, split and threshold); the flat metric values stay beside them.
   */
  finalDetails?(final: Readonly<Record<string, number | null>>, config: C): Record<string, unknown>;
  /**
   * Fields of the experiment's own added at the top level of results.json after the runner's (e.g. a structured
   * table of per-run values that needs to know which run is which); a name the runner uses is an error.
   */
  resultsFields?(runs: readonly RunResult[], config: C): Record<string, unknown>;
  /**
   * Markdown that replaces report.md's sweep sections (final values per swept value, paired comparisons, the
   * paper's table, every run), for experiments whose runs are not values of one swept parameter.
   */
  reportTables?(runs: readonly RunResult[], config: C): string[];
  /**
   * false: the runs are not values of a swept parameter (e.g. one run per checkpoint), so results.json gets no
   * paired comparisons against the first one. Default true.
   */
  comparisons?: boolean;
  /**
   * Files or folders in the run folder that the experiment's jobs write themselves (large side outputs such as
   * feature matrices, found through `prepare`'s `runDir` option); `--force` removes them with the runner's outputs.
   */
  sideOutputs?: readonly string[];
  /** List-valued probes kept in history.jsonl (optional). */
  series?(config: C): SeriesProbe<E>[];
  /** Figures besides the two every sweep gets (curves and final values of the metrics' `plot` flags). */
  extraFigures?(config: C): FigureSpec[];
  /**
   * The history's progress field and its label; `extra` adds fields derived from the step to each history line,
   * and `axis` names the curves' x-axis when it is one of those rather than the progress field itself.
   */
  progress(config: C, prepared: P): Progress;
  report(config: C, notes: readonly string[]): ReportText;
}

/** Any definition, for lists of them (the CLI's). */
// biome-ignore lint/suspicious/noExplicitAny: a heterogeneous list of definitions
export type AnyExperiment = ExperimentDefinition<any, any, any, any, any>;
