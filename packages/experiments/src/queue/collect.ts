/**
 * The collecting side: waits until every job of a sweep has finished (completed, or failed after its
 * attempts), shows progress from the jobs' BullMQ progress events, and assembles the jobs' results into exactly
 * what a local run of the sweep gives — runs in job order, histories concatenated in job order — for
 * runner/outputs.ts to write.
 */
import { QueueEvents } from 'bullmq';
import { QueueError } from '../errors.js';
import { type AnyExperiment, curvesAxis, type DataSourceRecord } from '../runner/definition.js';
import type { HistoryRecord, RunResult } from '../runner/results.js';
import { type JobView, describeRuns, openQueue, viewJobs } from './submit.js';
import { KEY_PREFIX, type JobResult, type SweepRecord, canonicalJson, dataDigest, jobResultSchema, queueNameOf } from './sweep.js';
import { type QueueUrl, redisOptions } from './url.js';

/** How often job states are read while waiting (events make progress live in between). */
const POLL_MS = 1000;

/** A finished job: its result, or its error when it failed for good. */
export type FinishedJob = { index: number; state: 'completed'; result: JobResult } | { index: number; state: 'failed'; error: string };

/** Callbacks while waiting. */
export interface WaitHooks {
  /** Steps done over all jobs, once the jobs' length is known. */
  onProgress?(done: number, total: number): void;
  /** A job changed state (started, finished, failed, retried, stalled): one line. */
  onEvent?(line: string): void;
  /** Polled; true stops waiting (the jobs go on in the queue). */
  shouldStop?(): boolean;
}

function jobLabel(view: Pick<JobView, 'index' | 'runs'>, total: number): string {
  return `job ${view.index + 1}/${total} (${describeRuns(view.runs)})`;
}

/** Failed attempts of a job so far (BullMQ's attemptsMade counts a successful last attempt too). */
function failures(view: JobView): number {
  return view.state === 'completed' ? Math.max(0, view.attemptsMade - 1) : view.attemptsMade;
}

/**
 * What changed between two views of a job, as log lines. Polls can miss short states (a retry without delay),
 * so failed attempts are found by their count, not by seeing the job in between.
 */
function transitions(before: JobView | undefined, now: JobView, total: number, scrub: (s: string) => string): string[] {
  const label = jobLabel(now, total);
  const reason = now.failedReason ? scrub(now.failedReason.split('\n')[0]!) : 'unknown error';
  const lines: string[] = [];
  if (before && now.state !== 'failed' && failures(now) > failures(before)) {
    const from = failures(before) + 1;
    const to = failures(now);
    lines.push(`${label}: attempt${from === to ? ` ${to}` : `s ${from}–${to}`}/${now.attempts} failed: ${reason}; retried`);
  }
  if (before && now.stalls > before.stalls) {
    const where = now.state === 'active' ? `; now on ${now.worker ?? 'another worker'}` : '; back in the queue';
    lines.push(`${label}: its worker stopped answering (stalled)${where}, to continue from its last checkpoint`);
  } else if (now.state !== before?.state || (now.state === 'active' && now.worker && before?.worker && now.worker !== before.worker)) {
    if (now.state === 'active') {
      lines.push(
        `${label}: running${now.worker ? ` on ${now.worker}` : ''}${now.progress && now.progress.step > 0 ? ` from step ${now.progress.step}` : ''}`,
      );
    } else if (now.state === 'completed' && before) lines.push(`${label}: finished`);
    else if (now.state === 'failed')
      lines.push(`${label}: failed after ${now.attemptsMade} attempt${now.attemptsMade === 1 ? '' : 's'}: ${reason}`);
  }
  return lines;
}

/**
 * Waits for every job of `record` to finish (or for `shouldStop`). Returns the finished jobs in job order, or
 * null when stopped first.
 */
export async function waitForSweep(
  url: QueueUrl,
  definition: AnyExperiment,
  record: SweepRecord,
  hooks: WaitHooks = {},
): Promise<FinishedJob[] | null> {
  const queue = openQueue(url, record.backend);
  const events = new QueueEvents(queueNameOf(record.backend), { connection: redisOptions(url), prefix: KEY_PREFIX });
  events.on('error', () => {});
  const total = definition.jobs(record.config).length;
  const mine = (jobId: string) => jobId.startsWith(`${record.id}-`);
  const progress = new Map<number, { step: number; steps: number }>();
  let wake: (() => void) | null = null;
  const nudge = () => {
    wake?.();
    wake = null;
  };
  let finishedSteps = new Set<number>();
  const report = () => {
    const steps = Math.max(0, ...[...progress.values()].map((p) => p.steps));
    if (!steps) return;
    let done = 0;
    for (let j = 0; j < total; j++) done += finishedSteps.has(j) ? steps : Math.min(steps, progress.get(j)?.step ?? 0);
    hooks.onProgress?.(done, steps * total);
  };
  events.on('progress', ({ jobId, data }) => {
    if (!mine(jobId)) return;
    const p = data as { step?: unknown; steps?: unknown };
    if (typeof p?.step !== 'number' || typeof p?.steps !== 'number') return;
    progress.set(Number(jobId.slice(record.id.length + 1)), { step: p.step, steps: p.steps });
    report();
  });
  for (const e of ['completed', 'failed', 'stalled', 'active', 'waiting', 'delayed'] as const) {
    events.on(e, ({ jobId }: { jobId: string }) => {
      if (mine(jobId)) nudge();
    });
  }
  try {
    await events.waitUntilReady();
    const seen = new Map<number, JobView>();
    const isFinal = (v: JobView | undefined) => v?.state === 'completed' || v?.state === 'failed';
    for (;;) {
      // A finished job stays finished: its (possibly large) result is read once.
      const open = Array.from({ length: total }, (_, j) => j).filter((j) => !isFinal(seen.get(j)));
      const fresh = await viewJobs(queue, definition, record, open);
      for (const v of fresh) {
        for (const line of transitions(seen.get(v.index), v, total, url.scrub)) hooks.onEvent?.(line);
        seen.set(v.index, v);
        if (v.progress) progress.set(v.index, v.progress);
      }
      const views = Array.from({ length: total }, (_, j) => seen.get(j)!);
      const missing = views.filter((v) => v.state === 'missing');
      if (missing.length) {
        throw new QueueError(
          `sweep ${record.id}: ${missing.length} of its jobs are not in the queue (removed?); submit the sweep again to add them`,
        );
      }
      finishedSteps = new Set(views.filter(isFinal).map((v) => v.index));
      report();
      if (finishedSteps.size === total) return views.map(finished);
      if (hooks.shouldStop?.()) return null;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, POLL_MS);
      });
      if (hooks.shouldStop?.()) return null;
    }
  } finally {
    await events.close();
    await queue.close();
  }
}

function finished(view: JobView): FinishedJob {
  const job = view.job!;
  if (view.state === 'failed') return { index: view.index, state: 'failed', error: view.failedReason ?? 'unknown error' };
  const parsed = jobResultSchema.safeParse(job.returnvalue);
  if (!parsed.success) throw new QueueError(`job ${view.index + 1} of the sweep returned a result this release cannot read`);
  return { index: view.index, state: 'completed', result: parsed.data as JobResult };
}

/** A sweep assembled from its jobs: what runner/outputs.ts needs. */
export interface AssembledSweep {
  config: { preset: string; seeds: number[] } & Record<string, unknown>;
  notes: string[];
  sources: DataSourceRecord[];
  backend: string;
  progress: { field: string; label: string };
  runs: RunResult[];
  history: HistoryRecord[];
  failedJobs: number;
  /** From the first job's start of training to the last job's end, when any job completed. */
  wallSeconds?: number;
}

/**
 * Puts the finished jobs together the way the local runner does: runs and history in job order. The prepared
 * config, notes and data sources are the first completed job's (every worker checked its data against the
 * sweep's first); runs of a failed job are recorded with status `failed` and the job's error.
 */
export function assembleSweep(
  definition: AnyExperiment,
  record: SweepRecord,
  jobs: readonly FinishedJob[],
  scrub: (s: string) => string,
): AssembledSweep {
  const keys = definition.jobs(record.config);
  const completed = jobs.filter((j): j is Extract<FinishedJob, { state: 'completed' }> => j.state === 'completed');
  const first = completed[0]?.result;
  for (const j of completed) {
    if (dataDigest(j.result) !== dataDigest(first!)) {
      throw new QueueError(
        `jobs ${completed[0]!.index + 1} and ${j.index + 1} of sweep ${record.id} were trained on different data or settings; check the workers' data`,
      );
    }
    if (j.result.backend !== first!.backend) {
      throw new QueueError(
        `jobs ${completed[0]!.index + 1} and ${j.index + 1} of sweep ${record.id} ran on different backends (${first!.backend}, ${j.result.backend})`,
      );
    }
  }
  const runs: RunResult[] = [];
  const history: HistoryRecord[] = [];
  for (const j of [...jobs].sort((a, b) => a.index - b.index)) {
    if (j.state === 'completed') {
      const expected = keys[j.index]!;
      const got = j.result.runs;
      if (got.length !== expected.length || got.some((r, i) => r.rho !== expected[i]!.rho || r.seed !== expected[i]!.seed)) {
        throw new QueueError(`job ${j.index + 1} of sweep ${record.id} returned other runs than the sweep defines`);
      }
      runs.push(...got);
      history.push(...j.result.history);
    } else {
      const error = scrub(j.error.split('\n')[0]!);
      runs.push(
        ...keys[j.index]!.map((k): RunResult => ({ rho: k.rho, seed: k.seed, status: 'failed', divergedAt: null, final: null, error })),
      );
    }
  }
  const config = (first?.config ?? record.config) as AssembledSweep['config'];
  if (first && canonicalJson(definition.jobs(config)) !== canonicalJson(keys)) {
    throw new QueueError(`sweep ${record.id}: the workers' prepared config has other runs than the submitted one`);
  }
  const starts = completed.map((j) => j.result.started);
  const ends = completed.map((j) => j.result.finished);
  return {
    config,
    notes: first?.notes ?? [],
    sources: first?.sources ?? [],
    backend: first?.backend ?? record.backend,
    progress: first?.progress ?? curvesAxis(definition.progress(config, undefined)),
    runs,
    history,
    failedJobs: jobs.length - completed.length,
    ...(starts.length && ends.length ? { wallSeconds: (Math.max(...ends) - Math.min(...starts)) / 1000 } : {}),
  };
}
