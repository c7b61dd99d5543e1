/**
 * `@samrank/core`: what the other samrank packages share. Browser-safe: the seeded RNG, the two-layer net's float64 math and scalar activations, the helpers that compile
 * and instantiate the embedded wasm kernels, and the task format of the helper thread. The helper thread itself
 * (Node worker_threads) is the `@samrank/core/threads` subpath.
 */
export { createRng, type Rng } from './random.js';
export {
  type TwoLayerActivation,
  type TwoLayerParams,
  TWO_LAYER_ACTIVATIONS,
  activationSlope,
  activationValue,
  twoLayerForward,
  twoLayerHidden,
} from './two-layer.js';
export {
  compileBase64,
  createMemory,
  createSharedMemory,
  ensureMemory,
  instantiateWithMemory,
  isSharedMemory,
  kernelBuild,
  type KernelBuild,
  relaxedSimd,
  relaxedSimdAvailable,
  type WasmMemory,
} from './wasm-runtime.js';
export { runTask, type KernelCall, type KernelTask, type TaskLoop } from './run-task.js';
