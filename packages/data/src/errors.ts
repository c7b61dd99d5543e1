/**
 * Typed errors for data-set problems. Each names what went wrong so a CLI can print it as is and a
 * caller can branch on the class (e.g. offer `--download` only for {@link DatasetNotFoundError}).
 */

/** The data set's files are not where we looked. The message lists the paths tried and the `--download` hint. */
export class DatasetNotFoundError extends Error {
  override name = 'DatasetNotFoundError';
  constructor(
    readonly dataset: string,
    readonly searched: readonly string[],
    hint?: string,
  ) {
    super(
      `${dataset} not found (looked in: ${searched.join(', ')}). ` +
        (hint ?? `Run with --download to fetch it, or pass --data-dir pointing at an unpacked copy.`),
    );
  }
}

/** A file exists but has the wrong size, header, image shape or label values. */
export class DatasetFormatError extends Error {
  override name = 'DatasetFormatError';
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** A download failed (HTTP status, connection closed early, ...). Partial bytes are kept for resuming. */
export class DownloadError extends Error {
  override name = 'DownloadError';
  constructor(
    readonly url: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`download of ${url} failed: ${problem}`, options);
  }
}

/** The downloaded or given archive does not have the expected MD5; it has been deleted. */
export class ChecksumMismatchError extends Error {
  override name = 'ChecksumMismatchError';
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${file}: MD5 ${actual} does not match the expected ${expected} (corrupt or wrong file; it was removed)`);
  }
}
