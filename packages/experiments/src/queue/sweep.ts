/**
 * What a queued sweep is in Redis. A sweep's identity is a hash of what decides its results — the experiment,
 * the resolved config, the backend and the version of this package — so submitting the same sweep twice names
 * the same BullMQ jobs (finished ones are not run again) and two different sweeps can never share a job.
 *
 * Keys (BullMQ's under the same prefix):
 *   samrank:jobs-<backend>:…          the BullMQ queue of one backend; job id `<sweep>-<job index>`
 *   samrank:sweep:<sweep>             the sweep record (JSON): experiment, config, command, jobs, store, …
 *   samrank:sweep:<sweep>:data        the first worker's prepared config and data digests (the others must match)
 *   samrank:sweeps                    sorted set of sweep ids by submission time
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import packageJson from '../../package.json' with { type: 'json' };
import { dataSourceSchema, historyRecordSchema, runResultSchema } from '../runner/checkpoint.js';
import type { DataSourceRecord } from '../runner/definition.js';
import type { HistoryRecord, RunResult } from '../runner/results.js';

/** BullMQ's key prefix and the prefix of the sweep records. */
export const KEY_PREFIX = 'samrank';
/** Sorted set of every submitted sweep (score: submission time in ms). */
export const SWEEPS_KEY = `${KEY_PREFIX}:sweeps`;
/** The version of the code, part of a sweep's identity: other code may give other numbers. */
export const CODE_VERSION: string = packageJson.version;

/** The sweep record's key. */
export const sweepKey = (sweep: string): string => `${KEY_PREFIX}:sweep:${sweep}`;
/** The key of the data digest the first worker of a sweep recorded. */
export const dataKey = (sweep: string): string => `${KEY_PREFIX}:sweep:${sweep}:data`;
/** The BullMQ queue of one backend: workers serve exactly one backend, so a sweep never mixes backends. */
export const queueNameOf = (backend: string): string => `jobs-${backend}`;
/** The BullMQ job id of job `index` of `sweep`. */
export const jobIdOf = (sweep: string, index: number): string => `${sweep}-${index}`;

/** JSON with object keys sorted at every level (NaN and ±Infinity as null): a stable text of a config. */
export function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (typeof v === 'number') return Number.isFinite(v) ? v : null;
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sort(value));
}

/** The id of a sweep: 16 hex digits of the sha256 of its canonical identity. */
export function sweepIdOf(identity: { experiment: string; backend: string; version: string; config: unknown }): string {
  const text = canonicalJson({
    format: 1,
    experiment: identity.experiment,
    backend: identity.backend,
    version: identity.version,
    config: identity.config,
  });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** The sweep record stored in Redis at submission: everything `collect` needs besides the job results. */
export const sweepRecordSchema = z.object({
  format: z.literal(1),
  id: z.string().regex(/^[0-9a-f]{16}$/),
  experiment: z.string().min(1),
  version: z.string(),
  /** The backend the CLI was asked for (= the queue the jobs are in). */
  backend: z.string().min(1),
  queue: z.string().min(1),
  /** The resolved config, before the workers' `prepare`. */
  config: z.unknown(),
  /** Arguments after `samrank-repro` that reproduce the runs locally (no queue flags). */
  command: z.array(z.string()),
  /** The experiment's flag values, handed to `prepare` (data folder, download). */
  options: z.record(z.string(), z.unknown()),
  jobs: z.number().int().positive(),
  /** Default folder of the job checkpoints (a worker's --store replaces it). */
  store: z.string().min(1),
  attempts: z.number().int().positive(),
  retryDelayMs: z.number().int().nonnegative(),
  /** ISO time of the first submission. */
  submitted: z.string(),
});
export type SweepRecord = z.infer<typeof sweepRecordSchema>;

/** The data of one BullMQ job: self-contained, so a worker needs nothing else to run it. */
export const jobDataSchema = z.object({
  sweep: z.string().regex(/^[0-9a-f]{16}$/),
  experiment: z.string().min(1),
  version: z.string(),
  backend: z.string().min(1),
  config: z.unknown(),
  options: z.record(z.string(), z.unknown()),
  /** Index into `definition.jobs(config)`. */
  job: z.number().int().nonnegative(),
  jobs: z.number().int().positive(),
  /** Where this job's checkpoint lives (absolute; a worker's --store replaces the folder). */
  checkpoint: z.string().min(1),
});
export type JobData = z.infer<typeof jobDataSchema>;

/** What a finished job returns (BullMQ keeps it as the job's return value). */
export interface JobResult {
  runs: RunResult[];
  history: HistoryRecord[];
  /** The config after the worker's `prepare` (e.g. classification's steps), its notes and data sources. */
  config: unknown;
  notes: string[];
  sources: DataSourceRecord[];
  /** The history's progress field and the curves' x-axis label. */
  progress: { field: string; label: string };
  /** The tfjs backend the job trained on. */
  backend: string;
  /** `host:pid` of the worker that finished it. */
  worker: string;
  /** Step the last attempt started from (0: from scratch; > 0: resumed from a checkpoint). */
  resumedFrom: number;
  /** When the job's first attempt started training and when it finished (ms since 1970): the sweep's wall time. */
  started: number;
  finished: number;
}

export const jobResultSchema = z.object({
  runs: z.array(runResultSchema),
  history: z.array(historyRecordSchema),
  config: z.unknown(),
  notes: z.array(z.string()),
  sources: z.array(dataSourceSchema),
  progress: z.object({ field: z.string(), label: z.string() }),
  backend: z.string(),
  worker: z.string(),
  resumedFrom: z.number().int().nonnegative(),
  started: z.number(),
  finished: z.number(),
});

/** A job's progress as reported to BullMQ (`job.updateProgress`). */
export interface JobProgressReport {
  step: number;
  steps: number;
}

/** What must agree between the workers of one sweep: the prepared config and the data read (not where from). */
export function dataDigest(prepared: { config: unknown; sources: readonly DataSourceRecord[] }): string {
  return canonicalJson({ config: prepared.config, data: prepared.sources.map((s) => ({ name: s.name, sha256: s.sha256 ?? null })) });
}
