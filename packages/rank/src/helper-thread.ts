/**
 * One helper worker_thread per kernel, sharing the kernel's WebAssembly memory. The main thread posts a
 * task (a few integers in shared control words), runs its own share, then waits for the helper with
 * Atomics — so the public API stays synchronous. The helper runs a task function whose source is sent
 * along at start, calling the same compiled module, so both threads execute identical code.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { WasmMemory } from './wasm-runtime.js';

let threads = Math.max(1, Math.min(2, Number(process.env.SAMRANK_RANK_THREADS ?? availableParallelism()) || 1));

/**
 * How many threads the Gram kernel and the tridiagonalization use: 1 (this thread only) or 2 (plus one
 * helper worker_thread per kernel on shared WebAssembly memory). Default: min(2, available cores), or
 * the environment variable SAMRANK_RANK_THREADS. Results are bit-identical either way.
 */
export function setRankThreads(count: 1 | 2): void {
  if (count !== 1 && count !== 2) throw new RangeError(`setRankThreads: 1 or 2, got ${String(count)}`);
  threads = count;
}

/** Control words: [0] task sequence (main → helper), [1] finished sequence, [2] helper ready, [4..15] arguments. */
export const CONTROL_INTS = 16;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, taskSource, ctlOffset } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const task = new Function('return ' + taskSource)();
const ctl = new Int32Array(memory.buffer, ctlOffset, ${CONTROL_INTS});
Atomics.store(ctl, 2, 1);
let seen = Atomics.load(ctl, 0);
for (;;) {
  Atomics.wait(ctl, 0, seen);
  const seq = Atomics.load(ctl, 0);
  if (seq === seen) continue;
  seen = seq;
  task(exports, ctl);
  Atomics.store(ctl, 1, seq);
  Atomics.notify(ctl, 1);
}
`;

/** A helper thread bound to one compiled module and its shared memory. */
export class HelperThread {
  private worker: Worker | null = null;
  private failed = false;
  private seq = 0;
  /** The control words (the first CONTROL_INTS ints of the memory). */
  readonly ctl: Int32Array;

  constructor(
    private readonly module: object,
    private readonly memory: WasmMemory,
    /** Source of `(exports, ctl) => void`, run by the helper for each task (arguments in ctl[4..]). */
    private readonly taskSource: string,
  ) {
    this.ctl = new Int32Array(memory.buffer, 0, CONTROL_INTS);
  }

  /** True when two threads are enabled and the helper is up; starts it (in the background) if needed. */
  ready(): boolean {
    if (threads < 2 || this.failed) return false;
    if (!this.worker) {
      this.worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module: this.module, memory: this.memory, taskSource: this.taskSource, ctlOffset: 0 },
      });
      // Never keep the process alive for the helper; fall back to one thread if it ever dies.
      this.worker.unref();
      const fail = () => {
        this.failed = true;
      };
      this.worker.on('error', fail);
      this.worker.on('exit', fail);
    }
    return Atomics.load(this.ctl, 2) === 1;
  }

  /** Posts `args` to the helper, runs `own` here, and returns when both are done. Call only if ready(). */
  run(args: readonly number[], own: () => void): void {
    const ctl = this.ctl;
    ctl.set(args, 4);
    const seq = ++this.seq;
    Atomics.store(ctl, 0, seq);
    Atomics.notify(ctl, 0);
    own();
    for (let waited = 0; ; waited++) {
      const done = Atomics.load(ctl, 1);
      if (done === seq) return;
      if (waited > 6000) throw new Error('internal: the @samrank/rank helper thread stopped responding');
      Atomics.wait(ctl, 1, done, 10);
    }
  }
}
