/** Typed errors of the experiments package; the CLI maps {@link ExperimentConfigError} to exit code 2. */

/** A setting is out of range or unknown (bad flag value, empty grid, unknown experiment). */
export class ExperimentConfigError extends Error {
  override name = 'ExperimentConfigError';
}

/** `--resume` found no checkpoint, or one written by a different configuration. */
export class ResumeError extends Error {
  override name = 'ResumeError';
}

/** A backend name is unknown or the backend failed to initialize. */
export class BackendSelectionError extends Error {
  override name = 'BackendSelectionError';
}
