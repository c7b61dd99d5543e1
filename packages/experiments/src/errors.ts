/**
 * Typed errors of @samrank/experiments. The CLI prints each as one line; {@link UsageError}s (bad flags,
 * configs, output folders, checkpoints) exit with code 2.
 */

/** Base of every typed error of this package; `name` is the concrete class's. */
export class ExperimentsError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Something the user can fix on the command line: the CLI exits with code 2. */
export class UsageError extends ExperimentsError {}

/** A setting is out of range or unknown (bad flag value, empty grid, unknown experiment). */
export class ExperimentConfigError extends UsageError {}

/** `--resume` found no checkpoint, a damaged one, or one written by another configuration or backend. */
export class ResumeError extends UsageError {}

/** A backend name is unknown or the backend failed to initialize. */
export class BackendSelectionError extends UsageError {}

/** `--out` cannot hold a run: a file, under /proc or /sys, not writable, no space, or already finished. */
export class OutputFolderError extends UsageError {}

/** Another live run holds the output folder. */
export class RunFolderLockedError extends UsageError {}

/** The sweep would need more memory than this machine has. */
export class ResourceLimitError extends UsageError {}

/** A job-queue command cannot go on: an unknown sweep, a folder of another sweep, a backend a queue cannot serve. */
export class QueueError extends UsageError {}

/** The job queue is out of reach: a malformed `--queue` URL, Redis unreachable, a missing or refused password. */
export class QueueConnectionError extends QueueError {}

/**
 * Thrown by a metric whose inputs turned out non-finite (NaN features, an overflowing loss): the runner then
 * marks the run diverged instead of failing the sweep.
 */
export class RunDivergedError extends ExperimentsError {}
