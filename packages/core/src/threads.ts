/**
 * `@samrank/core/threads` (Node only): one helper worker_thread bound to one compiled wasm module and one shared
 * memory. The caller posts a task (plain data, see run-task.d.ts), runs its own share of the work, then waits for
 * the helper with Atomics, so kernel APIs built on it stay synchronous. Shares are disjoint (different tiles,
 * rows or partial-sum buffers), so the result does not depend on how many threads ran.
 *
 * The package's exports map resolves this subpath to threads-browser.ts outside Node (the `node` condition is
 * absent in browser bundles), where no helper ever starts and kernels run on the calling thread alone.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { encodedLength, encodeTask, functionExports, type KernelTask } from './run-task.js';
import type { WasmMemory } from './wasm-runtime.js';
import { HelperThreadError, type HelperThreadOptions } from './helper-thread-api.js';

export { HelperThreadError, type HelperThreadOptions } from './helper-thread-api.js';
export { runTask, type KernelCall, type KernelTask, type TaskLoop } from './run-task.js';

/** Control words: [0] task sequence (caller → helper), [1] finished sequence, [2] helper ready, [3] helper failed, [4] task length. */
const SEQ = 0;
const DONE = 1;
const READY = 2;
const ERROR = 3;
const LENGTH = 4;
const CONTROL_INTS = 8;

let tasksRun = 0;

/**
 * Whether {@link HelperThread}s can start here: true in Node (this module), false in the build that bundlers
 * pick for browsers. Callers that see false use an unshared memory and the single-threaded path.
 */
export function helperThreadsAvailable(): boolean {
  return true;
}

/** Logical cores this process may use (`os.availableParallelism()`); 1 in the browser build. */
export function availableCores(): number {
  return availableParallelism();
}

/** Tasks the helper threads of this process have completed (for tests and diagnostics). */
export function helperTasksRun(): number {
  return tasksRun;
}

/** One helper worker_thread running tasks on `module` instantiated against the shared `memory`. */
export class HelperThread {
  private worker: Worker | null = null;
  private port: MessagePort | null = null;
  private failed = false;
  private failureReason: string | null = null;
  private seq = 0;
  private readonly ctl = new Int32Array(new SharedArrayBuffer(CONTROL_INTS * 4));
  private data = new Float64Array(new SharedArrayBuffer(256 * 8));
  private readonly names: string[];
  private readonly index: Map<string, number>;
  private readonly timeoutMs: number;
  private readonly label: string;

  constructor(
    private readonly module: object,
    private readonly memory: WasmMemory,
    options: HelperThreadOptions = {},
  ) {
    this.names = functionExports(module);
    this.index = new Map(this.names.map((name, i) => [name, i]));
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.label = options.label ?? 'wasm kernels';
  }

  /** True once the helper is up; starts it (in the background) on the first call. False for good after a failure. */
  ready(): boolean {
    if (this.failed) return false;
    if (!this.worker) this.start();
    return Atomics.load(this.ctl, READY) === 1;
  }

  /** False once the helper died or timed out: callers then compute alone. */
  get usable(): boolean {
    return !this.failed;
  }

  /** Why the helper is not usable (worker start error, exit, timeout), or null. */
  get failure(): string | null {
    return this.failed ? (this.failureReason ?? 'terminated') : null;
  }

  private markFailed(reason: string): void {
    this.failed = true;
    this.failureReason ??= reason;
  }

  private start(): void {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    try {
      this.worker = new Worker(new URL('./helper-worker.js', import.meta.url), {
        workerData: { module: this.module, memory: this.memory, control: this.ctl.buffer, data: this.data.buffer, port: port2 },
        transferList: [port2],
        // The worker is plain JavaScript: the parent's loaders (tsx) and flags such as --input-type only get in its way.
        execArgv: [],
      });
    } catch (err) {
      this.markFailed(`the worker did not start: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    // Never keep the process alive for the helper; if it ever dies, the caller computes alone.
    this.worker.unref();
    port1.unref();
    this.worker.on('error', (err) => this.markFailed(`the worker failed: ${err instanceof Error ? err.message : String(err)}`));
    this.worker.on('exit', (code) => this.markFailed(`the worker exited with code ${code}`));
  }

  /**
   * Posts `task` to the helper, runs `own` here, and returns when both are done. Call only when ready().
   * Waits for the helper even when `own` throws (it is still writing into the shared memory); throws
   * {@link HelperThreadError} when the helper's share failed or did not finish within the timeout.
   */
  run(task: KernelTask, own: () => void): void {
    const ctl = this.ctl;
    this.post(task);
    const seq = ++this.seq;
    Atomics.store(ctl, SEQ, seq);
    Atomics.notify(ctl, SEQ);
    let ownError: { error: unknown } | null = null;
    try {
      own();
    } catch (error) {
      ownError = { error };
    }
    this.wait(seq);
    tasksRun++;
    // Read (and clear) the helper's failure either way, so that the next task does not report it; when both
    // shares failed, the caller's own error is the one that propagates.
    const helperFailed = Atomics.exchange(ctl, ERROR, 0) !== 0;
    const message = helperFailed ? this.helperMessage() : '';
    if (ownError) throw ownError.error;
    if (helperFailed) throw new HelperThreadError(`${this.label}: the helper thread failed its share of the work (${message})`);
  }

  private post(task: KernelTask): void {
    const words = encodedLength(task);
    if (words > this.data.length) {
      // The helper reads the new buffer from the port before the task that needs it.
      this.data = new Float64Array(new SharedArrayBuffer(Math.max(words, 2 * this.data.length) * 8));
      this.port!.postMessage(this.data.buffer);
    }
    let length: number;
    try {
      length = encodeTask(task, (name) => this.index.get(name) ?? -1, this.data);
    } catch (err) {
      throw new HelperThreadError(`${this.label}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    Atomics.store(this.ctl, LENGTH, length);
  }

  private wait(seq: number): void {
    const ctl = this.ctl;
    const start = performance.now();
    for (let done = Atomics.load(ctl, DONE); done !== seq; done = Atomics.load(ctl, DONE)) {
      if (performance.now() - start > this.timeoutMs) {
        this.markFailed(`no answer in ${this.timeoutMs} ms`);
        throw new HelperThreadError(`${this.label}: the helper thread stopped responding (no answer in ${this.timeoutMs} ms)`);
      }
      Atomics.wait(ctl, DONE, done, 10);
    }
  }

  /** The helper's last error message(s), posted before it flagged the failure. */
  private helperMessage(): string {
    const messages: string[] = [];
    for (let m = receiveMessageOnPort(this.port!); m; m = receiveMessageOnPort(this.port!)) messages.push(String(m.message));
    return messages.join('; ') || 'no message';
  }

  /** Stops the helper (tests; a helper never keeps the process alive anyway). */
  async terminate(): Promise<void> {
    this.markFailed('terminated');
    await this.worker?.terminate();
  }
}
