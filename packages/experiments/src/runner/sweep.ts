/**
 * The sweep loop, free of files: job after job, evaluations at the definition's steps, divergence, and a
 * resumable state handed to `save` after every evaluation, between jobs and on a stop request. run.ts wraps
 * it with the output folder, the checkpoint file and the outputs.
 */
import { ResumeError, RunDivergedError } from '../errors.js';
import type { AnyExperiment, Metric, RunKey, SeriesProbe } from './definition.js';
import { type HistoryRecord, type MetricValues, type RunResult, type RunStatus, recordValue } from './results.js';

/** The job in progress. */
export interface JobProgress<S = unknown> {
  /** Index of the job in `definition.jobs(config)`. */
  job: number;
  /** Optimizer steps completed. */
  step: number;
  /** Steps at which the runs were evaluated already (not evaluated again after a resume). */
  evaluated: number[];
  status: RunStatus[];
  divergedAt: (number | null)[];
  /** The job's own saved state. */
  state: S;
}

/** Where a sweep stands: finished jobs' runs, the history so far and the job in progress. */
export interface SweepProgress {
  /** Results of the finished jobs' runs, in run order. */
  completed: RunResult[];
  history: HistoryRecord[];
  current: JobProgress | null;
}

/** Callbacks of a sweep. */
export interface SweepHooks {
  /** Steps done over the whole sweep. */
  onProgress?(done: number, total: number): void;
  /** The records of one evaluation of one job. */
  onEvaluation?(records: HistoryRecord[], field: string, metrics: readonly Metric<unknown>[]): void;
  /** Polled between steps; true saves the state and ends the sweep unfinished. */
  shouldStop?(): boolean;
}

/** Outcome of {@link runSweep}. */
export type SweepOutcome = { completed: true; runs: RunResult[]; history: HistoryRecord[] } | { completed: false; progress: SweepProgress };

/** Yield to the event loop (Ctrl-C, progress) at least this often. */
const YIELD_MS = 50;

/**
 * Values of every metric (and `series` of the list-valued probes) for one evaluation context; null when a metric
 * or probe found the run non-finite.
 */
function measure(
  metrics: readonly Metric<unknown>[],
  probes: readonly SeriesProbe<unknown>[],
  context: unknown,
): MetricValues | (MetricValues & { series: Record<string, number[] | null> }) | null {
  const values: MetricValues = {};
  const series: Record<string, number[] | null> = {};
  try {
    for (const m of metrics) values[m.key] = m.compute(context);
    for (const p of probes) series[p.key] = p.compute(context);
  } catch (error) {
    if (error instanceof RunDivergedError) return null;
    throw error;
  }
  return probes.length ? Object.assign(values, { series }) : values;
}

/** How many whole jobs `finishedRuns` runs make (a checkpoint always falls on a job boundary). */
function jobsFinished(jobs: readonly RunKey[][], finishedRuns: number): number {
  let runs = 0;
  let j = 0;
  while (j < jobs.length && runs + jobs[j]!.length <= finishedRuns) runs += jobs[j++]!.length;
  return j;
}

/** Outcome of {@link runJob}: the job's runs and history, or its state at a stop. */
export type JobOutcome =
  | { completed: true; runs: RunResult[]; history: HistoryRecord[] }
  | { completed: false; progress: JobProgress; history: HistoryRecord[] };

/** Callbacks of one job: progress in the job's own steps, evaluations, the stop poll. */
export interface JobHooks {
  onProgress?(step: number, totalSteps: number): void;
  onEvaluation?(records: HistoryRecord[], field: string, metrics: readonly Metric<unknown>[]): void;
  shouldStop?(): boolean;
}

/**
 * Trains job `job` of `config` (fresh, or from `resume` with the history it had recorded) with evaluations,
 * divergence handling and a stop poll between steps. `save` receives the job's state and history after every
 * evaluation that is not its last, and at a stop. Used for a whole sweep by {@link runSweep} and, one job at a
 * time, by anything that spreads a sweep's jobs over workers.
 */
export async function runJob(input: {
  definition: AnyExperiment;
  config: unknown;
  prepared: unknown;
  job: number;
  resume?: { progress: JobProgress; history: HistoryRecord[] };
  hooks?: JobHooks;
  save?(progress: JobProgress, history: HistoryRecord[]): Promise<void>;
}): Promise<JobOutcome> {
  const { definition: def, config, prepared, job: j } = input;
  const hooks = input.hooks ?? {};
  const metrics = def.metrics(config) as Metric<unknown>[];
  const probes = (def.series?.(config) ?? []) as SeriesProbe<unknown>[];
  const runs = def.jobs(config)[j];
  if (!runs) throw new RangeError(`job ${j} does not exist`);
  const totalSteps = def.steps(config, prepared);
  const evalSet = new Set(def.evaluationSteps(config, prepared));
  const progress = def.progress(config, prepared);
  const here = input.resume?.progress;
  const history = [...(input.resume?.history ?? [])];
  const job = await def.createJob(config, prepared, runs, here?.state);
  try {
    let step = here?.step ?? 0;
    if (step > totalSteps) throw new ResumeError(`the checkpoint is at step ${step} of a ${totalSteps}-step run`);
    const evaluated = new Set(here?.evaluated ?? []);
    const status: RunStatus[] = here ? [...here.status] : runs.map(() => 'ok');
    const divergedAt: (number | null)[] = here ? [...here.divergedAt] : runs.map(() => null);
    const jobProgress = async (): Promise<JobProgress> => ({
      job: j,
      step,
      evaluated: [...evaluated].sort((a, b) => a - b),
      status: [...status],
      divergedAt: [...divergedAt],
      state: await job.save(),
    });
    const diverge = (indices: readonly number[], at: number) => {
      const fresh = indices.filter((i) => status[i] === 'ok');
      for (const i of fresh) {
        status[i] = 'diverged';
        divergedAt[i] = at;
      }
      if (fresh.length) job.retire?.(fresh);
    };
    const evaluate = () => {
      const alive = status.map((s) => s === 'ok');
      const contexts = job.evaluate(step, alive);
      const records: HistoryRecord[] = [];
      const lost: number[] = [];
      runs.forEach((run, i) => {
        if (!alive[i]) return;
        const context = contexts[i];
        const values = context === null || context === undefined ? null : measure(metrics, probes, context);
        if (values)
          records.push({ [progress.field]: step, ...progress.extra?.(step), rho: run.rho, seed: run.seed, ...values } as HistoryRecord);
        else lost.push(i);
      });
      diverge(lost, step);
      history.push(...records);
      evaluated.add(step);
      hooks.onEvaluation?.(records, progress.field, metrics);
    };
    let lastYield = performance.now();
    for (;;) {
      if (evalSet.has(step) && !evaluated.has(step)) {
        evaluate();
        if (step < totalSteps && status.includes('ok')) await input.save?.(await jobProgress(), [...history]);
      }
      if (step >= totalSteps || !status.includes('ok')) break;
      if (performance.now() - lastYield >= YIELD_MS) {
        hooks.onProgress?.(step, totalSteps);
        await new Promise<void>((r) => setImmediate(r));
        lastYield = performance.now();
      }
      if (hooks.shouldStop?.()) {
        const stopped = await jobProgress();
        await input.save?.(stopped, [...history]);
        return { completed: false, progress: stopped, history };
      }
      const failed = await job.step(step);
      step++;
      if (failed.length) diverge(failed, step);
    }
    const results = runs.map((run, i): RunResult => {
      const ok = status[i] === 'ok';
      const last = ok ? history.findLast((h) => h.rho === run.rho && h.seed === run.seed) : undefined;
      if (ok && !last) throw new Error(`internal: run ρ ${run.rho} seed ${run.seed} finished without an evaluation`);
      return {
        rho: run.rho,
        seed: run.seed,
        status: status[i]!,
        divergedAt: divergedAt[i]!,
        final: last ? Object.fromEntries(metrics.map((m) => [m.key, recordValue(last, m.key)])) : null,
      };
    });
    hooks.onProgress?.(totalSteps, totalSteps);
    return { completed: true, runs: results, history };
  } finally {
    job.dispose();
  }
}

/**
 * Trains every job of `config` (or what is left of it after `resume`). `save` receives the progress after
 * every evaluation that is not a job's last, between jobs, and before returning unfinished on a stop.
 */
export async function runSweep(input: {
  definition: AnyExperiment;
  config: unknown;
  prepared: unknown;
  resume?: SweepProgress;
  hooks?: SweepHooks;
  save?(progress: SweepProgress): Promise<void>;
}): Promise<SweepOutcome> {
  const { definition: def, config, prepared } = input;
  const hooks = input.hooks ?? {};
  const jobs = def.jobs(config);
  const totalSteps = def.steps(config, prepared);
  const completed = [...(input.resume?.completed ?? [])];
  // Jobs run one after another, so the history is the finished jobs' records followed by the current job's.
  const history = [...(input.resume?.history ?? [])];
  const resumeJob = input.resume?.current ?? null;
  for (let j = resumeJob?.job ?? jobsFinished(jobs, completed.length); j < jobs.length; j++) {
    const keys = new Set(jobs[j]!.map((r) => `${r.rho}/${r.seed}`));
    const mine = (h: HistoryRecord) => keys.has(`${h.rho}/${h.seed}`);
    const before = history.filter((h) => !mine(h));
    const here = resumeJob?.job === j ? { progress: resumeJob, history: history.filter(mine) } : undefined;
    const outcome = await runJob({
      definition: def,
      config,
      prepared,
      job: j,
      ...(here ? { resume: here } : {}),
      hooks: {
        onProgress: (step) => hooks.onProgress?.(j * totalSteps + step, totalSteps * jobs.length),
        ...(hooks.onEvaluation ? { onEvaluation: hooks.onEvaluation } : {}),
        ...(hooks.shouldStop ? { shouldStop: hooks.shouldStop } : {}),
      },
      save: async (progress, jobHistory) =>
        input.save?.({ completed: [...completed], history: [...before, ...jobHistory], current: progress }),
    });
    history.length = 0;
    history.push(...before, ...outcome.history);
    if (!outcome.completed)
      return { completed: false, progress: { completed: [...completed], history: [...history], current: outcome.progress } };
    completed.push(...outcome.runs);
    if (j + 1 < jobs.length) await input.save?.({ completed: [...completed], history: [...history], current: null });
  }
  return { completed: true, runs: completed, history };
}
