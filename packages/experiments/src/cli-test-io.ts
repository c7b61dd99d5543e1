/**
 * Test helper (not exported): runs the CLI in-process with captured stdout / stderr, so CLI tests check
 * exit codes and output without spawning a process.
 */
import { Writable } from 'node:stream';
import { runCli } from './cli-program.js';
import type { CliIO } from './experiment.js';

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
export async function runCliCaptured(args: string[], options: { interruptAtStart?: boolean } = {}): Promise<CliCall> {
  const out = new CapturedStream();
  const err = new CapturedStream();
  const io: CliIO = {
    stdout: out,
    stderr: err,
    plainProgress: true,
    commandLine: ['samrank-repro', ...args].join(' '),
    onInterrupt: (handler) => {
      if (options.interruptAtStart) handler();
      return () => {};
    },
  };
  const code = await runCli(['node', 'samrank-repro', ...args], io);
  return { code, stdout: out.text, stderr: err.text };
}
