/**
 * A loop over one call: `args[at]`, `args[at + 1]` = (i, min(to, i + block)) for i = from, from + block, … < to.
 * Kernels that take a half-open range [i0, i1) of rows, tiles or image groups run one block per call.
 */
export interface TaskLoop {
  /** Index in `args` of the range's start; its end goes to `at + 1`. */
  readonly at: number;
  /** First index of the range (inclusive). */
  readonly from: number;
  /** End of the range (exclusive). */
  readonly to: number;
  /** Range length per call (≥ 1). */
  readonly block: number;
}

/** One call of a wasm export: `exports[fn](...args)`, once or once per block of `loop`. */
export interface KernelCall {
  /** Name of a function export of the module. */
  readonly fn: string;
  /** The export's arguments (integers: byte offsets, counts, flags). */
  readonly args: readonly number[];
  /** Call once per block of this range instead of once. */
  readonly loop?: TaskLoop;
}

/**
 * Work for one thread: calls run in order. Plain data, so the generic helper worker runs it with no
 * kernel-specific code; packages build tasks with typed builder functions.
 */
export type KernelTask = readonly KernelCall[];

/** Runs `task` against a module instance's exports (the calling thread and the helper run this same code). */
export declare function runTask(exports: object, task: KernelTask): void;

/** @internal Words {@link encodeTask} writes for `task`. */
export declare function encodedLength(task: KernelTask): number;

/** @internal Writes `task` into `out` (float64 words) and returns the words written. */
export declare function encodeTask(task: KernelTask, indexOf: (name: string) => number, out: Float64Array): number;

/** @internal Reads back what {@link encodeTask} wrote. */
export declare function decodeTask(names: readonly string[], data: Float64Array, length: number): KernelCall[];

/** @internal The names of a compiled module's function exports, in the module's order. */
export declare function functionExports(module: object): string[];
