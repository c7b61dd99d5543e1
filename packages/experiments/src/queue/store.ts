/**
 * Job checkpoints in the shared store: `<store>/<sweep>/job-<index>.json`, written atomically in the
 * checksummed format of checkpoint.json (a header with the sha256 of the payload) and validated on read like
 * it — shape, config, the job's runs, the definition's own state check — so a retried job continues from a
 * checkpoint only when it is exactly this job's.
 */
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { ResumeError } from '../errors.js';
import { describeIssue, historyRecordSchema, jobProgressSchema, readChecksummed, writeChecksummed } from '../runner/checkpoint.js';
import type { AnyExperiment } from '../runner/definition.js';
import type { HistoryRecord } from '../runner/results.js';
import type { JobProgress } from '../runner/sweep.js';
import { canonicalJson } from './sweep.js';

const FORMAT = 'samrank-queue-job';
const VERSION = 1;

/** Default store of a sweep submitted with `--out DIR`: beside the outputs, removed once they are written. */
export const DEFAULT_STORE_DIR = 'queue-checkpoints';

/** Where job `job` of `sweep` keeps its checkpoint under `store`. */
export function jobCheckpointPath(store: string, sweep: string, job: number): string {
  return join(store, sweep, `job-${job}.json`);
}

/** What a job checkpoint holds. */
export interface JobCheckpoint {
  sweep: string;
  experiment: string;
  job: number;
  /** The prepared config the job trains with. */
  config: unknown;
  /** When the job's first attempt started training (ms since 1970), kept across attempts. */
  started: number;
  progress: JobProgress;
  history: HistoryRecord[];
}

/** Writes a job checkpoint atomically (creating its folder). */
export async function writeJobCheckpoint(file: string, checkpoint: JobCheckpoint): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeChecksummed(file, FORMAT, VERSION, checkpoint);
}

/**
 * Reads the checkpoint of job `expect.job` of sweep `expect.sweep`: null when there is none, the progress and
 * history when it is valid, else a {@link ResumeError} saying why it cannot be used.
 */
export async function readJobCheckpoint(
  file: string,
  definition: AnyExperiment,
  expect: { sweep: string; job: number; config: unknown },
): Promise<{ progress: JobProgress; history: HistoryRecord[]; started: number } | null> {
  let raw: unknown;
  try {
    raw = await readChecksummed(file, FORMAT, VERSION);
  } catch (error) {
    if (error instanceof ResumeError && /does not exist/.test(error.message)) return null;
    throw error;
  }
  const schema = z.object({
    sweep: z.literal(expect.sweep),
    experiment: z.literal(definition.name),
    job: z.literal(expect.job),
    config: z.unknown(),
    started: z.number(),
    progress: jobProgressSchema(definition),
    history: z.array(historyRecordSchema),
  });
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ResumeError(`${file} is not this job's checkpoint: ${describeIssue(parsed.error.issues[0]!)}`);
  const cp = parsed.data as JobCheckpoint;
  if (canonicalJson(cp.config) !== canonicalJson(expect.config)) throw new ResumeError(`${file} was written with another config`);
  const runs = definition.jobs(expect.config)[expect.job];
  if (!runs) throw new ResumeError(`${file}: job ${expect.job} does not exist`);
  if (cp.progress.job !== expect.job) throw new ResumeError(`${file} holds the progress of job ${cp.progress.job}`);
  if (cp.progress.status.length !== runs.length || cp.progress.divergedAt.length !== runs.length) {
    throw new ResumeError(`${file} has ${cp.progress.status.length} run states, expected ${runs.length}`);
  }
  const mine = new Set(runs.map((r) => `${r.rho}/${r.seed}`));
  const bad = cp.history.find((h) => !mine.has(`${h.rho}/${h.seed}`));
  if (bad) throw new ResumeError(`${file} has history of ρ ${bad.rho} seed ${bad.seed}, not a run of this job`);
  const problem = definition.checkState(expect.config, runs, cp.progress.state);
  if (problem) throw new ResumeError(`${file} does not fit its config: ${problem}`);
  return { progress: cp.progress, history: cp.history, started: cp.started };
}

/** Removes a job checkpoint (the job finished). */
export async function removeJobCheckpoint(file: string): Promise<void> {
  await rm(file, { force: true });
}
