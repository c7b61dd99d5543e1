/**
 * checkpoint.json: everything a sweep needs to continue exactly where it stopped. Two lines: a header with the
 * format, version and the sha256 of the payload, then the payload. Reading validates the whole file — the
 * checksum, the shapes (zod), the config against the experiment's schema, the job state against the config —
 * so a damaged checkpoint is a {@link ResumeError} with one line, never a wrong result.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ResumeError } from '../errors.js';
import type { AnyExperiment, DataSourceRecord, RunKey } from './definition.js';
import { writeFileAtomic } from './files.js';
import { toJson } from './results.js';
import type { SweepProgress } from './sweep.js';

export const CHECKPOINT_FILE = 'checkpoint.json';
const FORMAT = 'samrank-checkpoint';
const VERSION = 2;

/** What checkpoint.json holds: the sweep's progress plus what the finished run needs to write its outputs. */
export interface CheckpointPayload<C = unknown> extends SweepProgress {
  experiment: string;
  backend: string;
  /** The arguments that started the sweep (kept so the resumed run records them). */
  command: string[] | null;
  config: C;
  notes: string[];
  sources: DataSourceRecord[];
}

const finiteOrNull = z.number().nullable();
/** A finished run as a checkpoint (or a queue job's result) holds it. */
export const runResultSchema = z.object({
  rho: z.number().nonnegative(),
  seed: z.number().int().nonnegative(),
  status: z.enum(['ok', 'diverged']),
  divergedAt: z.number().int().nonnegative().nullable(),
  final: z.record(z.string(), finiteOrNull).nullable(),
});
/** One history record. */
export const historyRecordSchema = z.record(
  z.string(),
  z.union([z.number(), z.null(), z.record(z.string(), z.array(z.number()).nullable())]),
);
/** Where a data set was read from. */
export const dataSourceSchema = z.object({ name: z.string(), location: z.string(), sha256: z.string().optional() });

/** The job in progress ({@link JobProgress}) with `definition`'s saved state. */
export function jobProgressSchema(definition: AnyExperiment) {
  return z.object({
    job: z.number().int().nonnegative(),
    step: z.number().int().nonnegative(),
    evaluated: z.array(z.number().int().nonnegative()),
    status: z.array(z.enum(['ok', 'diverged'])),
    divergedAt: z.array(z.number().int().nonnegative().nullable()),
    state: definition.stateSchema,
  });
}

function envelope(definition: AnyExperiment) {
  return z.object({
    experiment: z.literal(definition.name),
    backend: z.string().min(1),
    command: z.array(z.string()).nullable(),
    config: definition.configSchema,
    notes: z.array(z.string()),
    sources: z.array(dataSourceSchema),
    completed: z.array(runResultSchema),
    history: z.array(historyRecordSchema),
    current: jobProgressSchema(definition).nullable(),
  });
}

/**
 * Writes `payload` atomically as a checksummed file: a header line with `format`, `version` and the sha256 of
 * the second line, the JSON payload. Shared by checkpoint.json and the queue's job checkpoints.
 */
export async function writeChecksummed(file: string, format: string, version: number, payload: unknown): Promise<void> {
  const body = toJson(payload);
  const sha256 = createHash('sha256').update(body).digest('hex');
  await writeFileAtomic(file, `${JSON.stringify({ format, version, sha256 })}\n${body}\n`);
}

/** Writes the checkpoint atomically. */
export async function writeCheckpoint(dir: string, payload: CheckpointPayload): Promise<void> {
  await writeChecksummed(join(dir, CHECKPOINT_FILE), FORMAT, VERSION, payload);
}

/** A zod issue as `path: message`. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length ? issue.path.map(String).join('.') : 'the file';
  return `${path}: ${issue.message}`;
}

/** A usable number of runs in `jobs` before job `index`. */
function runsBefore(jobs: RunKey[][], index: number): number {
  return jobs.slice(0, index).reduce((n, j) => n + j.length, 0);
}

/**
 * Reads and validates `dir/checkpoint.json` for `definition`. Throws {@link ResumeError} with one line for a
 * missing, damaged or foreign checkpoint.
 */
export async function readCheckpoint(dir: string, definition: AnyExperiment): Promise<CheckpointPayload> {
  const file = join(dir, CHECKPOINT_FILE);
  const raw = await readChecksummed(file, FORMAT, VERSION);
  const parsed = envelope(definition).safeParse(raw);
  if (!parsed.success) throw new ResumeError(`${file} does not fit ${definition.name}: ${describeIssue(parsed.error.issues[0]!)}`);
  const cp = parsed.data as CheckpointPayload;
  const problem = consistency(definition, cp);
  if (problem) throw new ResumeError(`${file} does not fit its config: ${problem}`);
  return cp;
}

/**
 * Reads a file written by {@link writeChecksummed} and returns its payload, unvalidated beyond the header and
 * the checksum. Throws {@link ResumeError} with one line for a missing, foreign, other-version or damaged file.
 */
export async function readChecksummed(file: string, format: string, version: number): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ResumeError(`no checkpoint to resume: ${file} does not exist`);
    throw new ResumeError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const newline = text.indexOf('\n');
  let header: { format?: unknown; version?: unknown; sha256?: unknown };
  try {
    header = JSON.parse(newline < 0 ? text : text.slice(0, newline));
  } catch {
    throw new ResumeError(`${file} is not a samrank checkpoint (unreadable header)`);
  }
  if (header.format !== format) throw new ResumeError(`${file} is not a samrank checkpoint (format ${String(header.format)})`);
  if (header.version !== version) {
    throw new ResumeError(`${file} has checkpoint format version ${String(header.version)}; this release reads version ${version}`);
  }
  const body = newline < 0 ? '' : text.slice(newline + 1).replace(/\n$/, '');
  if (createHash('sha256').update(body).digest('hex') !== header.sha256) {
    throw new ResumeError(`${file} is damaged: its content does not match its checksum`);
  }
  try {
    return JSON.parse(body) as unknown;
  } catch (error) {
    throw new ResumeError(`${file} is damaged: ${(error as Error).message}`);
  }
}

/** Cross-checks of a parsed checkpoint against its own config; the reason, or null. */
function consistency(definition: AnyExperiment, cp: CheckpointPayload): string | null {
  const jobs = definition.jobs(cp.config);
  const current = cp.current;
  const finishedJobs = current ? current.job : jobs.length;
  if (current && current.job >= jobs.length) return `job ${current.job} does not exist (${jobs.length} jobs)`;
  const expected = runsBefore(jobs, finishedJobs);
  if (cp.completed.length !== expected) return `${cp.completed.length} finished runs, expected ${expected}`;
  const keys = jobs.flat();
  for (let i = 0; i < cp.completed.length; i++) {
    const r = cp.completed[i]!;
    if (r.rho !== keys[i]!.rho || r.seed !== keys[i]!.seed)
      return `finished run ${i} is ρ ${r.rho} seed ${r.seed}, expected ρ ${keys[i]!.rho} seed ${keys[i]!.seed}`;
    if ((r.status === 'ok') !== (r.final !== null) || (r.status === 'diverged') !== (r.divergedAt !== null))
      return `finished run ${i} has an inconsistent status`;
  }
  const known = new Set(keys.map((k) => `${k.rho}/${k.seed}`));
  const bad = cp.history.find((h) => !known.has(`${h.rho}/${h.seed}`));
  if (bad) return `a history record names ρ ${bad.rho} seed ${bad.seed}, which is not a run of this sweep`;
  if (!current) return null;
  const runs = jobs[current.job]!;
  if (current.status.length !== runs.length || current.divergedAt.length !== runs.length) {
    return `the job in progress has ${current.status.length} run states, expected ${runs.length}`;
  }
  return definition.checkState(cp.config, runs, current.state);
}
