/**
 * `@samrank/core/threads` outside Node (the exports map's `default` condition; browser bundlers take it because
 * they do not set `node`). Same API as threads.ts, but no helper ever starts: `ready()` is false, so every kernel
 * built on it runs its whole task on the calling thread — the single-threaded path, with identical results.
 * Nothing here touches `worker_threads`, `os` or `process`, so a browser bundle needs no Node shims.
 */
import type { KernelTask } from './run-task.js';
import type { WasmMemory } from './wasm-runtime.js';
import { HelperThreadError, type HelperThreadOptions } from './helper-thread-api.js';

export { HelperThreadError, type HelperThreadOptions } from './helper-thread-api.js';
export { runTask, type KernelCall, type KernelTask, type TaskLoop } from './run-task.js';

const UNAVAILABLE = 'helper threads need Node.js (its worker threads); this build of @samrank/core/threads runs single-threaded';

/** Whether {@link HelperThread}s can start here: false in this build. */
export function helperThreadsAvailable(): boolean {
  return false;
}

/** Logical cores this process may use: 1 here (no helper can use more). */
export function availableCores(): number {
  return 1;
}

/** Tasks the helper threads of this process have completed: always 0 here. */
export function helperTasksRun(): number {
  return 0;
}

/** A helper that never starts: callers see `ready() === false` and compute alone. */
export class HelperThread {
  private readonly label: string;

  constructor(_module: object, _memory: WasmMemory, options: HelperThreadOptions = {}) {
    this.label = options.label ?? 'wasm kernels';
  }

  /** Always false: there is no worker to start. */
  ready(): boolean {
    return false;
  }

  /** Always false. */
  get usable(): boolean {
    return false;
  }

  /** Why the helper is not usable. */
  get failure(): string | null {
    return UNAVAILABLE;
  }

  /** Never valid here (callers must check ready() first). */
  run(_task: KernelTask, _own: () => void): void {
    throw new HelperThreadError(`${this.label}: ${UNAVAILABLE}`);
  }

  /** Nothing to stop. */
  async terminate(): Promise<void> {}
}
