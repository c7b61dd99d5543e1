/**
 * What the `samrank-repro` CLI needs from an experiment. Each experiment adds its own flags to its
 * subcommand and runs from the parsed values; the options every experiment shares are parsed once here.
 */
import type { Command } from 'commander';
import type { CliBackend } from './backend.js';

/** Values of the shared `--preset` flag. */
export const CLI_PRESETS = ['paper', 'small', 'smoke'] as const;
/** A `--preset` value. */
export type CliPreset = (typeof CLI_PRESETS)[number];

/** Options every experiment accepts. Undefined = not given on the command line. */
export interface CommonOptions {
  /**
   * `paper` = the paper's settings, `small` = a CPU-sized run that still shows the effect (classification
   * experiments only; teacher-student rejects it), `smoke` = a short run for CI.
   */
  preset?: CliPreset;
  seeds?: number;
  seed?: number;
  iterations?: number;
  out?: string;
  backend: CliBackend;
  /** True when --backend was given explicitly. */
  backendExplicit: boolean;
  /**
   * Threads of the wasm backend (1 by default; 2 uses the multi-threaded build and the package kernels' helper
   * thread). Other backends ignore it.
   */
  threads?: number;
  resume: boolean;
  json: boolean;
}

/** Streams and hooks the CLI hands to an experiment (injectable for tests). */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Plain progress lines even on a TTY. */
  plainProgress?: boolean;
  /** Registers a handler for Ctrl-C; returns a function that removes it. */
  onInterrupt(handler: () => void): () => void;
  /** The command line as typed, for report.md. */
  commandLine: string;
}

/** One experiment of the CLI. */
export interface ExperimentDefinition {
  /** Subcommand name, e.g. `teacher-student`. */
  name: string;
  /** One line for `--help`. */
  summary: string;
  /** Adds the experiment's own flags (with validating parsers) to its subcommand. */
  addOptions(command: Command): void;
  /** Runs with the parsed flags; returns the process exit code (0 done, 130 interrupted). */
  run(flags: Record<string, unknown>, common: CommonOptions, io: CliIO): Promise<number>;
}

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;
