/** The CLI's streams and Ctrl-C, injectable so tests run the CLI in-process. */

/** Where the CLI writes: anything with `write` (a Node stream, a test's capture); `isTTY` turns on the progress bar. */
export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Streams and hooks the CLI uses. */
export interface CliIO {
  stdout: OutputStream;
  stderr: OutputStream;
  /** Plain progress lines even on a TTY. */
  plainProgress?: boolean;
  /** Registers a handler for Ctrl-C; returns a function that removes it. */
  onInterrupt(handler: () => void): () => void;
}

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/** The process's real streams and SIGINT. */
export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    plainProgress: Boolean(process.env.CI),
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
