/** Typed errors raised by the backend setup and the replacement kernels. */

/**
 * Base of every typed error of @samrank/backend. `name` is the concrete class's (`BackendUnavailableError`,
 * `KernelArgumentError`, ...), so messages and stack traces name the problem.
 */
export class BackendError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An explicitly requested backend cannot be used; `packageName` says what it needs. The message ends with what to
 * install unless `installed` says the packages are there and something else is missing (e.g. a GPU adapter).
 */
export class BackendUnavailableError extends BackendError {
  constructor(
    readonly backend: string,
    readonly packageName: string,
    readonly reason: string,
    readonly installed = false,
  ) {
    super(`backend '${backend}' is unavailable: ${reason}${installed ? '' : ` (install ${packageName})`}`);
  }
}

/** `setupBackend` received an option it does not understand (unknown backend name, bad thread count). */
export class BackendOptionError extends BackendError {}

/** Gradients are not registered and `@tensorflow/tfjs-layers` (whose import registers them) cannot be loaded. */
export class GradientsUnavailableError extends BackendError {}

/**
 * Multi-threaded wasm relies on private names inside the 4.22.0 `@tensorflow/tfjs-backend-wasm` bundle; this
 * error says which assumption failed (different version, changed bundle, thread pool not created).
 */
export class ThreadedWasmError extends BackendError {}

/**
 * A replacement kernel or gradient got arguments it does not handle (dtype, data format, shapes), or its helper
 * thread failed.
 */
export class KernelArgumentError extends BackendError {}

/**
 * A synchronous read (`dataSync`, `arraySync`) of a tensor that lives on the GPU, on a backend that cannot read
 * synchronously in Node (webgpu): read with `await tensor.data()` instead.
 */
export class SyncReadUnavailableError extends BackendError {}
