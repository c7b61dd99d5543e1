/**
 * Typed errors of @samrank/models. Each names the problem in its class so callers can tell a bad model
 * configuration from a bad input tensor or a checkpoint that does not fit the model.
 */

/**
 * Base of every typed error of @samrank/models (the backend's errors are @samrank/backend's `BackendError`s).
 * `name` is the concrete class's (`ModelConfigError`, `InputShapeError`, ...), so messages and stack traces name
 * the problem.
 */
export class ModelsError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A model was configured with an unsupported or inconsistent option (width, classes, image size, ...). */
export class ModelConfigError extends ModelsError {}

/** An input tensor has the wrong rank, size or channel count for the model. */
export class InputShapeError extends ModelsError {}

/** A parameter or BatchNorm-state record is missing an entry, has an extra one, or one of the wrong shape. */
export class ParamsMismatchError extends ModelsError {}

/**
 * A gradient of a gradient was taken through an op whose gradient is hand-written (the fused BatchNorm), which
 * would silently come out wrong. Build the model with `doubleBackprop: true`.
 */
export class SecondOrderGradientError extends ModelsError {}

/** A checkpoint could not be read: wrong format tag, bad base64 payload, or values that are not finite. */
export class CheckpointFormatError extends ModelsError {}
