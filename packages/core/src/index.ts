/**
 * `@samrank/core`: what the other samrank packages share. Browser-safe: the seeded RNG, the helpers that compile
 * and instantiate the embedded wasm kernels, and the task format of the helper thread. The helper thread itself
 * (Node worker_threads) is the `@samrank/core/threads` subpath.
 */
export { createRng, type Rng } from './random.js';
export { compileBase64, createSharedMemory, ensureMemory, instantiateWithMemory, isSharedMemory, type WasmMemory } from './wasm-runtime.js';
export { runTask, type KernelCall, type KernelTask, type TaskLoop } from './run-task.js';
