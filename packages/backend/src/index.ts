/**
 * `@samrank/backend`: makes TensorFlow.js train conv nets fast and correctly in Node. `setupBackend` picks the best
 * backend and installs the training kernels (the package's own SIMD wasm kernels for the convolution gradients,
 * Winograd 3×3 convolutions and BatchNorm; XNNPACK routes for the rest), the fused BatchNorm affine op, the
 * double-backprop gradient registrations, and the opt-in multi-threaded wasm build.
 */
export {
  setupBackend,
  ensureGradients,
  BACKEND_NAMES,
  AUTO_ORDER,
  type BackendName,
  type BackendAttempt,
  type BackendSetup,
  type ModuleLoader,
  type SetupBackendOptions,
  wasmInstallCommand,
} from './setup.js';
export { registerTrainingKernels, TRAINING_KERNELS } from './register-kernels.js';
export { registerDoubleBackpropGradients, DOUBLE_BACKPROP_KERNELS, DOUBLE_BACKPROP_MARKER } from './double-backprop.js';
export { scaleShift, SCALE_SHIFT_KERNEL } from './fused-ops.js';
export { BATCH_NORM_GRAD_KERNEL, CHANNEL_MOMENTS_KERNEL } from './batchnorm-wasm.js';
export { wasmKernelVariant } from './wasm-kernels.js';
export { initThreadedWasm, THREADED_WASM_VERSION, type ThreadedWasmResult } from './threaded-wasm.js';
export {
  BackendError,
  BackendUnavailableError,
  BackendOptionError,
  GradientsUnavailableError,
  ThreadedWasmError,
  KernelArgumentError,
  SyncReadUnavailableError,
} from './errors.js';
export { WEBGPU_INSTALL_COMMAND, type VulkanProbe } from './webgpu.js';
