/**
 * R independent two-layer students f_r(x) = Σ_j a_rj act(w_rj·x + b_rj) + c_r held as one set of tfjs
 * variables whose axis 0 indexes the run, so a whole ρ × seed sweep trains with one kernel launch per op.
 * That is what makes batch-1 SGD in tfjs affordable: the per-op overhead, not the arithmetic, dominates.
 */
import * as tf from '@tensorflow/tfjs-core';
import { scalarActivation, createRng, type TeacherActivation, type TwoLayerParams } from '@samrank/data';

/** Shape of the batched student. */
export interface StudentShape {
  runs: number;
  width: number;
  inputDim: number;
  /** Hidden and output biases (the paper's runs have them; the trajectory fixtures do not). */
  biases: boolean;
  activation: TeacherActivation;
}

/** The batched student: W [R, m, d], b [R, m], a [R, m], c [R] (b and c only with biases). */
export interface BatchedStudent extends StudentShape {
  W: tf.Variable<tf.Rank.R3>;
  a: tf.Variable<tf.Rank.R2>;
  b?: tf.Variable<tf.Rank.R2>;
  c?: tf.Variable<tf.Rank.R1>;
  /** All trainable variables, in the order W, b, a, c. */
  variables: tf.Variable[];
}

let studentCounter = 0;

/** Draws one student's init: every entry of W, b, a, c i.i.d. N(0, std²), in that order. */
export function initStudentParams(seed: number, width: number, inputDim: number, std: number, biases: boolean): TwoLayerParams {
  const rng = createRng(seed).fork('student-init');
  const W = new Float64Array(width * inputDim).map(() => std * rng.normal());
  const b = new Float64Array(width).map(() => (biases ? std * rng.normal() : 0));
  const a = new Float64Array(width).map(() => std * rng.normal());
  const c = biases ? std * rng.normal() : 0;
  return { W, b, a, c };
}

/** Creates the batched student with run r initialised from `params[r]`. */
export function createBatchedStudent(shape: Omit<StudentShape, 'runs'>, params: TwoLayerParams[]): BatchedStudent {
  const runs = params.length;
  const { width, inputDim, biases } = shape;
  const id = studentCounter++;
  const W = tf.variable(tf.tensor3d(packW(params, width, inputDim), [runs, width, inputDim]), true, `ts${id}/W`);
  const a = tf.variable(tf.tensor2d(packRows(params.map((p) => p.a), width), [runs, width]), true, `ts${id}/a`);
  const student: BatchedStudent = { ...shape, runs, W, a, variables: [] };
  if (biases) {
    student.b = tf.variable(tf.tensor2d(packRows(params.map((p) => p.b), width), [runs, width]), true, `ts${id}/b`);
    student.c = tf.variable(tf.tensor1d(params.map((p) => p.c)), true, `ts${id}/c`);
  }
  student.variables = [W, ...(student.b ? [student.b] : []), a, ...(student.c ? [student.c] : [])];
  return student;
}

function packW(params: TwoLayerParams[], width: number, inputDim: number): Float32Array {
  const out = new Float32Array(params.length * width * inputDim);
  params.forEach((p, r) => out.set(p.W, r * width * inputDim));
  return out;
}

function packRows(rows: Float64Array[], width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((row, r) => out.set(row, r * width));
  return out;
}

function applyActivation(activation: TeacherActivation, h: tf.Tensor): tf.Tensor {
  switch (activation) {
    case 'relu':
      return tf.relu(h);
    case 'tanh':
      return tf.tanh(h);
    case 'abs':
      return tf.abs(h);
  }
}

/**
 * Σ_r (f_r(x_r) − y_r)²: one example per run (x [R, d], y [R]). The SUM over runs makes each run's gradient
 * its own loss's gradient, which is what a batched SAM with per-run norms expects.
 */
export function batchedSquaredLoss(student: BatchedStudent, x: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  const xe = tf.reshape(x, [student.runs, 1, student.inputDim]);
  let h: tf.Tensor = tf.sum(tf.mul(student.W, xe), 2);
  if (student.b) h = tf.add(h, student.b);
  let f: tf.Tensor = tf.sum(tf.mul(student.a, applyActivation(student.activation, h)), 1);
  if (student.c) f = tf.add(f, student.c);
  return tf.sum(tf.square(tf.sub(f, y)));
}

/** Copies the variables back to float64 per-run parameters (exact: float32 → float64). */
export function readStudentParams(student: BatchedStudent): TwoLayerParams[] {
  const { runs, width, inputDim } = student;
  const W = student.W.dataSync();
  const a = student.a.dataSync();
  const b = student.b?.dataSync();
  const c = student.c?.dataSync();
  return Array.from({ length: runs }, (_, r) => ({
    W: Float64Array.from(W.subarray(r * width * inputDim, (r + 1) * width * inputDim)),
    b: b ? Float64Array.from(b.subarray(r * width, (r + 1) * width)) : new Float64Array(width),
    a: Float64Array.from(a.subarray(r * width, (r + 1) * width)),
    c: c ? c[r]! : 0,
  }));
}

/** Overwrites every run's parameters (used by resume and to park a diverged run). */
export function writeStudentParams(student: BatchedStudent, params: TwoLayerParams[]): void {
  const { width, inputDim, runs } = student;
  tf.tidy(() => {
    student.W.assign(tf.tensor3d(packW(params, width, inputDim), [runs, width, inputDim]));
    student.a.assign(tf.tensor2d(packRows(params.map((p) => p.a), width), [runs, width]));
    student.b?.assign(tf.tensor2d(packRows(params.map((p) => p.b), width), [runs, width]));
    student.c?.assign(tf.tensor1d(params.map((p) => p.c)));
  });
}

/** Releases the variables. */
export function disposeStudent(student: BatchedStudent): void {
  for (const v of student.variables) v.dispose();
}

/** Hidden activations act(X Wᵀ + b) of one run on row-major inputs [n, d] → row-major [n, m] (float64). */
export function hiddenFeatures(params: TwoLayerParams, activation: TeacherActivation, x: Float64Array, inputDim: number): Float64Array {
  const width = params.a.length;
  const n = x.length / inputDim;
  const phi = new Float64Array(n * width);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < width; j++) {
      let h = params.b[j]!;
      for (let k = 0; k < inputDim; k++) h += params.W[j * inputDim + k]! * x[i * inputDim + k]!;
      phi[i * width + j] = scalarActivation(activation, h);
    }
  }
  return phi;
}
