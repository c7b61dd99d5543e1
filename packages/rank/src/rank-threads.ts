/**
 * How many threads the rank kernels use, and the kernels' memory. Two means one helper worker_thread per kernel
 * (the Gram kernel and the tridiagonalization) on the kernel's shared WebAssembly memory (`@samrank/core/threads`).
 * Outside Node the exports map of @samrank/core gives a `threads` build in which no helper starts: the kernels
 * then take their unshared variant and run single-threaded. Nothing here reads `process` or imports Node modules
 * when the module loads, so browser bundles need no shims.
 */
import {
  compileBase64,
  createMemory,
  createSharedMemory,
  instantiateWithMemory,
  runTask,
  type KernelTask,
  type WasmMemory,
} from '@samrank/core';
import { availableCores, HelperThread, helperThreadsAvailable } from '@samrank/core/threads';

let threads: number | null = null;

/** min(2, SAMRANK_RANK_THREADS or the available cores), read on first use. */
function defaultThreads(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return Math.max(1, Math.min(2, Number(env?.['SAMRANK_RANK_THREADS'] ?? availableCores()) || 1));
}

/**
 * How many threads the Gram kernel and the tridiagonalization use: 1 (this thread only) or 2 (plus one
 * helper worker_thread per kernel on shared WebAssembly memory). Default: min(2, available cores), or
 * the environment variable SAMRANK_RANK_THREADS. Results are bit-identical either way. Outside Node there
 * is no helper thread and 2 behaves as 1.
 */
export function setRankThreads(count: 1 | 2): void {
  if (count !== 1 && count !== 2) throw new RangeError(`setRankThreads: 1 or 2, got ${String(count)}`);
  threads = count;
}

/** True when two threads are enabled and `helper` is up; with two threads it starts the helper (in the background) if needed. */
export function helperReady(helper: HelperThread | null): helper is HelperThread {
  if (helper === null) return false;
  threads ??= defaultThreads();
  return threads >= 2 && helper.ready();
}

/** A kernel instance: its exports, its memory, and the helper thread that can share its work (null where none can start). */
export interface RankKernel<T> {
  exports: T;
  memory: WasmMemory;
  helper: HelperThread | null;
}

/**
 * Instantiates a kernel: where helper threads can start, the shared variant on a shared memory with a helper
 * (started lazily by {@link helperReady}); elsewhere the unshared variant alone. Both variants are the same code,
 * so results do not depend on which one runs.
 */
export function instantiateKernel<T>(unshared: string, shared: string, label: string): RankKernel<T> {
  if (helperThreadsAvailable()) {
    const module = compileBase64(shared);
    const memory = createSharedMemory(1);
    return { exports: instantiateWithMemory<T>(module, memory), memory, helper: new HelperThread(module, memory, { label }) };
  }
  const memory = createMemory(1);
  return { exports: instantiateWithMemory<T>(compileBase64(unshared), memory), memory, helper: null };
}

/**
 * Runs a kernel's work cut in two parts: `first` here and `second` on the helper thread when it is up, else both here
 * in that order. Callers cut their work the same way whether or not the helper runs it, so results do not depend on
 * the thread count or on when the helper finished starting.
 */
export function runInTwo<T extends object>(kernel: RankKernel<T>, first: KernelTask, second: KernelTask): void {
  if (helperReady(kernel.helper)) {
    kernel.helper.run(second, () => runTask(kernel.exports, first));
  } else {
    runTask(kernel.exports, first);
    runTask(kernel.exports, second);
  }
}
