/**
 * Typed errors for bad input. Every class extends {@link RankInputError}, so callers can catch the family
 * or one problem; each message names the problem and where it is.
 */

/** Base class of every input error thrown by `@samrank/rank`. */
export class RankInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A NaN or ±Infinity entry; `row` and `column` locate the first one found (row-major scan). */
export class NonFiniteValueError extends RankInputError {
  constructor(
    readonly what: string,
    readonly row: number,
    readonly column: number,
    readonly value: number,
  ) {
    super(`${what} has a non-finite value ${String(value)} at row ${row}, column ${column}`);
  }
}

/** Rows of a `number[][]` matrix (or of a stream's batches) do not all have the same length. */
export class RaggedRowsError extends RankInputError {
  constructor(
    readonly what: string,
    readonly row: number,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`${what} is ragged: row ${row} has ${actual} columns, expected ${expected}`);
  }
}

/** A matrix with zero rows or zero columns. */
export class EmptyMatrixError extends RankInputError {
  constructor(
    readonly what: string,
    readonly rows: number,
    readonly cols: number,
  ) {
    super(`${what} is empty: ${rows} rows × ${cols} columns (need at least one of each)`);
  }
}

/** `{ data, rows, cols }` whose data length is not rows·cols, or whose rows/cols are not whole numbers. */
export class DataLengthError extends RankInputError {
  constructor(
    readonly what: string,
    readonly rows: number,
    readonly cols: number,
    readonly length: number,
  ) {
    super(`${what} has data length ${length}, but rows·cols = ${rows}·${cols} = ${rows * cols}`);
  }
}

/** A variance threshold outside (0, 1]. */
export class ThresholdRangeError extends RankInputError {
  constructor(readonly threshold: number) {
    super(`threshold must be in (0, 1], got ${String(threshold)}`);
  }
}

/** Two inputs that must agree in shape do not (batch width, label count, train/test feature width). */
export class ShapeMismatchError extends RankInputError {}

/** An option with a value outside its allowed set or range (k of k-NN, centering name, …). */
export class InvalidOptionError extends RankInputError {}
