/**
 * The queue's part of samrank-repro: `<experiment> … --queue URL` (submit, wait, write the outputs; `--detach`
 * returns after submitting), `worker`, `collect` and `status`. Every URL printed is redacted, every error
 * message scrubbed of the password.
 */
import { readFile, rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { z } from 'zod';
import { OutputFolderError, QueueConnectionError, QueueError, UsageError } from '../errors.js';
import type { AnyExperiment, Metric } from '../runner/definition.js';
import { type RunLock, acquireRunLock, removeStaleTemporaries, writeFileAtomic } from '../runner/files.js';
import { type FlagSpecs, choice, flag, text, toOption, toggle, wholeNumber } from '../runner/flags.js';
import { RESULTS_FILE, type Results, buildResults, removeOutputs, writeOutputs } from '../runner/outputs.js';
import { toJson } from '../runner/results.js';
import { checkFreshFolder, createFolder } from '../runner/run.js';
import { CLI_BACKENDS, type CliBackend, DEFAULT_BACKEND, selectBackend } from '../cli/backend.js';
import { type CliIO, EXIT } from '../cli/io.js';
import { createProgress } from '../cli/progress.js';
import { assembleSweep, waitForSweep } from './collect.js';
import { checkRedis, openRedis } from './connection.js';
import { describeRuns, listSweeps, openQueue, readSweepRecord, submitSweep, viewJobs } from './submit.js';
import { DEFAULT_STORE_DIR } from './store.js';
import { CODE_VERSION, type SweepRecord, queueNameOf, sweepIdOf } from './sweep.js';
import { QUEUE_URL_ENV, type QueueUrl, parseQueueUrl } from './url.js';
import { DEFAULT_STALL_SECONDS, startWorker } from './worker.js';

/** The file in an output folder that names the queued sweep whose outputs go there (removed once written). */
export const SWEEP_MARKER = 'queue-sweep.json';
/** Default attempts per job (first try included). */
export const DEFAULT_ATTEMPTS = 3;
/** Default first retry delay in seconds (doubling after each failed attempt). */
export const DEFAULT_RETRY_DELAY_S = 10;

type Parsed = Record<string, unknown>;

const QUEUE_HELP = `Redis of the job queue: redis://[:password@]host[:port][/db], rediss:// for TLS; without a value, $${QUEUE_URL_ENV} (keeps the password out of ps)`;

/** `--queue [url]`: a value, or bare to read the URL from the environment. */
function queueOption(help = QUEUE_HELP): Option {
  return new Option('--queue [url]', help);
}

/** Flags of an experiment subcommand that only a queued sweep takes. */
const submitFlags = {
  detach: toggle('--detach', 'with --queue: return once the jobs are submitted; `samrank-repro collect` writes the outputs later'),
  attempts: flag(
    '--attempts <n>',
    `with --queue: tries per job before it counts as failed (default ${DEFAULT_ATTEMPTS})`,
    wholeNumber(1, 100),
  ),
  retryDelay: flag(
    '--retry-delay <seconds>',
    `with --queue: wait before the first retry of a failed job, doubling after each (default ${DEFAULT_RETRY_DELAY_S})`,
    wholeNumber(0, 86_400),
  ),
  store: flag('--store <dir>', `with --queue: shared folder for the jobs' checkpoints (default <out>/${DEFAULT_STORE_DIR})`, text()),
} satisfies FlagSpecs;

/** The options {@link submitQueued} reads, for every experiment subcommand. */
export function queueSubmitOptions(): Option[] {
  return [queueOption(), ...Object.values(submitFlags).map(toOption)];
}

/** Refuses queue-only flags on a local run. */
export function checkLocalFlags(parsed: Parsed): void {
  const stray = Object.keys(submitFlags).filter((k) => parsed[k] !== undefined && parsed[k] !== false);
  if (stray.length) throw new UsageError(`${submitFlags[stray[0] as keyof typeof submitFlags].flag.split(' ')[0]} needs --queue`);
}

/** The URL of `--queue` (or of the environment when it is given bare). */
export function resolveQueueUrl(value: unknown): QueueUrl {
  if (value === true || value === undefined) {
    const env = process.env[QUEUE_URL_ENV];
    if (!env) throw new QueueConnectionError(`--queue needs a URL, or $${QUEUE_URL_ENV} set`);
    return parseQueueUrl(env);
  }
  return parseQueueUrl(String(value));
}

/** The arguments of a local run of the same sweep: without the queue's flags (the command results.json records). */
export function localArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--queue') {
      if (i + 1 < args.length && !args[i + 1]!.startsWith('-')) i++;
    } else if (a === '--attempts' || a === '--retry-delay' || a === '--store') i++;
    else if (a === '--detach' || /^--(queue|attempts|retry-delay|store)=/.test(a)) continue;
    else out.push(a);
  }
  return out;
}

/** Runs a queue command with every error message and stack scrubbed of the URL's secrets. */
async function scrubbing<T>(url: QueueUrl, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof Error) {
      error.message = url.scrub(error.message);
      if (error.stack) error.stack = url.scrub(error.stack);
    }
    throw error;
  }
}

/** A log line with the time, for workers that run for days. */
function stamped(io: CliIO): (line: string) => void {
  return (line) => io.stderr.write(`${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} ${line}\n`);
}

/** What a queued sweep leaves in its output folder until the outputs are written. */
interface SweepMarker {
  format: 'samrank-queue-sweep';
  sweep: string;
  experiment: string;
  backend: string;
  /** Redacted. */
  queue: string;
}

async function readMarker(dir: string): Promise<SweepMarker | null> {
  try {
    const m = JSON.parse(await readFile(join(dir, SWEEP_MARKER), 'utf8')) as Partial<SweepMarker>;
    return m.format === 'samrank-queue-sweep' && typeof m.sweep === 'string' ? (m as SweepMarker) : null;
  } catch {
    return null;
  }
}

/**
 * Claims the output folder of a queued sweep: the runner's checks (not a file, writable, space), created when
 * missing, locked, and refused when it holds a finished run or another sweep (unless `force`).
 */
async function claimFolder(
  out: string,
  options: { unique: boolean; force: boolean; sweep: string | null },
): Promise<{ dir: string; lock: RunLock; created: boolean }> {
  const { dir, created } = await createFolder({ outDir: out, uniqueFolder: options.unique });
  const lock = await acquireRunLock(dir);
  try {
    await removeStaleTemporaries(dir);
    const marker = await readMarker(dir);
    if (marker && options.sweep && marker.sweep !== options.sweep && !options.force) {
      throw new OutputFolderError(
        `${dir} belongs to queued sweep ${marker.sweep} (${SWEEP_MARKER}); choose another --out, or --force to replace it`,
      );
    }
    await checkFreshFolder(dir, options.force);
    if (options.force) await removeOutputs(dir);
    return { dir, lock, created };
  } catch (error) {
    await lock.release();
    if (created) await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The summary a finished sweep prints, as the local command prints it, plus the failed runs. */
function printResults(
  io: CliIO,
  def: AnyExperiment,
  results: Results,
  outDir: string,
  wallSeconds: number | undefined,
  json: boolean,
  summaryTable: SummaryTable,
): void {
  if (json) {
    io.stdout.write(`${toJson({ outDir, wallSeconds: wallSeconds ?? null, ...results })}\n`);
    return;
  }
  const cfg = results.config as { preset: string; seeds: number[] };
  const metrics = def.metrics(cfg) as Metric<unknown>[];
  const seeds = cfg.seeds.length;
  const diverged = results.runs.filter((r) => r.status === 'diverged');
  const failed = results.runs.filter((r) => r.status === 'failed');
  const p = def.parameter(cfg);
  io.stdout.write(
    `${summaryTable(results, metrics, p.name)}\n` +
      `(median over ${seeds} seed${seeds === 1 ? '' : 's'}; ${diverged.length} diverged run${diverged.length === 1 ? '' : 's'}` +
      `${failed.length ? `; ${failed.length} failed run${failed.length === 1 ? '' : 's'}` : ''}${wallSeconds !== undefined ? `; ${wallSeconds.toFixed(1)} s` : ''})\n` +
      (diverged.length
        ? `diverged (non-finite loss or features): ${diverged.map((r) => `${p.name} ${r.rho} seed ${r.seed} at step ${r.divergedAt}`).join('; ')}\n`
        : '') +
      (failed.length
        ? `failed (job error after its retries): ${failed.map((r) => `${p.name} ${r.rho} seed ${r.seed}: ${r.error}`).join('; ')}\n`
        : '') +
      `wrote ${join(outDir, RESULTS_FILE)}, history.jsonl, report.md, figures/\n`,
  );
}

/** program.ts's summary table (passed in: this module must not import the program). */
export type SummaryTable = (results: Results, metrics: readonly Metric<unknown>[], parameter: string) => string;

/**
 * Waits for the sweep in `dir` and writes its outputs through runner/outputs.ts. Returns the exit code: 0,
 * 1 when jobs failed (the outputs are written all the same), 130 when stopped waiting.
 */
async function collectInto(input: {
  url: QueueUrl;
  def: AnyExperiment;
  record: SweepRecord;
  dir: string;
  command: string[];
  json: boolean;
  io: CliIO;
  summaryTable: SummaryTable;
}): Promise<number> {
  const { url, def, record, dir, io, json } = input;
  const progress = createProgress(`${def.name} (queue)`, { stream: io.stderr, plain: io.plainProgress, quiet: json });
  let stop = false;
  const removeInterrupt = io.onInterrupt(() => {
    stop = true;
  });
  try {
    const jobs = await waitForSweep(url, def, record, {
      onProgress: (done, total) => progress.update(done, total),
      onEvent: (line) => progress.log(`  ${line}`),
      shouldStop: () => stop,
    });
    progress.stop();
    if (!jobs) {
      io.stderr.write(
        `samrank-repro: stopped waiting; sweep ${record.id} goes on in the queue\ncollect with: samrank-repro collect --queue ${url.redacted} --out ${dir}\n`,
      );
      return EXIT.interrupted;
    }
    const sweep = assembleSweep(def, record, jobs, url.scrub);
    const metrics = def.metrics(sweep.config) as Metric<unknown>[];
    const results = buildResults({
      definition: def,
      config: sweep.config,
      backend: sweep.backend,
      command: input.command,
      notes: sweep.notes,
      sources: sweep.sources,
      runs: sweep.runs,
      metrics,
    });
    await writeOutputs(dir, {
      definition: def,
      results,
      history: sweep.history,
      metrics,
      progress: sweep.progress,
      figures: true,
      ...(sweep.wallSeconds !== undefined ? { wallSeconds: sweep.wallSeconds } : {}),
    });
    await rm(join(dir, SWEEP_MARKER), { force: true });
    // Finished jobs removed their checkpoints; what is left (a failed job's) stays for a later retry.
    await rmdir(join(record.store, record.id)).catch(() => {});
    await rmdir(join(dir, DEFAULT_STORE_DIR)).catch(() => {});
    printResults(io, def, results, dir, sweep.wallSeconds, json, input.summaryTable);
    return sweep.failedJobs ? EXIT.failure : EXIT.ok;
  } finally {
    progress.stop();
    removeInterrupt();
  }
}

/** `samrank-repro <experiment> [flags] --queue URL`: submits the sweep, then waits and writes its outputs (or returns with --detach). */
export async function submitQueued(input: {
  definition: AnyExperiment;
  parsed: Parsed;
  config: unknown;
  values: Record<string, unknown>;
  args: readonly string[];
  io: CliIO;
  defaultOutDir(name: string): string;
  reproducingArgs(args: readonly string[]): string[];
  summaryTable: SummaryTable;
}): Promise<number> {
  const { definition: def, parsed } = input;
  if (parsed.threads !== undefined) throw new UsageError('--threads is a worker setting with --queue: samrank-repro worker --threads N');
  const backend = (parsed.backend as CliBackend | undefined) ?? DEFAULT_BACKEND;
  if (backend === 'auto') throw new UsageError('--backend auto may pick a different backend on each worker; name one with --queue');
  const url = resolveQueueUrl(parsed.queue);
  const parsedConfig = def.configSchema.safeParse(input.config);
  if (!parsedConfig.success) throw new UsageError(`invalid ${def.name} config: ${parsedConfig.error.issues[0]!.message}`);
  const config = parsedConfig.data;
  const json = Boolean(parsed.json);
  return scrubbing(url, () => submitChecked({ ...input, url, backend, config, json }));
}

async function submitChecked(
  input: Parameters<typeof submitQueued>[0] & { url: QueueUrl; backend: string; config: unknown; json: boolean },
): Promise<number> {
  const { definition: def, parsed, io, url, backend, config, json } = input;
  await checkRedis(url);
  const sweep = sweepIdOf({ experiment: def.name, backend, version: CODE_VERSION, config });
  const out = parsed.out ? resolve(parsed.out as string) : input.defaultOutDir(def.outName(config));
  const command = localArgs(input.reproducingArgs(input.args));
  const { dir, lock, created } = await claimFolder(out, { unique: !parsed.out, force: Boolean(parsed.force), sweep });
  let submitted = false;
  try {
    const record: SweepRecord = {
      format: 1,
      id: sweep,
      experiment: def.name,
      version: CODE_VERSION,
      backend,
      queue: queueNameOf(backend),
      config,
      command,
      options: input.values,
      jobs: def.jobs(config).length,
      store: parsed.store ? resolve(parsed.store as string) : join(dir, DEFAULT_STORE_DIR),
      attempts: (parsed.attempts as number | undefined) ?? DEFAULT_ATTEMPTS,
      retryDelayMs: 1000 * ((parsed.retryDelay as number | undefined) ?? DEFAULT_RETRY_DELAY_S),
      submitted: new Date().toISOString(),
    };
    const redis = await openRedis(url);
    let outcome: Awaited<ReturnType<typeof submitSweep>>;
    try {
      outcome = await submitSweep(redis, url, def, record);
    } catch (error) {
      throw new QueueError(`could not submit sweep ${sweep} to ${url.redacted}: ${url.scrub((error as Error).message)}`);
    } finally {
      redis.disconnect();
    }
    submitted = true;
    const marker: SweepMarker = { format: 'samrank-queue-sweep', sweep, experiment: def.name, backend, queue: url.redacted };
    await writeFileAtomic(join(dir, SWEEP_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    const { added, retried, finished } = outcome;
    const jobs = outcome.record.jobs;
    const summary = `sweep ${sweep}: ${jobs} job${jobs === 1 ? '' : 's'} in ${url.redacted} queue ${queueNameOf(backend)} (${added} new, ${finished} finished already${retried ? `, ${retried} failed before and retried` : ''})`;
    const hint = `collect with: samrank-repro collect --queue ${url.redacted} --out ${dir}`;
    if (parsed.detach) {
      if (json) io.stdout.write(`${JSON.stringify({ sweep, outDir: dir, jobs, added, finished, retried })}\n`);
      else io.stderr.write(`samrank-repro ${def.name}: ${def.banner(config)}\n${summary}\n${hint}\n`);
      return EXIT.ok;
    }
    if (!json) io.stderr.write(`samrank-repro ${def.name}: ${def.banner(config)} on queued ${backend} workers -> ${dir}\n${summary}\n`);
    return await collectInto({ url, def, record: outcome.record, dir, command, json, io, summaryTable: input.summaryTable });
  } catch (error) {
    // Nothing in the queue refers to a folder this command created before submitting: leave no trace.
    if (created && !submitted) {
      await lock.release();
      await rm(dir, { recursive: true, force: true });
    }
    throw error;
  } finally {
    await lock.release();
  }
}

const workerFlags = {
  backend: flag(
    '--backend <name>',
    `tfjs backend: ${CLI_BACKENDS.filter((b) => b !== 'auto').join(' | ')} (default ${DEFAULT_BACKEND}); the worker takes the jobs of sweeps submitted with it`,
    choice(CLI_BACKENDS),
  ),
  threads: flag('--threads <n>', 'wasm backend threads (default 1)', wholeNumber(1, 64)),
  concurrency: flag('--concurrency <n>', 'jobs this worker trains at once (default 1)', wholeNumber(1, 64)),
  store: flag(
    '--store <dir>',
    'folder of the job checkpoints on this machine, replacing the one the jobs name (where the shared folder is mounted elsewhere)',
    text(),
  ),
  stallTimeout: flag(
    '--stall-timeout <seconds>',
    `a job whose worker has not renewed its lock for this long is taken to be lost and retried elsewhere (default ${DEFAULT_STALL_SECONDS}); keep it above the longest evaluation`,
    wholeNumber(1, 86_400),
  ),
} satisfies FlagSpecs;

async function workerCommand(parsed: Parsed, experiments: readonly AnyExperiment[], io: CliIO): Promise<number> {
  const url = resolveQueueUrl(parsed.queue);
  return scrubbing(url, () => runWorker(url, parsed, experiments, io));
}

async function runWorker(url: QueueUrl, parsed: Parsed, experiments: readonly AnyExperiment[], io: CliIO): Promise<number> {
  const backend = (parsed.backend as CliBackend | undefined) ?? DEFAULT_BACKEND;
  if (backend === 'auto') throw new UsageError('a worker serves one named backend; --backend auto could pick another on each machine');
  await checkRedis(url);
  const active = await selectBackend(backend, { threads: parsed.threads as number | undefined });
  const log = stamped(io);
  const worker = await startWorker({
    url,
    backend,
    activeBackend: active,
    experiments,
    concurrency: (parsed.concurrency as number | undefined) ?? 1,
    ...(parsed.store ? { store: resolve(parsed.store as string) } : {}),
    ...(parsed.stallTimeout !== undefined ? { stallSeconds: parsed.stallTimeout as number } : {}),
    log,
  });
  log(
    `worker ${worker.name}: serving queue ${queueNameOf(backend)} of ${url.redacted} on ${active}; Ctrl-C checkpoints its jobs and stops`,
  );
  await new Promise<void>((done) => {
    let removeInterrupt = () => {};
    const stop = () => {
      removeInterrupt();
      process.off('SIGTERM', stop);
      log(`worker ${worker.name}: stopping (running jobs checkpoint and go back to the queue)`);
      worker.stop().then(done, done);
    };
    removeInterrupt = io.onInterrupt(stop);
    process.on('SIGTERM', stop);
  });
  log(`worker ${worker.name}: stopped`);
  return EXIT.ok;
}

async function collectCommand(
  parsed: Parsed,
  experiments: readonly AnyExperiment[],
  io: CliIO,
  summaryTable: SummaryTable,
): Promise<number> {
  const url = resolveQueueUrl(parsed.queue);
  return scrubbing(url, () => runCollect(url, parsed, experiments, io, summaryTable));
}

async function runCollect(
  url: QueueUrl,
  parsed: Parsed,
  experiments: readonly AnyExperiment[],
  io: CliIO,
  summaryTable: SummaryTable,
): Promise<number> {
  if (!parsed.out) throw new UsageError('collect needs --out DIR (the folder the sweep was submitted with, or a new one with --sweep ID)');
  const out = resolve(parsed.out as string);
  const sweep = (parsed.sweep as string | undefined) ?? (await readMarker(out))?.sweep;
  if (!sweep) throw new UsageError(`${out} names no queued sweep (no ${SWEEP_MARKER}); pass --sweep ID (samrank-repro status lists them)`);
  await checkRedis(url);
  const redis = await openRedis(url);
  let record: SweepRecord | null;
  try {
    record = await readSweepRecord(redis, sweep);
  } finally {
    redis.disconnect();
  }
  if (!record) throw new QueueError(`no sweep ${sweep} in ${url.redacted}`);
  const def = experiments.find((e) => e.name === record.experiment);
  if (!def) throw new QueueError(`sweep ${sweep} is of experiment '${record.experiment}', which this samrank-repro does not know`);
  const { dir, lock } = await claimFolder(out, { unique: false, force: Boolean(parsed.force), sweep });
  try {
    if (!parsed.json) io.stderr.write(`samrank-repro collect: sweep ${sweep}, ${def.name}: ${def.banner(record.config)} -> ${dir}\n`);
    return await collectInto({ url, def, record, dir, command: record.command, json: Boolean(parsed.json), io, summaryTable });
  } finally {
    await lock.release();
  }
}

async function statusCommand(parsed: Parsed, experiments: readonly AnyExperiment[], io: CliIO): Promise<number> {
  const url = resolveQueueUrl(parsed.queue);
  return scrubbing(url, () => runStatus(url, parsed, experiments, io));
}

async function runStatus(url: QueueUrl, parsed: Parsed, experiments: readonly AnyExperiment[], io: CliIO): Promise<number> {
  await checkRedis(url);
  const redis = await openRedis(url);
  try {
    let records = await listSweeps(redis);
    if (parsed.sweep) {
      records = records.filter((r) => r.id === parsed.sweep);
      if (!records.length) throw new QueueError(`no sweep ${String(parsed.sweep)} in ${url.redacted}`);
    }
    if (!records.length) {
      io.stdout.write(`no sweeps in ${url.redacted}\n`);
      return EXIT.ok;
    }
    for (const record of records) {
      const def = experiments.find((e) => e.name === record.experiment);
      if (!def) {
        io.stdout.write(`sweep ${record.id}  ${record.experiment} (unknown to this release)\n`);
        continue;
      }
      const queue = openQueue(url, record.backend);
      try {
        const views = await viewJobs(queue, def, record);
        const counts = new Map<string, number>();
        for (const v of views) counts.set(v.state, (counts.get(v.state) ?? 0) + 1);
        const tally = [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
        io.stdout.write(
          `sweep ${record.id}  ${def.name}: ${def.banner(record.config)}; backend ${record.backend}; submitted ${record.submitted}; ${tally}\n`,
        );
        const p = def.parameter(record.config).name;
        for (const v of views) {
          const pct = v.progress?.steps
            ? ` ${Math.floor((100 * v.progress.step) / v.progress.steps)} % (step ${v.progress.step}/${v.progress.steps})`
            : '';
          const detail =
            v.state === 'active'
              ? `${pct}${v.worker ? ` on ${v.worker}` : ''}`
              : v.state === 'failed'
                ? ` after ${v.attemptsMade} attempt${v.attemptsMade === 1 ? '' : 's'}: ${url.scrub((v.failedReason ?? '').split('\n')[0]!)}`
                : v.state === 'completed'
                  ? v.worker
                    ? ` by ${v.worker}`
                    : ''
                  : v.attemptsMade
                    ? ` (${v.attemptsMade} failed attempt${v.attemptsMade === 1 ? '' : 's'} of ${v.attempts}${v.failedReason ? `: ${url.scrub(v.failedReason.split('\n')[0]!)}` : ''})`
                    : pct;
          io.stdout.write(`  job ${v.index + 1}/${views.length} [${describeRuns(v.runs, p)}]: ${v.state}${detail}\n`);
        }
      } finally {
        await queue.close();
      }
    }
    return EXIT.ok;
  } finally {
    redis.disconnect();
  }
}

/** Adds `worker`, `collect` and `status` to the program; their exit code goes to `result.code`. */
export function addQueueCommands(
  program: Command,
  experiments: readonly AnyExperiment[],
  io: CliIO,
  result: { code: number },
  summaryTable: SummaryTable,
): void {
  const worker = program
    .command('worker')
    .description('train queued jobs: samrank-repro worker --queue redis://host:6379 (docs/queue.md)')
    .exitOverride();
  worker.addOption(queueOption());
  for (const spec of Object.values(workerFlags)) worker.addOption(toOption(spec));
  worker.action(async (parsed: Parsed) => {
    result.code = await workerCommand(parsed, experiments, io);
  });

  const collect = program
    .command('collect')
    .description('wait for a queued sweep and write its outputs: samrank-repro collect --queue URL --out DIR')
    .exitOverride();
  collect.addOption(queueOption());
  collect.addOption(
    toOption(flag('--out <dir>', `the output folder (it names its sweep in ${SWEEP_MARKER}), or a new one with --sweep`, text())),
  );
  collect.addOption(toOption(flag('--sweep <id>', 'the sweep to collect (default: the one named in --out)', sweepIdFlag())));
  collect.addOption(toOption(toggle('--force', 'replace finished outputs in --out')));
  collect.addOption(toOption(toggle('--json', 'print results as one JSON line on stdout, no progress')));
  collect.action(async (parsed: Parsed) => {
    result.code = await collectCommand(parsed, experiments, io, summaryTable);
  });

  const status = program
    .command('status')
    .description('list the queued sweeps and the state of their jobs: samrank-repro status --queue URL')
    .exitOverride();
  status.addOption(queueOption());
  status.addOption(toOption(flag('--sweep <id>', 'only this sweep', sweepIdFlag())));
  status.action(async (parsed: Parsed) => {
    result.code = await statusCommand(parsed, experiments, io);
  });
}

function sweepIdFlag(): z.ZodType<string, string> {
  return z.string().regex(/^[0-9a-f]{16}$/, 'expected a sweep id: 16 hex digits (samrank-repro status lists them)');
}
