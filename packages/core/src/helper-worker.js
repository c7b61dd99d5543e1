// The helper thread of threads.ts: instantiates the caller's compiled module on the caller's shared memory, then
// runs each posted task until the process ends. Kernel-agnostic: a task is data (run-task.js). A real module file
// rather than source text, so the code that runs is the code that was reviewed and shipped.
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { decodeTask, functionExports, runTask } from './run-task.js';

// Control words, as threads.ts lays them out.
const SEQ = 0;
const DONE = 1;
const READY = 2;
const ERROR = 3;
const LENGTH = 4;

const { module, memory, control, port } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const names = functionExports(module);
const ctl = new Int32Array(control);
let data = new Float64Array(workerData.data);

Atomics.store(ctl, READY, 1);
let seen = Atomics.load(ctl, SEQ);
for (;;) {
  Atomics.wait(ctl, SEQ, seen);
  const seq = Atomics.load(ctl, SEQ);
  if (seq === seen) continue;
  seen = seq;
  try {
    // A task too long for the current buffer comes with a larger one, posted before the task was.
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) data = new Float64Array(m.message);
    runTask(exports, decodeTask(names, data, Atomics.load(ctl, LENGTH)));
  } catch (err) {
    port.postMessage(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    Atomics.store(ctl, ERROR, 1);
  }
  Atomics.store(ctl, DONE, seq);
  Atomics.notify(ctl, DONE);
}
