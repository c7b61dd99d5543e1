/**
 * The samrank-repro command line: one subcommand per experiment definition, the common flags, validation
 * with a one-line reason and exit code 2, progress, Ctrl-C forwarded to the runner, and the summary table.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { UsageError } from '../errors.js';
import type { AnyExperiment, CommonValues, Metric } from '../runner/definition.js';
import { type FlagSpecs, choice, flag, text, toOption, toggle, wholeNumber } from '../runner/flags.js';
import { RESULTS_FILE, type Results } from '../runner/outputs.js';
import { formatMetric, toJson, recordValue } from '../runner/results.js';
import { runExperiment } from '../runner/run.js';
import { addQueueCommands, checkLocalFlags, queueSubmitOptions, submitQueued } from '../queue/cli.js';
import { CLI_BACKENDS, type CliBackend, DEFAULT_BACKEND, selectBackend } from './backend.js';
import { type CliIO, EXIT, processIO } from './io.js';
import { createProgress } from './progress.js';

/** Seeds one sweep may ask for (memory is checked against the machine as well). */
export const MAX_SEEDS = 1000;

/** The flags every experiment has. */
function commonFlags(def: AnyExperiment) {
  return {
    preset: flag('--preset <name>', `${def.presets.join(' | ')} (default ${def.presets[0]})`, choice(def.presets)),
    seeds: flag('--seeds <n>', "number of data seeds (default: the preset's)", wholeNumber(1, MAX_SEEDS)),
    seed: flag('--seed <s>', 'first data seed; seeds are s, s+1, …', wholeNumber(0, 2 ** 31 - 1)),
    iterations: flag('--iterations <n>', "optimizer steps per run (default: the preset's)", wholeNumber(1)),
    out: flag('--out <dir>', `output folder (default samrank-results/${def.name}-…-<UTC time>)`, text()),
    backend: flag('--backend <name>', `tfjs backend: ${CLI_BACKENDS.join(' | ')} (default ${DEFAULT_BACKEND})`, choice(CLI_BACKENDS)),
    threads: flag('--threads <n>', 'wasm backend threads: 1, or 2 for both cores of a 2-core machine (default 1)', wholeNumber(1, 64)),
    resume: toggle('--resume', 'continue the interrupted run in --out from its checkpoint'),
    force: toggle('--force', 'replace a finished or interrupted run in --out'),
    json: toggle('--json', 'print results as one JSON line on stdout, no progress'),
  } satisfies FlagSpecs;
}

/** Flags that never change results, so they may accompany --resume. */
const RESUME_OK = new Set(['out', 'backend', 'threads', 'json', 'resume']);

type Parsed = Record<string, unknown>;

/** The arguments after `samrank-repro` minus the ones that only say where and how to write. */
export function reproducingArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--out') i++;
    else if (a.startsWith('--out=') || a === '--json' || a === '--force' || a === '--resume') continue;
    else out.push(a);
  }
  return out;
}

/** `samrank-results/<name>-<UTC time>` under the working directory (the runner adds -2, -3 on collision). */
export function defaultOutDir(name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return resolve('samrank-results', `${name}-${stamp}`);
}

/** The table printed at the end: per swept value, the median of each metric that has a column. */
export function summaryTable(results: Results, metrics: readonly Metric<unknown>[], parameter: string): string {
  const cols = metrics.filter((m) => m.column);
  const width = (m: Metric<unknown>) => Math.max(8, m.column!.length);
  const head = [parameter.padEnd(7), ...cols.map((m) => m.column!.padStart(width(m))), 'ok'.padStart(6)].join(' ');
  const rows = results.summary.map((s) =>
    [
      String(s.rho).padEnd(7),
      ...cols.map((m) => formatMetric(m, s.metrics[m.key]?.n ? s.metrics[m.key]!.median : null).padStart(width(m))),
      `${s.finished}/${s.finished + s.diverged + (s.failed ?? 0)}`.padStart(6),
    ].join(' '),
  );
  return [head, ...rows].join('\n');
}

async function runSubcommand(def: AnyExperiment, parsed: Parsed, args: readonly string[], io: CliIO): Promise<number> {
  const common = commonFlags(def);
  const json = Boolean(parsed.json);
  const log = (line: string) => {
    if (!json) io.stderr.write(`${line}\n`);
  };
  const resume = Boolean(parsed.resume);
  const given = Object.keys(parsed).filter((k) => parsed[k] !== undefined && parsed[k] !== false);
  if (resume) {
    if (!parsed.out) throw new UsageError('--resume needs --out DIR (the folder of the interrupted run)');
    const allowed = new Set([...RESUME_OK, ...(def.resumeFlags ?? [])]);
    const extra = given.filter((k) => !allowed.has(k));
    if (extra.length) {
      const names = [...allowed]
        .filter((k) => k !== 'resume' && k !== 'out')
        .map((k) => (def.flags[k] ?? common[k as keyof typeof common])!.flag.split(' ')[0]);
      throw new UsageError(`--resume takes its settings from the checkpoint; pass only --out (and ${names.join(', ')})`);
    }
  }
  const values = Object.fromEntries(
    Object.keys(def.flags)
      .filter((k) => parsed[k] !== undefined)
      .map((k) => [k, parsed[k]]),
  );
  // Defaults may depend on the backend the runs will use (the workers', for a queued sweep).
  const resolveFor = (backend: string) => {
    const common: CommonValues = {
      preset: parsed.preset as string | undefined,
      seeds: parsed.seeds as number | undefined,
      seed: parsed.seed as number | undefined,
      iterations: parsed.iterations as number | undefined,
      backend,
    };
    return resume ? undefined : def.resolveConfig(common, values);
  };
  const backendName = (parsed.backend as CliBackend | undefined) ?? DEFAULT_BACKEND;
  if (parsed.queue !== undefined) {
    const config = resolveFor(backendName);
    return submitQueued({
      definition: def,
      parsed,
      config,
      values,
      args,
      io,
      defaultOutDir: (name) => defaultOutDir(name),
      reproducingArgs,
      summaryTable,
    });
  }
  checkLocalFlags(parsed);
  const threads = parsed.threads as number | undefined;
  const backend = await selectBackend(backendName, { threads });
  const config = resolveFor(backend);
  const out = parsed.out ? resolve(parsed.out as string) : defaultOutDir(def.outName(config));
  const progress = createProgress(def.name, { stream: io.stderr, plain: io.plainProgress, quiet: json });
  let stop = false;
  const removeInterrupt = io.onInterrupt(() => {
    stop = true;
  });
  const resumeHint = (dir: string) =>
    `resume with: samrank-repro ${def.name} --resume --out ${dir}${parsed.backend ? ` --backend ${backendName}` : ''}${(threads ?? 1) > 1 ? ` --threads ${threads}` : ''}\n`;
  try {
    const outcome = await runExperiment({
      definition: def,
      config,
      outDir: out,
      uniqueFolder: !parsed.out,
      backend,
      resume,
      force: Boolean(parsed.force),
      command: reproducingArgs(args),
      prepareOptions: values,
      hooks: {
        onProgress: (done, total) => progress.update(done, total),
        onEvaluation: (records, field, metrics) => {
          // A batched job evaluates dozens of runs at once: the progress bar says enough there.
          if (records.length !== 1) return;
          const cols = metrics.filter((m) => m.column);
          for (const r of records) {
            progress.log(
              `  rho ${r.rho} seed ${r.seed} ${field} ${r[field]}: ${cols.map((m) => `${m.column} ${formatMetric(m, recordValue(r, m.key))}`).join(', ')}`,
            );
          }
        },
        shouldStop: () => stop,
        log: (line) => progress.log(line),
        onStart: (dir, cfg) => log(`samrank-repro ${def.name}: ${resume ? 'resuming ' : ''}${def.banner(cfg)} on ${backend} -> ${dir}`),
      },
    }).catch((error: unknown) => {
      progress.stop();
      // Failed after a checkpoint: say how to continue (usage errors happen before any work).
      if (!(error instanceof UsageError) && existsSync(join(out, 'checkpoint.json'))) {
        io.stderr.write(`samrank-repro: the run stopped with an error; its last checkpoint is in ${out}\n${resumeHint(out)}`);
      }
      throw error;
    });
    progress.stop();
    if (outcome.status === 'interrupted') {
      io.stderr.write(
        `samrank-repro: interrupted at step ${outcome.step}${outcome.jobs > 1 ? ` of job ${outcome.job + 1}/${outcome.jobs}` : ''}; state saved to ${join(outcome.outDir, 'checkpoint.json')}\n${resumeHint(outcome.outDir)}`,
      );
      return EXIT.interrupted;
    }
    const { results } = outcome;
    if (json) {
      io.stdout.write(`${toJson({ outDir: outcome.outDir, wallSeconds: outcome.wallSeconds, ...results })}\n`);
      return EXIT.ok;
    }
    const cfg = results.config as { preset: string; seeds: number[] };
    const metrics = def.metrics(cfg) as Metric<unknown>[];
    const seeds = cfg.seeds.length;
    const diverged = results.runs.filter((r) => r.status === 'diverged');
    const p = def.parameter(cfg);
    io.stdout.write(
      `${summaryTable(results, metrics, p.name)}\n` +
        `(median over ${seeds} seed${seeds === 1 ? '' : 's'}; ${diverged.length} diverged run${diverged.length === 1 ? '' : 's'}; ${outcome.wallSeconds.toFixed(1)} s)\n` +
        (diverged.length
          ? `diverged (non-finite loss or features): ${diverged.map((r) => `${p.name} ${r.rho} seed ${r.seed} at step ${r.divergedAt}`).join('; ')}\n`
          : '') +
        `wrote ${join(outcome.outDir, RESULTS_FILE)}, history.jsonl, report.md, figures/\n`,
    );
    return EXIT.ok;
  } finally {
    progress.stop();
    removeInterrupt();
  }
}

/** Builds the commander program; the chosen experiment's exit code goes to `result.code`. */
export function buildProgram(experiments: readonly AnyExperiment[], io: CliIO, result: { code: number; args: readonly string[] }): Command {
  const program = new Command('samrank-repro')
    .description("Reproduce the experiments of 'Sharpness-Aware Minimization Leads to Low-Rank Features' (NeurIPS 2023)")
    .usage('<experiment> [options]')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `\nExperiments:\n${experiments.map((e) => `  ${e.name.padEnd(18)} ${e.summary}`).join('\n')}\n\nRun 'samrank-repro <experiment> --help' for its options.`,
    );
  for (const def of experiments) {
    const cmd = program.command(def.name).description(def.summary).exitOverride();
    for (const spec of Object.values(def.flags as FlagSpecs)) cmd.addOption(toOption(spec));
    for (const spec of Object.values(commonFlags(def))) cmd.addOption(toOption(spec));
    for (const option of queueSubmitOptions()) cmd.addOption(option);
    cmd.action(async (parsed: Parsed) => {
      result.code = await runSubcommand(def, parsed, result.args, io);
    });
  }
  addQueueCommands(program, experiments, io, result, summaryTable);
  return program;
}

/** Error classes of other packages that are bad input (missing or damaged data): one line, exit 2. */
export interface ErrorPolicy {
  /** Bad-input errors of other packages: one line with their name, exit 2, no stack. */
  oneLine: readonly (abstract new (
    ...args: never[]
  ) => Error)[];
}

/**
 * Parses `argv` (process.argv layout) and runs the experiment. Returns the exit code: 0 done, 2 bad input — flags,
 * output folder, checkpoint, missing or damaged data (one line) —, 130 interrupted (state saved), 1 an unexpected
 * failure (one line; the stack only with SAMRANK_DEBUG=1).
 */
export async function runCli(
  experiments: readonly AnyExperiment[],
  argv: string[],
  io: CliIO = processIO(),
  policy: ErrorPolicy = { oneLine: [] },
): Promise<number> {
  const result = { code: EXIT.ok as number, args: argv.slice(2) };
  const program = buildProgram(experiments, io, result);
  if (argv.length <= 2) {
    program.outputHelp({ error: true });
    return EXIT.usage;
  }
  try {
    await program.parseAsync(argv);
    return result.code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const message = (error as Error)?.message?.split('\n')[0] ?? String(error);
    if (error instanceof UsageError) {
      io.stderr.write(`samrank-repro: ${message}\n`);
      return EXIT.usage;
    }
    if (policy.oneLine.some((E) => error instanceof E)) {
      io.stderr.write(`samrank-repro: ${(error as Error).name}: ${message}\n`);
      return EXIT.usage;
    }
    io.stderr.write(
      process.env.SAMRANK_DEBUG
        ? `samrank-repro: ${(error as Error)?.stack ?? String(error)}\n`
        : `samrank-repro: ${(error as Error)?.name ?? 'Error'}: ${message} (run with SAMRANK_DEBUG=1 for the stack)\n`,
    );
    return EXIT.failure;
  }
}
