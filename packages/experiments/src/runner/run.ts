/**
 * The one experiment runner: takes a definition and a config, owns the output folder (checks, lock, leftovers),
 * loads the data once, runs the sweep with a checkpoint after every evaluation, and hands the finished sweep to
 * outputs.ts. Resuming continues from checkpoint.json to the same results.json byte for byte.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { ExperimentConfigError, OutputFolderError, ResourceLimitError, ResumeError } from '../errors.js';
import { CHECKPOINT_FILE, type CheckpointPayload, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { type AnyExperiment, curvesAxis, type Metric } from './definition.js';
import { type RunLock, acquireRunLock, checkOutputFolder, createUniqueFolder, listFolder, removeStaleTemporaries } from './files.js';
import { FIGURES_DIR, RESULTS_FILE, type Results, buildResults, removeOutputs, writeOutputs } from './outputs.js';
import { type SweepHooks, runSweep } from './sweep.js';

/** Callbacks of a run: the sweep's, plus log lines (data loading, notes, lock takeover). */
export interface RunHooks extends SweepHooks {
  log?(line: string): void;
  /** The folder is claimed and the run is about to load its data (nothing was printed before: errors are one line). */
  onStart?(outDir: string, config: unknown): void;
}

/** Options of {@link runExperiment}. */
export interface RunOptions {
  definition: AnyExperiment;
  /** The config of a fresh run (ignored with `resume`: the checkpoint's config is used). */
  config?: unknown;
  /** Output folder; with `uniqueFolder`, the path of a fresh folder to create (`-2`, `-3`, … on collision). */
  outDir: string;
  uniqueFolder?: boolean;
  /** Name of the active tfjs backend, recorded in the outputs (resume checks it). */
  backend: string;
  /** Continue from `outDir/checkpoint.json`. */
  resume?: boolean;
  /** Replace a finished or interrupted run in `outDir` wholesale. */
  force?: boolean;
  /** The arguments after `samrank-repro` that reproduce the run (without --out), for results.json and report.md. */
  command?: string[];
  /** Write the figures (default true). */
  figures?: boolean;
  /** Passed to the definition's `prepare` (data folder, download). */
  prepareOptions?: Record<string, unknown>;
  hooks?: RunHooks;
}

/** Outcome of {@link runExperiment}. */
export type RunOutcome =
  | { status: 'completed'; outDir: string; results: Results; wallSeconds: number }
  | { status: 'interrupted'; outDir: string; job: number; jobs: number; step: number };

/** Memory a sweep may plan to use, as a fraction of the machine's. */
const MEMORY_FRACTION = 0.8;

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Refuses a sweep whose estimated memory does not fit this machine. */
function checkMemory(def: AnyExperiment, config: unknown): void {
  const need = def.estimateMemory(config);
  const limit = MEMORY_FRACTION * totalmem();
  if (need > limit) {
    throw new ResourceLimitError(
      `this sweep needs about ${(need / 2 ** 30).toFixed(1)} GiB, more than the ${(limit / 2 ** 30).toFixed(1)} GiB this machine can give it; use fewer seeds, runs or steps`,
    );
  }
}

/** Creates the output folder of a fresh run when needed; returns it and whether this run created it. */
export async function createFolder(options: Pick<RunOptions, 'outDir' | 'uniqueFolder'>): Promise<{ dir: string; created: boolean }> {
  const target = resolve(options.outDir);
  await checkOutputFolder(target);
  if (options.uniqueFolder) return { dir: await createUniqueFolder(dirname(target), basename(target)), created: true };
  if (await exists(target)) return { dir: target, created: false };
  await mkdir(target, { recursive: true });
  return { dir: target, created: true };
}

/** Refuses to start a fresh run over a finished or interrupted one (checked while holding the lock). */
export async function checkFreshFolder(dir: string, force: boolean): Promise<void> {
  const entries = await listFolder(dir);
  const finished = entries.includes(RESULTS_FILE);
  if ((finished || entries.includes(CHECKPOINT_FILE)) && !force) {
    throw new OutputFolderError(
      finished
        ? `${dir} already holds a finished run; choose another --out, or --force to replace it`
        : `${dir} holds an interrupted run; continue it with --resume, or --force to replace it`,
    );
  }
}

/**
 * Runs (or resumes) a sweep of `definition` and writes its outputs into the run folder. Before any work it
 * throws a `UsageError` for a folder that cannot hold the run, a locked folder, a damaged checkpoint or a sweep
 * that does not fit in memory; a run that fails before writing anything removes the folder it created.
 */
export async function runExperiment(options: RunOptions): Promise<RunOutcome> {
  const { definition: def, backend } = options;
  const log = options.hooks?.log ?? (() => {});
  let dir = resolve(options.outDir);
  let created = false;
  let freshConfig: unknown;
  if (options.resume) {
    const entries = await listFolder(dir);
    if (!entries.includes(CHECKPOINT_FILE)) {
      // Checked before the lock, which would otherwise create a lock file in (or fail on) a folder without a run.
      if (entries.includes(RESULTS_FILE)) throw new ResumeError(`nothing to resume: ${dir} already holds a finished run (results.json)`);
      throw new ResumeError(`no checkpoint to resume: ${join(dir, CHECKPOINT_FILE)} does not exist`);
    }
  } else {
    const parsed = def.configSchema.safeParse(options.config);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ExperimentConfigError(`invalid ${def.name} config: ${issue.path.map(String).join('.') || 'config'}: ${issue.message}`);
    }
    freshConfig = parsed.data;
    checkMemory(def, freshConfig);
    ({ dir, created } = await createFolder(options));
  }
  let lock: RunLock | undefined;
  let wroteAnything = false;
  try {
    lock = await acquireRunLock(dir);
    if (lock.takeover) log(`note: ${lock.takeover}`);
    await removeStaleTemporaries(dir);
    await removeStaleTemporaries(join(dir, FIGURES_DIR));
    let checkpoint: CheckpointPayload | undefined;
    if (options.resume) {
      checkpoint = await readCheckpoint(dir, def);
      if (checkpoint.backend !== backend) {
        throw new ResumeError(
          `the checkpoint was written on backend ${checkpoint.backend}, not ${backend}; resume with --backend ${checkpoint.backend}`,
        );
      }
      checkMemory(def, checkpoint.config);
    } else {
      await checkFreshFolder(dir, Boolean(options.force));
      if (options.force) await removeOutputs(dir, def.sideOutputs);
    }
    options.hooks?.onStart?.(dir, checkpoint?.config ?? freshConfig);
    const prep = await def.prepare(checkpoint?.config ?? freshConfig, log, { ...options.prepareOptions, runDir: dir });
    const config = prep.config as { preset: string; seeds: number[] } & Record<string, unknown>;
    for (const n of prep.notes) log(`note: ${n}`);
    const notes = checkpoint?.notes ?? prep.notes;
    const sources = checkpoint?.sources ?? prep.sources;
    const command = checkpoint ? checkpoint.command : (options.command ?? null);
    const t0 = performance.now();
    const outcome = await runSweep({
      definition: def,
      config,
      prepared: prep.prepared,
      ...(checkpoint ? { resume: checkpoint } : {}),
      ...(options.hooks ? { hooks: options.hooks } : {}),
      save: async (progress) => {
        await writeCheckpoint(dir, { experiment: def.name, backend, command, config, notes, sources, ...progress });
        wroteAnything = true;
      },
    });
    if (!outcome.completed) {
      const current = outcome.progress.current!;
      return { status: 'interrupted', outDir: dir, job: current.job, jobs: def.jobs(config).length, step: current.step };
    }
    const wallSeconds = (performance.now() - t0) / 1000;
    const metrics = def.metrics(config) as Metric<unknown>[];
    const results = buildResults({ definition: def, config, backend, command, notes, sources, runs: outcome.runs, metrics });
    await writeOutputs(dir, {
      definition: def,
      results,
      history: outcome.history,
      metrics,
      progress: curvesAxis(def.progress(config, prep.prepared)),
      figures: options.figures !== false,
      ...(options.resume ? {} : { wallSeconds }),
    });
    wroteAnything = true;
    await rm(join(dir, CHECKPOINT_FILE), { force: true });
    return { status: 'completed', outDir: dir, results, wallSeconds };
  } catch (error) {
    if (created && !wroteAnything) {
      await lock?.release();
      lock = undefined;
      if ((await listFolder(dir)).length === 0) await rm(dir, { recursive: true, force: true });
    }
    throw error;
  } finally {
    await lock?.release();
  }
}
