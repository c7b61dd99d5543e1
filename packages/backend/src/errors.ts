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

/** An explicitly requested backend cannot be used; `packageName` says what to install. */
export class BackendUnavailableError extends BackendError {
  constructor(
    readonly backend: string,
    readonly packageName: string,
    readonly reason: string,
  ) {
    super(`backend '${backend}' is unavailable: ${reason} (install ${packageName})`);
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
