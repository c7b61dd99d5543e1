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
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`download of ${url} failed: ${problem}`, options);
  }
}

/**
 * A damaged compressed file: the gzip CRC-32 or length (ISIZE) trailer does not match the inflated data,
 * the stream ends early, or the deflate data cannot be decoded. `check` says which test failed.
 */
export class CorruptFileError extends DatasetFormatError {
  override name = 'CorruptFileError';
  constructor(
    file: string,
    readonly check: 'crc32' | 'length' | 'truncated' | 'header' | 'deflate',
    problem: string,
  ) {
    super(file, problem);
  }
}

/** Options of {@link ChecksumMismatchError}. */
export interface ChecksumMismatchOptions {
  /** What the digests are ('MD5' by default; '' when `expected`/`actual` name their algorithms themselves). */
  algorithm?: string;
  /** What happened to the file and what to do (default: "corrupt or wrong file"). */
  note?: string;
  /** Where a mismatching file the caller placed was moved (it is never deleted). */
  movedTo?: string;
}

/** A file does not have the digest it must have. The message names the file, both digests, and where the file is now. */
export class ChecksumMismatchError extends Error {
  override name = 'ChecksumMismatchError';
  readonly movedTo: string | undefined;
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
    options: ChecksumMismatchOptions = {},
  ) {
    const algorithm = options.algorithm ?? 'MD5';
    super(
      `${file}: ${algorithm ? `${algorithm} ` : ''}${actual} does not match the expected ${expected} (${options.note ?? 'corrupt or wrong file'})`,
    );
    this.movedTo = options.movedTo;
  }
}
