/**
 * Typed errors of `@samrank/optim`. Every error a caller can trigger with bad input is one of these
 * classes, so code can branch on `instanceof` instead of parsing messages.
 */

/** Base class of every error thrown by `@samrank/optim`. */
export class OptimError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** ρ (SAM radius) is negative, NaN or infinite, either as an option, from `setRho`, or from a schedule. */
export class InvalidRhoError extends OptimError {
  /** The offending value. */
  readonly value: number;
  constructor(value: number, where: string) {
    super(`rho must be a finite number >= 0, got ${value} (${where})`);
    this.value = value;
  }
}

/** λ (gradient-norm penalty weight) is negative, NaN or infinite. */
export class InvalidLambdaError extends OptimError {
  /** The offending value. */
  readonly value: number;
  constructor(value: number, where: string) {
    super(`lambda must be a finite number >= 0, got ${value} (${where})`);
    this.value = value;
  }
}

/** An option other than ρ/λ is out of range or of the wrong type (the message names the option). */
export class InvalidOptionError extends OptimError {
  /** Name of the offending option. */
  readonly option: string;
  constructor(option: string, message: string) {
    super(`invalid option '${option}': ${message}`);
    this.option = option;
  }
}

/**
 * Independent-runs mode (`runs: R`) got inconsistent sizes: a per-run ρ/λ array whose length is not R,
 * or a variable whose axis 0 is not R.
 */
export class RunsMismatchError extends OptimError {
  constructor(message: string) {
    super(message);
  }
}

/** The variable list to optimize is empty (or holds no trainable variable). */
export class EmptyVariableListError extends OptimError {
  constructor(detail = 'no trainable variables to optimize') {
    super(`empty variable list: ${detail}`);
  }
}

/** The loss closure returned a tensor that is not a scalar. */
export class NonScalarLossError extends OptimError {
  /** Shape of the tensor the closure returned (null when it returned no tensor at all). */
  readonly shape: number[] | null;
  constructor(shape: number[] | null) {
    super(
      (shape == null
        ? 'the loss closure must return a scalar (rank 0) tensor, got a non-tensor value'
        : `the loss closure must return a scalar (rank 0) tensor, got shape [${shape.join(', ')}]`) +
        '; reduce it (e.g. tf.mean or, with runs, tf.sum of the per-run losses) before returning it',
    );
    this.shape = shape;
  }
}

/**
 * A gradient (or the loss) contained NaN or ±Infinity. Thrown before the base optimizer runs, so the
 * weights are exactly what they were before the step.
 */
export class NonFiniteGradientError extends OptimError {
  /** Name of the first variable whose gradient is not finite (null when only the loss is). */
  readonly variableName: string | null;
  constructor(variableName: string | null, detail: string) {
    super(
      variableName == null
        ? `non-finite value: ${detail}; weights left unchanged`
        : `non-finite gradient for variable '${variableName}': ${detail}; weights left unchanged`,
    );
    this.variableName = variableName;
  }
}

/** A schedule was built with bad parameters or returned a value that is not a finite number >= 0. */
export class InvalidScheduleError extends OptimError {
  constructor(message: string) {
    super(message);
  }
}

/** `fromConfig` / `setWeights` got data it cannot interpret (unknown base optimizer class, unknown slot). */
export class InvalidStateError extends OptimError {
  constructor(message: string) {
    super(message);
  }
}

/**
 * `GradientNormRegularizer` in exact mode needs the double-backprop gradient registrations of `@samrank/backend`
 * (this package depends on tfjs-core alone and cannot install them): they were never registered, or a stock
 * gradient was registered over one of them since. Thrown at the step, before any weight changes.
 */
export class DoubleBackpropGradientsError extends OptimError {
  /** Kernels whose registered gradient is not the double-backprop one (all of them when never registered). */
  readonly kernels: readonly string[];
  constructor(message: string, kernels: readonly string[]) {
    super(message);
    this.kernels = kernels;
  }
}
