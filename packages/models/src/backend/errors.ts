/** Typed errors raised by the backend setup and the replacement kernels. */
import { ModelsError } from '../errors.js';

/** An explicitly requested backend cannot be used; `packageName` says what to install. */
export class BackendUnavailableError extends ModelsError {
  constructor(
    readonly backend: string,
    readonly packageName: string,
    readonly reason: string,
  ) {
    super(`backend '${backend}' is unavailable: ${reason} (install ${packageName})`);
  }
}

/** `setupBackend` received an option it does not understand (unknown backend name, bad thread count). */
export class BackendOptionError extends ModelsError {}

/** Gradients are not registered and `@tensorflow/tfjs-layers` (whose import registers them) cannot be loaded. */
export class GradientsUnavailableError extends ModelsError {}

/**
 * Multi-threaded wasm relies on private names inside the 4.22.0 `@tensorflow/tfjs-backend-wasm` bundle; this
 * error says which assumption failed (different version, changed bundle, thread pool not created).
 */
export class ThreadedWasmError extends ModelsError {}

/** A replacement kernel got arguments it does not handle (dtype, data format, shapes). */
export class KernelArgumentError extends ModelsError {}
