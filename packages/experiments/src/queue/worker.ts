/**
 * A queue worker: takes jobs of one backend's queue, prepares each sweep's data once, trains the job with the
 * runner's `runJob` (checkpointing into the shared store after every evaluation) and returns the job's runs and
 * history. A retried job — after a thrown error, or after its worker was lost and BullMQ found it stalled —
 * continues from its last checkpoint. Stopping (Ctrl-C, SIGTERM) checkpoints the running jobs and hands them
 * back to the queue before the worker exits.
 */
import { hostname } from 'node:os';
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { ResumeError } from '../errors.js';
import { type AnyExperiment, curvesAxis, type Prepared } from '../runner/definition.js';
import { type JobProgress, runJob } from '../runner/sweep.js';
import { openRedis } from './connection.js';
import { jobCheckpointPath, readJobCheckpoint, removeJobCheckpoint, writeJobCheckpoint } from './store.js';
import {
  CODE_VERSION,
  type JobData,
  type JobProgressReport,
  type JobResult,
  KEY_PREFIX,
  dataDigest,
  dataKey,
  jobDataSchema,
  queueNameOf,
} from './sweep.js';
import { type QueueUrl, redisOptions } from './url.js';

/**
 * Test hook (documented in docs/queue.md as test-only): `<job index>:<times>[@<step>]`, comma-separated, makes
 * job `<job index>` of every sweep throw in its first `<times>` attempts (`always`: every attempt), at the
 * start of the attempt or once it reaches step `<step>`.
 */
export const FAIL_ENV = 'SAMRANK_TEST_FAIL_JOB';

/** Default seconds without a lock renewal after which a job counts as stalled (its worker lost). */
export const DEFAULT_STALL_SECONDS = 300;
/** How often a job reports its progress to the queue. */
const PROGRESS_MS = 500;
/** How many times a job may be recovered from a stall before BullMQ fails it (a job that kills its worker). */
const MAX_STALLS = 3;

/** Options of {@link startWorker}. */
export interface QueueWorkerOptions {
  url: QueueUrl;
  /** The backend the CLI was asked for: the worker serves that backend's queue. */
  backend: string;
  /** The active tfjs backend's name, recorded in the job results. */
  activeBackend: string;
  experiments: readonly AnyExperiment[];
  concurrency?: number;
  /** Replaces the folder of the job checkpoints named in the jobs (where the shared folder is mounted elsewhere). */
  store?: string;
  /** Seconds a job may go without a lock renewal before it counts as stalled. */
  stallSeconds?: number;
  log?(line: string): void;
  /** Failure injection for tests (see {@link FAIL_ENV}); default: the environment's. */
  failures?: string;
}

/** A running worker. */
export interface QueueWorker {
  /** `host:pid`, as the jobs record it. */
  readonly name: string;
  /** Checkpoints and hands back the running jobs, then closes; resolves when closed. */
  stop(): Promise<void>;
}

interface FailurePlan {
  times: number;
  step: number;
}

/** Parses {@link FAIL_ENV}. */
export function parseFailures(text: string | undefined): Map<number, FailurePlan> {
  const plans = new Map<number, FailurePlan>();
  for (const part of (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(\d+):(\d+|always)(?:@(\d+))?$/.exec(part);
    if (!m) throw new Error(`${FAIL_ENV}: cannot read '${part}' (expected <job>:<times|always>[@<step>])`);
    plans.set(Number(m[1]), { times: m[2] === 'always' ? Number.POSITIVE_INFINITY : Number(m[2]), step: Number(m[3] ?? 0) });
  }
  return plans;
}

/** Starts a worker on the queue of `options.backend`. */
export async function startWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const log = options.log ?? (() => {});
  const name = `${hostname()}:${process.pid}`;
  const failures = parseFailures(options.failures ?? process.env[FAIL_ENV]);
  const stallMs = Math.max(1, options.stallSeconds ?? DEFAULT_STALL_SECONDS) * 1000;
  const redis: Redis = await openRedis(options.url);
  const scrub = options.url.scrub;
  let stopping = false;

  // Data per sweep, loaded once by the first of its jobs this worker takes; a few sweeps at most.
  const cache = new Map<string, Promise<Prepared<unknown, unknown>>>();
  const keep = Math.max(2, options.concurrency ?? 1);
  const prepare = (data: JobData, def: AnyExperiment, config: unknown): Promise<Prepared<unknown, unknown>> => {
    let p = cache.get(data.sweep);
    if (!p) {
      p = Promise.resolve(def.prepare(config, (line) => log(`  ${line}`), data.options));
      p.catch(() => cache.delete(data.sweep));
      cache.set(data.sweep, p);
      while (cache.size > keep) cache.delete(cache.keys().next().value!);
    }
    return p;
  };

  /** Refuses data that differs from what the sweep's first worker prepared (e.g. real files vs generated images). */
  const checkSameData = async (sweep: string, prep: Prepared<unknown, unknown>) => {
    const digest = dataDigest(prep);
    if ((await redis.set(dataKey(sweep), digest, 'NX')) === 'OK') return;
    const first = await redis.get(dataKey(sweep));
    if (first !== null && first !== digest) {
      throw new Error(
        `this worker prepared other data or settings than the sweep's first worker (other data files, or generated images instead of real ones); check the data sets on ${hostname()}`,
      );
    }
  };

  const processor = async (job: Job, token?: string): Promise<JobResult> => {
    const parsed = jobDataSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`job ${job.id} is not a samrank job this release reads`);
    const data = parsed.data;
    const def = options.experiments.find((e) => e.name === data.experiment);
    if (!def) throw new UnrecoverableError(`unknown experiment '${data.experiment}'`);
    if (data.version !== CODE_VERSION) {
      throw new Error(`the sweep was submitted with @samrank/experiments ${data.version}, this worker runs ${CODE_VERSION}`);
    }
    const label = `sweep ${data.sweep} job ${data.job + 1}/${data.jobs}`;
    const plan = failures.get(data.job);
    const inject = plan !== undefined && job.attemptsMade < plan.times;
    if (inject && plan.step === 0) throw new Error(`injected failure (${FAIL_ENV}) in attempt ${job.attemptsMade + 1}`);

    const submitted = def.configSchema.safeParse(data.config);
    if (!submitted.success) throw new UnrecoverableError(`the config of ${label} does not fit ${def.name}`);
    const prep = await prepare(data, def, submitted.data);
    await checkSameData(data.sweep, prep);
    const file = options.store ? jobCheckpointPath(options.store, data.sweep, data.job) : data.checkpoint;
    let resume: { progress: JobProgress; history: JobResult['history']; started: number } | null = null;
    try {
      resume = await readJobCheckpoint(file, def, { sweep: data.sweep, job: data.job, config: prep.config });
    } catch (error) {
      if (!(error instanceof ResumeError)) throw error;
      log(`${label}: ignoring its checkpoint (${error.message}); starting it from scratch`);
    }
    if (stopping) {
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const from = resume?.progress.step ?? 0;
    log(
      `${label} (${def.name}): ${from > 0 ? `resuming from step ${from}` : 'starting'}${job.attemptsMade > 0 ? ` (attempt ${job.attemptsMade + 1}/${job.opts.attempts ?? 1})` : ''}`,
    );
    const t0 = performance.now();
    const started = resume?.started ?? Date.now();
    let step = from;
    let lastReport = 0;
    let saveFailed = false;
    const reportProgress = (report: JobProgressReport) => {
      job.updateProgress(report).catch(() => {});
    };
    const outcome = await runJob({
      definition: def,
      config: prep.config,
      prepared: prep.prepared,
      job: data.job,
      ...(resume ? { resume: { progress: resume.progress, history: resume.history } } : {}),
      hooks: {
        onProgress: (s, steps) => {
          step = s;
          const now = performance.now();
          if (now - lastReport >= PROGRESS_MS || s === steps) {
            lastReport = now;
            reportProgress({ step: s, steps });
          }
        },
        shouldStop: () => {
          if (inject && plan.step > 0 && step >= plan.step)
            throw new Error(`injected failure (${FAIL_ENV}) at step ${step} of attempt ${job.attemptsMade + 1}`);
          return stopping;
        },
      },
      save: async (progress, history) => {
        // onProgress is throttled; the evaluations' saves keep `step` exact for the failure hook.
        step = progress.step;
        try {
          await writeJobCheckpoint(file, {
            sweep: data.sweep,
            experiment: def.name,
            job: data.job,
            config: prep.config,
            started,
            progress,
            history,
          });
        } catch (error) {
          // Training goes on without checkpoints; a retry would then start over.
          if (!saveFailed) log(`${label}: cannot write its checkpoint ${file} (${scrub((error as Error).message)}); continuing without`);
          saveFailed = true;
        }
      },
    });
    if (!outcome.completed) {
      log(`${label}: stopped at step ${outcome.progress.step}, checkpointed and handed back to the queue`);
      await job.moveToWait(token);
      throw new WaitingError();
    }
    await removeJobCheckpoint(file).catch(() => {});
    log(`${label}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const progress = def.progress(prep.config, prep.prepared);
    return {
      runs: outcome.runs,
      history: outcome.history,
      config: prep.config,
      notes: prep.notes,
      sources: prep.sources,
      progress: curvesAxis(progress),
      backend: options.activeBackend,
      worker: name,
      resumedFrom: from,
      started,
      finished: Date.now(),
    };
  };
  // Whatever a job throws becomes its failedReason in Redis and in results.json: never with the password.
  const scrubbed = async (job: Job, token?: string): Promise<JobResult> => {
    try {
      return await processor(job, token);
    } catch (error) {
      if (error instanceof Error) error.message = scrub(error.message);
      throw error;
    }
  };

  const worker = new Worker(queueNameOf(options.backend), scrubbed, {
    connection: redisOptions(options.url),
    prefix: KEY_PREFIX,
    name,
    concurrency: options.concurrency ?? 1,
    // A job's lock is renewed every half lockDuration from the event loop, which a long synchronous evaluation
    // can hold up: lockDuration must exceed the longest one (--stall-timeout).
    lockDuration: stallMs,
    stalledInterval: Math.max(500, Math.round(stallMs / 2)),
    maxStalledCount: MAX_STALLS,
  });
  let lastError = '';
  worker.on('error', (error) => {
    const line = scrub(String(error?.message ?? error));
    if (line !== lastError) log(`queue: ${line}`);
    lastError = line;
  });
  worker.on('failed', (job, error) => {
    if (!job || error instanceof WaitingError || error?.name === 'WaitingError') return;
    const d = job.data as Partial<JobData>;
    const more = job.attemptsMade < (job.opts.attempts ?? 1) && !(error instanceof UnrecoverableError);
    log(
      `sweep ${d.sweep} job ${(d.job ?? 0) + 1}/${d.jobs}: attempt ${job.attemptsMade}/${job.opts.attempts ?? 1} failed: ${scrub(error.message)}${more ? '; it will be retried' : '; no attempts left'}`,
    );
  });
  await worker.waitUntilReady();

  let closing: Promise<void> | null = null;
  return {
    name,
    stop() {
      stopping = true;
      closing ??= (async () => {
        await worker.close();
        await redis.quit().catch(() => redis.disconnect());
      })();
      return closing;
    },
  };
}
