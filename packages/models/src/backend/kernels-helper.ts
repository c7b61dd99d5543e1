/**
 * The second thread of the direct convolution gradients on the multi-threaded tfjs wasm build. XNNPACK's
 * pthreads run tfjs' own kernels only, so the gradients bring their own worker_thread: it instantiates the same
 * compiled kernels on the same shared heap and computes half of each gradient (disjoint tiles) while the
 * calling thread computes the other half. Tiles never overlap, so the result is bit-identical to one thread.
 * The kernel API stays synchronous: the caller posts the arguments in shared control words, runs its half and
 * waits for the helper with Atomics.
 */
import { Worker } from 'node:worker_threads';
import { KernelArgumentError } from './errors.js';

/** Control words: [0] task sequence (caller → helper), [1] finished sequence, [2] helper ready, [3] helper error, [4] task length, [5..] the task. */
const CONTROL_INTS = 32;
const LENGTH = 4;
const ARGS = 5;
const TASK_INTS = 22;

/**
 * One task: [0, …] the filter gradient — conv_dw's 15 geometry arguments, then rows, rows per block, cb0, cb1,
 * ob0, ob1; [1, …] the input gradient — conv_dx's 16 geometry arguments, then the image groups g0, g1;
 * [2, …] channel_sums, [3, …] bn_grad_sums, [4, …] bn_dx, [5, …] bn_affine — their arguments but the rows,
 * then the rows r0, r1; [6, …] wino_fwd, [7, …] wino_dw — their arguments (the tiles last, run a block of B at
 * a time).
 */
export type KernelTask = readonly number[];

/** The kernels a task may call (wasm/kernels.wat's exports). */
export interface TaskKernels {
  conv_dw(...args: number[]): void;
  conv_dx(...args: number[]): void;
  channel_sums(...args: number[]): void;
  bn_grad_sums(...args: number[]): void;
  bn_dx(...args: number[]): void;
  bn_affine(...args: number[]): void;
  wino_fwd(...args: number[]): void;
  wino_dw(...args: number[]): void;
}

/**
 * Runs one task in calls of a few hundred microseconds each (so a freshly started thread picks up V8's
 * optimised code between calls; wasm has no on-stack replacement). Both threads run this function (the helper
 * gets its source), so it must not refer to anything outside itself.
 */
export function runTask(k: TaskKernels, a: KernelTask): void {
  if (a[0] === 0) {
    const rows = a[16]!;
    const block = a[17]!;
    for (let r0 = 0; r0 < rows; r0 += block) {
      k.conv_dw(a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!, a[10]!, a[11]!, a[12]!, a[13]!, a[14]!, a[15]!, r0, Math.min(rows, r0 + block), a[18]!, a[19]!, a[20]!, a[21]!);
    }
  } else if (a[0] === 1) {
    for (let g = a[17]!; g < a[18]!; g++) {
      k.conv_dx(a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!, a[10]!, a[11]!, a[12]!, a[13]!, a[14]!, a[15]!, a[16]!, g, g + 1);
    }
  } else if (a[0] === 6 || a[0] === 7) {
    const fn = a[0] === 6 ? k.wino_fwd : k.wino_dw;
    const block = a[9]!;
    for (let t = a[10]!; t < a[11]!; t += block) fn(a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, block, t, Math.min(a[11]!, t + block));
  } else {
    const n = a.length;
    const r1 = a[n - 1]!;
    const head = a.slice(1, n - 2);
    const fn = a[0] === 2 ? k.channel_sums : a[0] === 3 ? k.bn_grad_sums : a[0] === 4 ? k.bn_dx : k.bn_affine;
    for (let r0 = a[n - 2]!; r0 < r1; r0 += 4096) fn(...head, r0, Math.min(r1, r0 + 4096));
  }
}

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control } = workerData;
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control);
const runTask = ${runTask.toString()};
Atomics.store(ctl, 2, 1);
let seen = Atomics.load(ctl, 0);
for (;;) {
  Atomics.wait(ctl, 0, seen);
  const seq = Atomics.load(ctl, 0);
  if (seq === seen) continue;
  seen = seq;
  try {
    runTask(k, Array.from(ctl.subarray(${ARGS}, ${ARGS} + ctl[${LENGTH}])));
  } catch {
    Atomics.store(ctl, 3, 1);
  }
  Atomics.store(ctl, 1, seq);
  Atomics.notify(ctl, 1);
}
`;

let tasksRun = 0;

/** Tasks the helper threads have completed in this process (for tests and diagnostics). */
export function helperTasksRun(): number {
  return tasksRun;
}

/** One helper worker bound to one compiled kernel module and one shared heap. */
export class KernelsHelper {
  private worker: Worker | null = null;
  private failed = false;
  private seq = 0;
  private readonly ctl = new Int32Array(new SharedArrayBuffer(CONTROL_INTS * 4));

  constructor(
    private readonly module: object,
    private readonly memory: object,
  ) {}

  /** True once the helper is up; starts it (in the background) on the first call. */
  ready(): boolean {
    if (this.failed) return false;
    if (!this.worker) {
      this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module: this.module, memory: this.memory, control: this.ctl.buffer } });
      // Never keep the process alive for the helper; if it ever dies, the caller computes alone.
      this.worker.unref();
      const fail = () => {
        this.failed = true;
      };
      this.worker.on('error', fail);
      this.worker.on('exit', fail);
    }
    return Atomics.load(this.ctl, 2) === 1;
  }

  /** Posts `helperTask` to the helper, runs `own` here, and returns when both are done. Call only if ready(). */
  run(helperTask: KernelTask, own: () => void): void {
    if (helperTask.length > TASK_INTS) throw new KernelArgumentError(`internal: a helper task has ${helperTask.length} > ${TASK_INTS} ints`);
    const ctl = this.ctl;
    ctl[LENGTH] = helperTask.length;
    ctl.set(helperTask, ARGS);
    const seq = ++this.seq;
    Atomics.store(ctl, 0, seq);
    Atomics.notify(ctl, 0);
    try {
      own();
    } finally {
      // Wait even if our half threw: the helper is still writing into the heap.
      for (let waited = 0; Atomics.load(ctl, 1) !== seq; waited++) {
        if (waited > 6000) {
          this.failed = true;
          throw new KernelArgumentError('@samrank/models wasm kernels: the helper thread stopped responding');
        }
        Atomics.wait(ctl, 1, Atomics.load(ctl, 1), 10);
      }
    }
    tasksRun++;
    if (Atomics.exchange(ctl, 3, 0) !== 0) {
      throw new KernelArgumentError('@samrank/models wasm kernels: the helper thread failed (memory access out of bounds?)');
    }
  }
}
