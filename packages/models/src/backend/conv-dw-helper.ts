/**
 * The second thread of the direct filter gradient on the multi-threaded tfjs wasm build. XNNPACK's pthreads
 * run tfjs' own kernels only, so the filter gradient brings its own worker_thread: it instantiates the same
 * compiled kernel on the same shared heap and computes half of the gradient's rows (input channels) while the
 * calling thread computes the other half. Tiles never overlap, so the result is bit-identical to one thread.
 * The kernel API stays synchronous: the caller posts the arguments in shared control words, runs its half and
 * waits for the helper with Atomics.
 */
import { Worker } from 'node:worker_threads';
import { KernelArgumentError } from './errors.js';

/** Control words: [0] task sequence (caller → helper), [1] finished sequence, [2] helper ready, [3] helper error, [4..] arguments. */
const CONTROL_INTS = 32;
const ARGS = 4;

/** Arguments of one task: conv_dw's geometry (15 ints), then rows, rows per block, cb0, cb1, ob0, ob1. */
export type ConvDwTask = readonly number[];

interface ConvDwBlocks {
  conv_dw(...args: number[]): void;
}

/**
 * Runs conv_dw over every row block for channel blocks cb a[17]..a[18] and ob a[19]..a[20]. Both threads run this function
 * (the helper gets its source), so it must not refer to anything outside itself.
 */
export function runBlocks(k: ConvDwBlocks, a: ConvDwTask): void {
  const rows = a[15]!;
  const block = a[16]!;
  for (let r0 = 0; r0 < rows; r0 += block) {
    k.conv_dw(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!, a[10]!, a[11]!, a[12]!, a[13]!, a[14]!, r0, Math.min(rows, r0 + block), a[17]!, a[18]!, a[19]!, a[20]!);
  }
}

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control } = workerData;
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control);
const runBlocks = ${runBlocks.toString()};
Atomics.store(ctl, 2, 1);
let seen = Atomics.load(ctl, 0);
for (;;) {
  Atomics.wait(ctl, 0, seen);
  const seq = Atomics.load(ctl, 0);
  if (seq === seen) continue;
  seen = seq;
  try {
    runBlocks(k, Array.from(ctl.subarray(${ARGS}, ${ARGS + 21})));
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
export class ConvDwHelper {
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
  run(helperTask: ConvDwTask, own: () => void): void {
    const ctl = this.ctl;
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
          throw new KernelArgumentError('Conv2DBackpropFilter: the helper thread stopped responding');
        }
        Atomics.wait(ctl, 1, Atomics.load(ctl, 1), 10);
      }
    }
    tasksRun++;
    if (Atomics.exchange(ctl, 3, 0) !== 0) {
      throw new KernelArgumentError('Conv2DBackpropFilter: the helper thread failed (memory access out of bounds?)');
    }
  }
}
