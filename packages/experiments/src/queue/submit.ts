/**
 * The submitting side of the queue: a sweep's jobs become BullMQ jobs (idempotently: finished jobs stay
 * finished, failed ones are retried, missing ones added), and the state of every sweep can be read back.
 */
import { type Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { QueueError } from '../errors.js';
import type { AnyExperiment, RunKey } from '../runner/definition.js';
import { KEY_PREFIX, SWEEPS_KEY, type SweepRecord, jobIdOf, queueNameOf, sweepKey, sweepRecordSchema, type JobData } from './sweep.js';
import { jobCheckpointPath } from './store.js';
import { type QueueUrl, redisOptions } from './url.js';

/** A BullMQ queue of `backend` on `url`. */
export function openQueue(url: QueueUrl, backend: string): Queue {
  const queue = new Queue(queueNameOf(backend), { connection: redisOptions(url), prefix: KEY_PREFIX });
  // Connection trouble surfaces in the commands' own calls; the event would only print a second copy.
  queue.on('error', () => {});
  return queue;
}

/** Reads a sweep's record; null when Redis has none. */
export async function readSweepRecord(redis: Redis, sweep: string): Promise<SweepRecord | null> {
  const text = await redis.get(sweepKey(sweep));
  if (text === null) return null;
  const parsed = sweepRecordSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new QueueError(`the record of sweep ${sweep} in Redis is not one this release reads`);
  return parsed.data;
}

/** What {@link submitSweep} did. */
export interface SubmitOutcome {
  record: SweepRecord;
  /** The record was there already (the same sweep was submitted before). */
  known: boolean;
  added: number;
  retried: number;
  /** Jobs finished already (completed): not run again. */
  finished: number;
}

/**
 * Stores the sweep record (the first submission's stays) and puts every job of the sweep into its backend's
 * queue under its stable id. A job that exists is left alone — a completed one is not run again, a running
 * or waiting one keeps its place — except a job that failed for good, which is retried with fresh attempts.
 */
export async function submitSweep(redis: Redis, url: QueueUrl, definition: AnyExperiment, fresh: SweepRecord): Promise<SubmitOutcome> {
  const created = await redis.set(sweepKey(fresh.id), JSON.stringify(fresh), 'NX');
  const record = created === 'OK' ? fresh : ((await readSweepRecord(redis, fresh.id)) ?? fresh);
  await redis.zadd(SWEEPS_KEY, 'NX', Date.parse(record.submitted), record.id);
  const queue = openQueue(url, record.backend);
  try {
    const jobs = definition.jobs(record.config);
    let added = 0;
    let retried = 0;
    let finished = 0;
    for (let j = 0; j < jobs.length; j++) {
      const id = jobIdOf(record.id, j);
      const existing = await queue.getJob(id);
      if (existing) {
        const state = await existing.getState();
        if (state === 'failed') {
          await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
          retried++;
        } else if (state === 'completed') finished++;
        continue;
      }
      const data: JobData = {
        sweep: record.id,
        experiment: record.experiment,
        version: record.version,
        backend: record.backend,
        config: record.config,
        options: record.options,
        job: j,
        jobs: jobs.length,
        checkpoint: jobCheckpointPath(record.store, record.id, j),
      };
      await queue.add(`${record.experiment} ${j + 1}/${jobs.length}`, data, {
        jobId: id,
        attempts: record.attempts,
        backoff: { type: 'exponential', delay: record.retryDelayMs },
        // Finished jobs stay: their return values are the sweep's results, and their presence is what keeps a
        // resubmitted sweep from running them again.
        removeOnComplete: false,
        removeOnFail: false,
      });
      added++;
    }
    return { record, known: created !== 'OK', added, retried, finished };
  } finally {
    await queue.close();
  }
}

/** One job's state as `status` and the waiting submitter see it. */
export interface JobView {
  index: number;
  runs: RunKey[];
  state: string;
  /** Steps done and total, from the job's last progress report. */
  progress: { step: number; steps: number } | null;
  attemptsMade: number;
  attempts: number;
  /** The worker holding (or last holding) it. */
  worker: string | null;
  failedReason: string | null;
  stalls: number;
  job: Job | null;
}

/** Short text of a job's runs: `rho 0.1 seed 2`, or `15 runs`. */
export function describeRuns(runs: readonly RunKey[], parameter = 'rho'): string {
  return runs.length === 1 ? `${parameter} ${runs[0]!.rho} seed ${runs[0]!.seed}` : `${runs.length} runs`;
}

/** The current state of every job of `record` (or of the jobs `only` lists). */
export async function viewJobs(queue: Queue, definition: AnyExperiment, record: SweepRecord, only?: readonly number[]): Promise<JobView[]> {
  const jobs = definition.jobs(record.config);
  return Promise.all(
    (only ?? jobs.map((_, i) => i)).map(async (index): Promise<JobView> => {
      const runs = jobs[index]!;
      // The state first: the job's fields, read after, are at least as new (a finished job's are final).
      const id = jobIdOf(record.id, index);
      const known = await queue.getJobState(id);
      const job = (await queue.getJob(id)) ?? null;
      const state = job ? known : 'missing';
      const p = job?.progress as { step?: unknown; steps?: unknown } | undefined;
      const progress =
        p && typeof p === 'object' && typeof p.step === 'number' && typeof p.steps === 'number' ? { step: p.step, steps: p.steps } : null;
      return {
        index,
        runs,
        state,
        progress,
        attemptsMade: job?.attemptsMade ?? 0,
        attempts: job?.opts.attempts ?? record.attempts,
        worker: job?.processedBy ?? null,
        failedReason: job?.failedReason || null,
        stalls: job?.stalledCounter ?? 0,
        job,
      };
    }),
  );
}

/** Every sweep record, newest first (records that cannot be read are skipped). */
export async function listSweeps(redis: Redis): Promise<SweepRecord[]> {
  const ids = await redis.zrevrange(SWEEPS_KEY, 0, -1);
  const records: SweepRecord[] = [];
  for (const id of ids) {
    try {
      const r = await readSweepRecord(redis, id);
      if (r) records.push(r);
    } catch {
      // A record of another release: listed by nothing rather than failing the whole listing.
    }
  }
  return records;
}
