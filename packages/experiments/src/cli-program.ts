/**
 * The samrank-repro command line: one subcommand per experiment, shared flags, validation with a
 * one-line reason and exit code 2, and Ctrl-C forwarded to the running experiment.
 */
import { Command, CommanderError, Option } from 'commander';
import { ChecksumMismatchError, DatasetFormatError, DatasetNotFoundError, DownloadError } from '@samrank/data';
import { CLI_BACKENDS, DEFAULT_BACKEND, type CliBackend } from './backend.js';
import { parseChoice, parseInteger } from './cli-parsers.js';
import { BackendSelectionError, ExperimentConfigError, ResumeError } from './errors.js';
import { CLI_PRESETS, EXIT, type CliIO, type CommonOptions, type ExperimentDefinition } from './experiment.js';
import { teacherStudentExperiment } from './teacher-student/cli.js';
import { classificationExperiments } from './classification/cli.js';

const DATA_ERRORS = [DatasetNotFoundError, DatasetFormatError, DownloadError, ChecksumMismatchError];

/** The experiments `samrank-repro` knows, in `--help` order. */
export const EXPERIMENTS: ExperimentDefinition[] = [teacherStudentExperiment, ...classificationExperiments];

function addCommonOptions(command: Command): void {
  command
    .option('--preset <name>', 'paper (the paper\'s settings) | small (CPU-sized; classification only) | smoke (short run) (default paper)', parseChoice(CLI_PRESETS))
    .option('--seeds <n>', 'number of data seeds (default 5; 2 for smoke)', parseInteger(1))
    .option('--seed <s>', 'first data seed; seeds are s, s+1, … (default 1)', parseInteger(0))
    .option('--iterations <n>', 'SGD iterations (default: the preset\'s)', parseInteger(1))
    .option('--out <dir>', 'output folder (default samrank-results/<experiment>-…-<timestamp>)')
    .addOption(new Option('--backend <name>', `tfjs backend: ${CLI_BACKENDS.join(' | ')} (default ${DEFAULT_BACKEND})`).argParser(parseChoice(CLI_BACKENDS)))
    .option('--threads <n>', 'wasm backend threads: 1, or 2 for both cores of a 2-core machine (default 1)', parseInteger(1))
    .option('--resume', 'continue the interrupted run in --out from its checkpoint', false)
    .option('--json', 'print results as one JSON line on stdout, no progress', false);
}

/** The process's real streams and SIGINT. */
export function processIO(argv: string[] = process.argv): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    plainProgress: Boolean(process.env['CI']),
    commandLine: ['samrank-repro', ...argv.slice(2)].join(' '),
    onInterrupt(handler) {
      let count = 0;
      const listener = () => {
        count += 1;
        // A second Ctrl-C means "now": skip the checkpoint.
        if (count > 1) process.exit(EXIT.interrupted);
        handler();
      };
      process.on('SIGINT', listener);
      return () => process.off('SIGINT', listener);
    },
  };
}

/** Builds the commander program; the chosen experiment's exit code is written to `result.code`. */
export function buildProgram(io: CliIO, result: { code: number }, experiments = EXPERIMENTS): Command {
  const program = new Command('samrank-repro')
    .description("Reproduce the experiments of 'Sharpness-Aware Minimization Leads to Low-Rank Features' (NeurIPS 2023)")
    .usage('<experiment> [options]')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `\nExperiments:\n${experiments.map((e) => `  ${e.name.padEnd(18)} ${e.summary}`).join('\n')}\n\nRun 'samrank-repro <experiment> --help' for its options.`,
    );
  for (const exp of experiments) {
    const cmd = program.command(exp.name).description(exp.summary).exitOverride();
    exp.addOptions(cmd);
    addCommonOptions(cmd);
    cmd.action(async (flags: Record<string, unknown>) => {
      const common: CommonOptions = {
        preset: flags['preset'] as CommonOptions['preset'],
        seeds: flags['seeds'] as number | undefined,
        seed: flags['seed'] as number | undefined,
        iterations: flags['iterations'] as number | undefined,
        out: flags['out'] as string | undefined,
        backend: (flags['backend'] as CliBackend | undefined) ?? DEFAULT_BACKEND,
        backendExplicit: flags['backend'] !== undefined,
        threads: flags['threads'] as number | undefined,
        resume: Boolean(flags['resume']),
        json: Boolean(flags['json']),
      };
      result.code = await exp.run(flags, common, io);
    });
  }
  return program;
}

/**
 * Parses `argv` (process.argv layout) and runs the experiment. Returns the exit code: 0 done, 1 failure
 * (missing or damaged data: one line naming the problem; anything else: the stack), 2 bad usage (unknown experiment or flag, bad value), 130 interrupted (state saved).
 */
export async function runCli(argv: string[], io: CliIO = processIO(argv)): Promise<number> {
  const result = { code: EXIT.ok as number };
  const program = buildProgram(io, result);
  if (argv.length <= 2) {
    program.outputHelp({ error: true });
    return EXIT.usage;
  }
  try {
    await program.parseAsync(argv);
    return result.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" under exitOverride; commander already printed them.
      if (error.exitCode === 0) return EXIT.ok;
      return EXIT.usage;
    }
    if (error instanceof ExperimentConfigError || error instanceof ResumeError || error instanceof BackendSelectionError) {
      io.stderr.write(`samrank-repro: ${error.message}\n`);
      return EXIT.usage;
    }
    if (DATA_ERRORS.some((E) => error instanceof E)) {
      // Missing or damaged data is the user's to fix, not a bug: the message (with its --download hint) is enough.
      io.stderr.write(`samrank-repro: ${(error as Error).name}: ${(error as Error).message}\n`);
      return EXIT.failure;
    }
    io.stderr.write(`samrank-repro: ${(error as Error)?.stack ?? String(error)}\n`);
    return EXIT.failure;
  }
}
