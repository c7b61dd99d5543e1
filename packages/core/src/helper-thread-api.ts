/**
 * The parts of `@samrank/core/threads` that its Node build (threads.ts) and its browser build (threads-browser.ts)
 * share word for word, kept in one place so the two builds cannot drift apart.
 */

/** The helper failed a task, stopped responding, or was handed a task it cannot encode. */
export class HelperThreadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HelperThreadError';
  }
}

/** Options of `HelperThread`. */
export interface HelperThreadOptions {
  /** How long `HelperThread.run` waits for the helper's share before giving up (default 60 000 ms). */
  timeoutMs?: number;
  /** Names the owner in error messages (e.g. `@samrank/rank gemm`). */
  label?: string;
}
