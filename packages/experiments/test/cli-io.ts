/**
 * Test helper (not exported): runs the CLI in-process with captured stdout / stderr, so CLI tests check
 * exit codes and output without spawning a process.
 */
import { Writable } from 'node:stream';
import { CLI_ERRORS, EXPERIMENTS } from '../src/experiments.js';
import type { AnyExperiment } from '../src/runner/definition.js';
import type { CliIO } from '../src/cli/io.js';
import { runCli } from '../src/cli/program.js';

/** A non-TTY stream that keeps what was written. */
export class CapturedStream extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** What one CLI call printed and returned. */
export interface CliCall {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `samrank-repro <args>`; with `interruptAtStart` the Ctrl-C handler fires as soon as it is
 * registered, so the experiment stops before its first step.
 */
export async function runCliCaptured(
  args: string[],
  options: { interruptAtStart?: boolean; experiments?: readonly AnyExperiment[] } = {},
): Promise<CliCall> {
  const out = new CapturedStream();
  const err = new CapturedStream();
  const io: CliIO = {
    stdout: out,
    stderr: err,
    plainProgress: true,
    onInterrupt: (handler) => {
      if (options.interruptAtStart) handler();
      return () => {};
    },
  };
  const code = await runCli(options.experiments ?? EXPERIMENTS, ['node', 'samrank-repro', ...args], io, CLI_ERRORS);
  return { code, stdout: out.text, stderr: err.text };
}
