/**
 * How many threads the rank kernels use. Two means one helper worker_thread per kernel (the Gram kernel and the
 * tridiagonalization), on the kernel's shared WebAssembly memory (`@samrank/core/threads`).
 */
import { availableParallelism } from 'node:os';
import type { HelperThread } from '@samrank/core/threads';

let threads = Math.max(1, Math.min(2, Number(process.env['SAMRANK_RANK_THREADS'] ?? availableParallelism()) || 1));

/**
 * How many threads the Gram kernel and the tridiagonalization use: 1 (this thread only) or 2 (plus one
 * helper worker_thread per kernel on shared WebAssembly memory). Default: min(2, available cores), or
 * the environment variable SAMRANK_RANK_THREADS. Results are bit-identical either way.
 */
export function setRankThreads(count: 1 | 2): void {
  if (count !== 1 && count !== 2) throw new RangeError(`setRankThreads: 1 or 2, got ${String(count)}`);
  threads = count;
}

/** True when two threads are enabled and `helper` is up; with two threads it starts the helper (in the background) if needed. */
export function helperReady(helper: HelperThread): boolean {
  return threads >= 2 && helper.ready();
}
