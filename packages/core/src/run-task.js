// The task format of the helper thread and the one function that executes a task. Plain JavaScript because the
// worker (helper-worker.js) imports it as it is, with no build step, and the calling thread runs the same code
// for its own share (types: run-task.d.ts).

/**
 * Calls `exports[call.fn]` once with `call.args`, or with a loop once per block: args[at], args[at + 1] =
 * (i, min(to, i + block)) for i = from, from + block, … < to. Calls run in order.
 * @param {Record<string, unknown>} exports
 * @param {ReadonlyArray<{ fn: string, args: readonly number[], loop?: { at: number, from: number, to: number, block: number } }>} task
 */
export function runTask(exports, task) {
  for (const call of task) {
    const fn = exports[call.fn];
    if (typeof fn !== 'function') throw new TypeError(`runTask: the module exports no function '${call.fn}'`);
    const loop = call.loop;
    if (!loop) {
      fn(...call.args);
      continue;
    }
    const args = call.args.slice();
    // One call per block keeps each call short (a few hundred microseconds), so a freshly started thread picks
    // up V8's optimised code between calls: wasm has no on-stack replacement.
    for (let i = loop.from; i < loop.to; i += loop.block) {
      args[loop.at] = i;
      args[loop.at + 1] = Math.min(loop.to, i + loop.block);
      fn(...args);
    }
  }
}

/** Float64 words before a call's arguments: function index, argument count, loop at (-1: no loop), from, to, block. */
const HEADER = 6;

/**
 * Doubles that {@link encodeTask} writes for `task`.
 * @param {ReadonlyArray<{ args: readonly number[] }>} task
 */
export function encodedLength(task) {
  let n = 0;
  for (const call of task) n += HEADER + call.args.length;
  return n;
}

/**
 * Writes `task` into `out` (float64 words: byte offsets past 2³¹ stay exact) and returns the words written.
 * `indexOf` maps an export name to its index in the module's function exports (-1: none).
 * @param {ReadonlyArray<{ fn: string, args: readonly number[], loop?: { at: number, from: number, to: number, block: number } }>} task
 * @param {(name: string) => number} indexOf
 * @param {Float64Array} out
 */
export function encodeTask(task, indexOf, out) {
  let p = 0;
  for (const call of task) {
    const index = indexOf(call.fn);
    if (index < 0) throw new TypeError(`encodeTask: the module exports no function '${call.fn}'`);
    const loop = call.loop;
    if (loop && !(loop.at >= 0 && loop.at + 1 < call.args.length && loop.block >= 1)) {
      throw new RangeError(
        `encodeTask: '${call.fn}' loops over args[${loop.at}], args[${loop.at + 1}] of ${call.args.length} in blocks of ${loop.block}`,
      );
    }
    out[p++] = index;
    out[p++] = call.args.length;
    out[p++] = loop ? loop.at : -1;
    out[p++] = loop ? loop.from : 0;
    out[p++] = loop ? loop.to : 0;
    out[p++] = loop ? loop.block : 0;
    for (const a of call.args) out[p++] = a;
  }
  return p;
}

/**
 * Reads back what {@link encodeTask} wrote: `length` words of `data`; `names` are the module's function exports.
 * @param {readonly string[]} names
 * @param {Float64Array} data
 * @param {number} length
 */
export function decodeTask(names, data, length) {
  const task = [];
  for (let p = 0; p < length; ) {
    const fn = names[data[p]];
    const argc = data[p + 1];
    const at = data[p + 2];
    const loop = at < 0 ? undefined : { at, from: data[p + 3], to: data[p + 4], block: data[p + 5] };
    const args = Array.from(data.subarray(p + HEADER, p + HEADER + argc));
    task.push(loop ? { fn, args, loop } : { fn, args });
    p += HEADER + argc;
  }
  return task;
}

/**
 * The names of a compiled module's function exports, in the module's order: both threads derive the same list
 * from the same module, so a task names a function by its index.
 * @param {object} module a WebAssembly.Module
 */
export function functionExports(module) {
  const api = /** @type {{ WebAssembly: { Module: { exports(m: object): { name: string, kind: string }[] } } }} */ (
    /** @type {unknown} */ (globalThis)
  );
  return api.WebAssembly.Module.exports(module)
    .filter((e) => e.kind === 'function')
    .map((e) => e.name);
}
