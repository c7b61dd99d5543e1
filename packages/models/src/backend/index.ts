/** Backend selection and the kernels that make TensorFlow.js train conv nets on wasm/cpu. */
export {
  setupBackend,
  ensureGradients,
  BACKEND_NAMES,
  type BackendName,
  type BackendAttempt,
  type BackendSetup,
  type ModuleLoader,
  type SetupBackendOptions,
} from './setup.js';
export { registerTrainingKernels, TRAINING_KERNELS } from './register-kernels.js';
export {
  /**
   * Registers the double-backprop gradient fixes (alias of `registerDoubleBackpropGradients` from
   * `@samrank/optim`, the single implementation). Idempotent; returns the kernel names (re-)registered by this call.
   */
  registerDoubleBackpropGradients as registerGradientFixes,
  /** Kernel names whose gradients {@link registerGradientFixes} registers (`DOUBLE_BACKPROP_KERNELS` of `@samrank/optim`). */
  DOUBLE_BACKPROP_KERNELS as GRADIENT_FIXES,
} from '@samrank/optim';
export { scaleShift } from './fused-ops.js';
export { initThreadedWasm, THREADED_WASM_VERSION, type ThreadedWasmResult } from './threaded-wasm.js';
export {
  BackendUnavailableError,
  BackendOptionError,
  GradientsUnavailableError,
  ThreadedWasmError,
  KernelArgumentError,
} from './errors.js';
