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
    super(dataLengthMessage(what, rows, cols, length));
  }
}

function isDimension(n: unknown): boolean {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}

function dataLengthMessage(what: string, rows: number, cols: number, length: number): string {
  // "rows·cols = -2·3 = -6" reads as a length problem; a bad dimension is the caller's real mistake.
  const bad = [
    ['rows', rows],
    ['cols', cols],
  ].filter(([, v]) => !isDimension(v));
  if (bad.length > 0) {
    const list = bad.map(([k, v]) => `${String(k)} = ${describeValue(v)}`).join(' and ');
    const kinds = bad.map(([, v]) => (typeof v === 'number' && v < 0 ? 'negative' : 'not a whole number'));
    return `${what} has ${list}: ${[...new Set(kinds)].join(' and ')} (rows and cols must be non-negative integers; data length is ${length})`;
  }
  return `${what} has data length ${length}, but rows·cols = ${rows}·${cols} = ${rows * cols}`;
}

/** Short description of an arbitrary value for error messages: type plus a glimpse of the value. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'bigint') return `the bigint ${value}n`;
  if (typeof value !== 'object') return `a ${typeof value}`;
  if (ArrayBuffer.isView(value))
    return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<number>).length ?? value.byteLength}`;
  const ctor = (value as object).constructor?.name;
  return ctor && ctor !== 'Object' ? `a ${ctor} object` : 'an object';
}

/** Something that is neither `number[][]` nor `{ data, rows, cols }` (null, a number, a bare typed array, …). */
export class NotAMatrixError extends RankInputError {
  constructor(
    readonly what: string,
    readonly received: string,
    hint = 'pass number[][] (one array per example) or { data: Float32Array | Float64Array, rows, cols }',
  ) {
    super(`${what} must be a matrix, got ${received}: ${hint}`);
  }
}

/** A TensorFlow.js tensor given to a plain-array function; the tfjs adapter takes tensors. */
export class TensorInputError extends NotAMatrixError {
  constructor(
    what: string,
    readonly shape: readonly number[] | undefined,
  ) {
    super(
      what,
      `a TensorFlow.js tensor${shape ? ` of shape [${shape.join(', ')}]` : ''}`,
      "use featureRankTf / spectrumTf from '@samrank/rank/tfjs', or pass { data: tensor.dataSync(), rows, cols }",
    );
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
