/**
 * The parts of an experiment subcommand that every experiment shares: usage errors (exit 2), resolving a
 * config, the `--resume` flag rules, the run log and Ctrl-C flag, the default output folder's timestamp
 * and the `--json` line.
 */
import { ExperimentConfigError } from './errors.js';
import { EXIT, type CliIO, type CommonOptions } from './experiment.js';

/** Writes `samrank-repro: <message>` to stderr and returns the usage exit code (2). */
export function usageError(io: Pick<CliIO, 'stderr'>, message: string): number {
  io.stderr.write(`samrank-repro: ${message}\n`);
  return EXIT.usage;
}

/**
 * Runs `resolve`; an {@link ExperimentConfigError} becomes a usage error (returned as `{ code }`),
 * anything else propagates.
 */
export function resolveOrUsage<T>(io: Pick<CliIO, 'stderr'>, resolve: () => T): { config: T } | { code: number } {
  try {
    return { config: resolve() };
  } catch (error) {
    if (error instanceof ExperimentConfigError) return { code: usageError(io, error.message) };
    throw error;
  }
}

/**
 * The `--resume` rules: it needs `--out`, and settings come from the checkpoint, so no setting flag may
 * be given. Returns the usage exit code after printing the reason, or null when the flags are fine.
 * `allowed` names the flags that may accompany `--resume` besides `--out`, for the message.
 */
export function checkResumeFlags(io: Pick<CliIO, 'stderr'>, common: CommonOptions, settingsGiven: boolean, allowed: string): number | null {
  if (!common.resume) return null;
  if (!common.out) return usageError(io, '--resume needs --out DIR (the folder of the interrupted run)');
  if (settingsGiven) return usageError(io, `--resume takes its settings from the checkpoint; pass only --out (and ${allowed})`);
  return null;
}

/** `YYYYMMDD-HHMMSS` in UTC, the suffix of default output folders. */
export function outDirStamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** A line logger to stderr that is silent under `--json` (stdout then holds only the JSON line). */
export function runLog(io: Pick<CliIO, 'stderr'>, common: Pick<CommonOptions, 'json'>): (line: string) => void {
  return (line) => {
    if (!common.json) io.stderr.write(line + '\n');
  };
}

/** Listens for Ctrl-C: `stopped()` turns true after it; `remove()` unregisters the handler. */
export function stopFlag(io: Pick<CliIO, 'onInterrupt'>): { stopped(): boolean; remove(): void } {
  let stop = false;
  const remove = io.onInterrupt(() => {
    stop = true;
  });
  return { stopped: () => stop, remove };
}

/** The `resume with: …` hint printed after an interruption. */
export function resumeHint(experiment: string, outDir: string, common: Pick<CommonOptions, 'backend' | 'backendExplicit' | 'threads'>): string {
  const backend = common.backendExplicit ? ` --backend ${common.backend}` : '';
  const threads = (common.threads ?? 1) > 1 ? ` --threads ${common.threads}` : '';
  return `resume with: samrank-repro ${experiment} --resume --out ${outDir}${backend}${threads}\n`;
}

/** One JSON line; NaN and ±Infinity become null (JSON has neither). */
export function toJsonLine(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
}
