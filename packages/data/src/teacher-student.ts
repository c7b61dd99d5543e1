/**
 * The teacher-student regression data of the paper's Section 4 (docs/paper-notes.md §9.1): inputs on the unit sphere in
 * R^d, labels from a small two-layer "teacher" network with the student's activation. Pure JS, float64,
 * seeded through `createRng`, so one seed gives the same data on every backend.
 */
import { createRng, type Rng, TWO_LAYER_ACTIVATIONS, type TwoLayerActivation, type TwoLayerParams, twoLayerForward } from '@samrank/core';

/** Options of {@link makeTeacherStudentData}; every field except `seed` has the paper's value as default. */
export interface TeacherStudentOptions {
  /** Seed of the whole draw (inputs and teacher). */
  seed: number;
  /** Teacher activation (the paper uses the student's). Default 'relu'. */
  activation?: TwoLayerActivation;
  /** Training points. Default 20. */
  nTrain?: number;
  /** Test points. Default 1000. */
  nTest?: number;
  /** Input dimension. Default 3. */
  inputDim?: number;
  /** Teacher hidden units. Default 3. */
  teacherWidth?: number;
  /** Teacher biases (hidden and output), N(0, 1). Default true, as in every run of the paper. */
  biases?: boolean;
  /**
   * Label-scale rule (docs/paper-notes.md §9.1, §9.5: some draws give |y| up to ~8 and SGD with lr 0.1 then diverges). The whole
   * draw (inputs and teacher) is repeated from the same stream until max |y| over train and test is at
   * most this value. Default 2; `Infinity` accepts the first draw.
   */
  maxAbsLabel?: number;
  /** Give up after this many draws. Default 1000. */
  maxAttempts?: number;
}

/** One teacher-student data set. Inputs are row-major [n, inputDim]. */
export interface TeacherStudentData {
  seed: number;
  activation: TwoLayerActivation;
  inputDim: number;
  nTrain: number;
  nTest: number;
  xTrain: Float64Array;
  yTrain: Float64Array;
  xTest: Float64Array;
  yTest: Float64Array;
  teacher: TwoLayerParams & { width: number };
  /** How many draws the label-scale rule needed (1 = the first draw was kept). */
  attempts: number;
}

/** Thrown for an option that is not a valid size, seed, activation or label bound. */
export class InvalidTeacherStudentOptionError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTeacherStudentOptionError';
  }
}

/** Thrown when no draw within `maxAttempts` satisfies the label-scale rule. */
export class TeacherLabelScaleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TeacherLabelScaleError';
  }
}

/** n Gaussian points normalized to the unit sphere, row-major [n, d]. */
export function unitSpherePoints(rng: Rng, n: number, d: number): Float64Array {
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let norm2 = 0;
    // A zero draw has no direction; it has probability 0 but would divide by zero, so redraw it.
    while (norm2 === 0) {
      for (let k = 0; k < d; k++) {
        const v = rng.normal();
        x[i * d + k] = v;
        norm2 += v * v;
      }
    }
    const inv = 1 / Math.sqrt(norm2);
    for (let k = 0; k < d; k++) x[i * d + k]! *= inv;
  }
  return x;
}

function drawTeacher(rng: Rng, width: number, d: number, biases: boolean): TwoLayerParams {
  const W = new Float64Array(width * d);
  for (let j = 0; j < width; j++) {
    let norm2 = 0;
    while (norm2 === 0) {
      norm2 = 0;
      for (let k = 0; k < d; k++) {
        const v = rng.normal();
        W[j * d + k] = v;
        norm2 += v * v;
      }
    }
    const inv = 1 / Math.sqrt(norm2);
    for (let k = 0; k < d; k++) W[j * d + k]! *= inv;
  }
  const b = new Float64Array(width);
  const a = new Float64Array(width);
  for (let j = 0; j < width; j++) b[j] = biases ? rng.normal() : 0;
  // The paper keeps only the sign of N(0, 1) output weights; a draw of exactly 0 counts as +1.
  for (let j = 0; j < width; j++) a[j] = rng.normal() < 0 ? -1 : 1;
  const c = biases ? rng.normal() : 0;
  return { W, b, a, c };
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidTeacherStudentOptionError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function maxAbs(values: Float64Array): number {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

/**
 * Draws the teacher-student data set of docs/paper-notes.md §9.1 for one seed: x ~ N(0, I_d) projected to the unit
 * sphere (train, then test), a teacher with unit-norm rows, ±1 output weights and N(0, 1) biases, and
 * noise-free labels. Draws are repeated from the same stream until max |y| ≤ `maxAbsLabel`.
 */
export function makeTeacherStudentData(options: TeacherStudentOptions): TeacherStudentData {
  const { seed } = options;
  if (!Number.isInteger(seed)) throw new InvalidTeacherStudentOptionError(`seed must be an integer, got ${seed}`);
  const activation = options.activation ?? 'relu';
  if (!TWO_LAYER_ACTIVATIONS.includes(activation)) {
    throw new InvalidTeacherStudentOptionError(`activation must be one of ${TWO_LAYER_ACTIVATIONS.join(', ')}, got ${String(activation)}`);
  }
  const nTrain = positiveInt('nTrain', options.nTrain ?? 20);
  const nTest = positiveInt('nTest', options.nTest ?? 1000);
  const d = positiveInt('inputDim', options.inputDim ?? 3);
  const width = positiveInt('teacherWidth', options.teacherWidth ?? 3);
  const maxAttempts = positiveInt('maxAttempts', options.maxAttempts ?? 1000);
  const biases = options.biases ?? true;
  const bound = options.maxAbsLabel ?? 2;
  if (!(bound > 0)) {
    throw new InvalidTeacherStudentOptionError(`maxAbsLabel must be a positive number, got ${bound}`);
  }

  const rng = createRng(seed).fork('teacher-student-data');
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const xTrain = unitSpherePoints(rng, nTrain, d);
    const xTest = unitSpherePoints(rng, nTest, d);
    const teacher = drawTeacher(rng, width, d, biases);
    const yTrain = twoLayerForward(teacher, activation, xTrain, d);
    const yTest = twoLayerForward(teacher, activation, xTest, d);
    if (Math.max(maxAbs(yTrain), maxAbs(yTest)) <= bound) {
      return {
        seed,
        activation,
        inputDim: d,
        nTrain,
        nTest,
        xTrain,
        yTrain,
        xTest,
        yTest,
        teacher: { ...teacher, width },
        attempts: attempt,
      };
    }
  }
  throw new TeacherLabelScaleError(`no teacher draw for seed ${seed} had max |y| <= ${bound} within ${maxAttempts} attempts`);
}
