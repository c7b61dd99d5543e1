import {
  DataLengthError,
  describeValue,
  EmptyMatrixError,
  NonFiniteValueError,
  NotAMatrixError,
  RaggedRowsError,
  TensorInputError,
} from './errors.js';

/** A row-major dense matrix: `data[r * cols + c]`; rows are examples, columns are features. */
export interface DenseMatrix {
  /** Row-major values, `rows · cols` of them (not copied). */
  readonly data: Float32Array | Float64Array;
  /** Number of rows (examples). */
  readonly rows: number;
  /** Number of columns (features). */
  readonly cols: number;
}

/** Everything the public functions accept as a matrix: nested arrays (one array per example) or a dense buffer. */
export type MatrixInput = readonly (readonly number[])[] | DenseMatrix;

function isDense(m: MatrixInput): m is DenseMatrix {
  return !Array.isArray(m);
}

/**
 * Rejects what TypeScript cannot stop JavaScript callers from passing: null, scalars, bare typed arrays,
 * and tfjs tensors (whose `shape`/`dataSync` would otherwise surface as a misleading length error).
 */
function checkMatrixLike(input: unknown, what: string): void {
  if (Array.isArray(input)) {
    const bad = input.findIndex((row) => !Array.isArray(row) && !ArrayBuffer.isView(row));
    if (bad >= 0) {
      throw new NotAMatrixError(what, `an array whose row ${bad} is ${describeValue(input[bad])}`);
    }
    return;
  }
  if (input === null || typeof input !== 'object') throw new NotAMatrixError(what, describeValue(input));
  const o = input as Record<string, unknown>;
  if (typeof o['dataSync'] === 'function' && Array.isArray(o['shape'])) {
    throw new TensorInputError(what, o['shape'] as number[]);
  }
  if (ArrayBuffer.isView(input)) {
    throw new NotAMatrixError(what, `${describeValue(input)} without rows and cols`, 'pass { data, rows, cols } (row-major)');
  }
  if (!('data' in o) || !('rows' in o) || !('cols' in o)) {
    const missing = ['data', 'rows', 'cols'].filter((k) => !(k in o));
    throw new NotAMatrixError(what, `${describeValue(input)} without ${missing.join(', ')}`);
  }
  if (!ArrayBuffer.isView(o['data']) && !Array.isArray(o['data'])) {
    throw new NotAMatrixError(
      what,
      `{ data, rows, cols } whose data is ${describeValue(o['data'])}`,
      'data must be a Float32Array or Float64Array',
    );
  }
}

/** Throws {@link NonFiniteValueError} naming the first NaN/Inf of `data` (row-major, `cols` wide). */
export function assertFinite(data: ArrayLike<number>, cols: number, what: string, rowOffset = 0): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // v - v is 0 for finite numbers and NaN for NaN/±Inf: one compare per element.
    if (v - v !== 0) throw new NonFiniteValueError(what, rowOffset + Math.floor(i / cols), i % cols, v);
  }
}

/**
 * Validates a matrix and returns it as a dense row-major buffer. Typed inputs are used as they are (no copy);
 * nested arrays are copied into a Float64Array.
 */
export function toDense(input: MatrixInput, what = 'matrix', options: { checkFinite?: boolean; rowOffset?: number } = {}): DenseMatrix {
  const rowOffset = options.rowOffset ?? 0;
  checkMatrixLike(input, what);
  if (isDense(input)) {
    const { data, rows, cols } = input;
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0 || data.length !== rows * cols) {
      throw new DataLengthError(what, rows, cols, data.length);
    }
    if (rows === 0 || cols === 0) throw new EmptyMatrixError(what, rows, cols);
    if (options.checkFinite ?? true) assertFinite(data, cols, what, rowOffset);
    return { data, rows, cols };
  }
  const rows = input.length;
  const cols = rows > 0 ? input[0]!.length : 0;
  if (rows === 0 || cols === 0) throw new EmptyMatrixError(what, rows, cols);
  const data = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = input[r]!;
    if (row.length !== cols) throw new RaggedRowsError(what, rowOffset + r, cols, row.length);
    for (let c = 0; c < cols; c++) {
      const v = row[c]!;
      if (typeof v !== 'number' || v - v !== 0) throw new NonFiniteValueError(what, rowOffset + r, c, v);
      data[r * cols + c] = v;
    }
  }
  return { data, rows, cols };
}
