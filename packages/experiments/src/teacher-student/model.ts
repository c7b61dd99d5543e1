/**
 * R independent two-layer students f_r(x) = Σ_j a_rj act(w_rj·x + b_rj) + c_r held as one tfjs variable
 * whose axis 0 indexes the run, so a whole ρ × seed sweep trains with one kernel launch per op.
 * That is what makes batch-1 SGD in tfjs affordable: the per-op overhead, not the arithmetic, dominates.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRng, activationValue, type TwoLayerActivation as TeacherActivation, type TwoLayerParams } from '@samrank/core';

/** Shape of the batched student. */
export interface StudentShape {
  runs: number;
  width: number;
  inputDim: number;
  /** Hidden and output biases (the paper's runs have them; the trajectory fixtures do not). */
  biases: boolean;
  activation: TeacherActivation;
}

/**
 * The batched student: ONE variable `theta` [R, P] whose row r holds run r's parameters flattened as
 * W (m·d, row-major), b (m), a (m), c (1) — b and c only with biases. One variable rather than four makes
 * every per-variable op of SAM and SGD (clone, norm, perturb, restore, update) one kernel instead of four.
 */
export interface BatchedStudent extends StudentShape {
  theta: tf.Variable<tf.Rank.R2>;
  /** Parameters per run: m·d + 2m + 1 with biases, m·d + m without. */
  paramsPerRun: number;
  /** All trainable variables: `[theta]`. */
  variables: tf.Variable[];
}

let studentCounter = 0;

/** Offsets of W, b, a, c inside one run's row of `theta` (b and c are -1 without biases). */
export function studentLayout(width: number, inputDim: number, biases: boolean): { W: number; b: number; a: number; c: number; size: number } {
  const wSize = width * inputDim;
  return biases
    ? { W: 0, b: wSize, a: wSize + width, c: wSize + 2 * width, size: wSize + 2 * width + 1 }
    : { W: 0, b: -1, a: wSize, c: -1, size: wSize + width };
}

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
  const id = studentCounter++;
  const paramsPerRun = studentLayout(shape.width, shape.inputDim, shape.biases).size;
  const theta = tf.variable(tf.tensor2d(packParams(shape, params), [runs, paramsPerRun]), true, `ts${id}/theta`);
  return { ...shape, runs, theta, paramsPerRun, variables: [theta] };
}

function packParams(shape: Omit<StudentShape, 'runs'>, params: TwoLayerParams[]): Float32Array {
  const L = studentLayout(shape.width, shape.inputDim, shape.biases);
  const out = new Float32Array(params.length * L.size);
  params.forEach((p, r) => {
    const o = r * L.size;
    out.set(p.W, o + L.W);
    out.set(p.a, o + L.a);
    if (shape.biases) {
      out.set(p.b, o + L.b);
      out[o + L.c] = p.c;
    }
  });
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
  const { runs, width, inputDim } = student;
  const L = studentLayout(width, inputDim, student.biases);
  const theta = student.theta;
  const W = tf.reshape(tf.slice(theta, [0, L.W], [runs, width * inputDim]), [runs, width, inputDim]);
  const a = tf.slice(theta, [0, L.a], [runs, width]);
  const xe = tf.reshape(x, [runs, 1, inputDim]);
  let h: tf.Tensor = tf.sum(tf.mul(W, xe), 2);
  if (student.biases) h = tf.add(h, tf.slice(theta, [0, L.b], [runs, width]));
  let f: tf.Tensor = tf.sum(tf.mul(a, applyActivation(student.activation, h)), 1);
  if (student.biases) f = tf.add(f, tf.reshape(tf.slice(theta, [0, L.c], [runs, 1]), [runs]));
  return tf.sum(tf.square(tf.sub(f, y)));
}

/**
 * Σ_r (f_r(x_r) − y_r)² and its gradient with respect to `theta` (row-major [R, P], the layout of
 * {@link BatchedStudent}), as plain loops over (runs × m × d). Sums run in float64; the gradient is rounded
 * to float32 once. Derivatives at a kink follow tfjs: relu'(0) = 0, abs'(0) = −1.
 * `x` is [R · d] row-major and `y` [R], one example per run.
 */
export function studentLossAndGradient(
  shape: StudentShape,
  theta: Float32Array,
  x: Float32Array,
  y: Float32Array,
): { loss: number; grad: Float32Array } {
  const { runs, width, inputDim, activation } = shape;
  const L = studentLayout(width, inputDim, shape.biases);
  const P = L.size;
  if (theta.length !== runs * P) throw new RangeError(`theta has ${theta.length} values, expected ${runs} × ${P}`);
  if (x.length !== runs * inputDim || y.length !== runs) {
    throw new RangeError(`x has ${x.length} values and y ${y.length}, expected ${runs * inputDim} and ${runs}`);
  }
  const act = new Float64Array(width);
  const slope = new Float64Array(width);
  const grad = new Float32Array(runs * P);
  let loss = 0;
  for (let r = 0; r < runs; r++) {
    const o = r * P;
    const xo = r * inputDim;
    let f = L.c >= 0 ? theta[o + L.c]! : 0;
    for (let j = 0; j < width; j++) {
      let h = L.b >= 0 ? theta[o + L.b + j]! : 0;
      for (let k = 0; k < inputDim; k++) h += theta[o + L.W + j * inputDim + k]! * x[xo + k]!;
      let v: number;
      let s: number;
      if (activation === 'relu') {
        v = h > 0 ? h : 0;
        s = h > 0 ? 1 : 0;
      } else if (activation === 'abs') {
        v = Math.abs(h);
        s = h > 0 ? 1 : -1;
      } else {
        v = Math.tanh(h);
        s = 1 - v * v;
      }
      act[j] = v;
      slope[j] = s;
      f += theta[o + L.a + j]! * v;
    }
    const err = f - y[r]!;
    loss += err * err;
    const e = 2 * err;
    if (L.c >= 0) grad[o + L.c] = e;
    for (let j = 0; j < width; j++) {
      grad[o + L.a + j] = e * act[j]!;
      const gh = e * theta[o + L.a + j]! * slope[j]!;
      if (L.b >= 0) grad[o + L.b + j] = gh;
      for (let k = 0; k < inputDim; k++) grad[o + L.W + j * inputDim + k] = gh * x[xo + k]!;
    }
  }
  return { loss, grad };
}

/**
 * The loss of {@link batchedSquaredLoss} as ONE custom op over `theta` whose forward and backward are
 * {@link studentLossAndGradient}: a batched SAM step then launches a handful of kernels for the model instead
 * of ~50 (per-kernel dispatch, not arithmetic, is what a batch-1 step costs). First-order only: its gradient
 * is not itself differentiable, so the exact gradient-norm regularizer (double backprop) must use
 * {@link batchedSquaredLoss}. `x` [R · d] row-major and `y` [R] are plain arrays: they are data, not variables.
 */
export function fusedSquaredLoss(student: BatchedStudent, x: Float32Array, y: Float32Array): tf.Scalar {
  const { runs, paramsPerRun } = student;
  const op = tf.customGrad<tf.Scalar>((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const { loss, grad } = studentLossAndGradient(student, (args[0] as tf.Tensor).dataSync() as Float32Array, x, y);
    const gradFunc = (dy: tf.Tensor): tf.Tensor => {
      const scale = dy.dataSync()[0]!;
      if (scale !== 1) for (let i = 0; i < grad.length; i++) grad[i] = scale * grad[i]!;
      return tf.tensor2d(grad, [runs, paramsPerRun]);
    };
    return { value: tf.scalar(loss), gradFunc };
  });
  return op(student.theta);
}

/**
 * One plain SGD step θ ← θ − lr·∇ on one example per run, with one upload and no kernel. Rounds exactly as
 * tf.train.sgd on {@link fusedSquaredLoss} does (float32 −lr·g, then float32 add), so the two are
 * interchangeable; it exists because after the SAM window a step is otherwise mostly dispatch overhead.
 */
export function plainSgdStep(student: BatchedStudent, x: Float32Array, y: Float32Array, learningRate: number): void {
  const theta = student.theta.dataSync() as Float32Array;
  const { grad } = studentLossAndGradient(student, theta, x, y);
  const c = Math.fround(-learningRate);
  const next = new Float32Array(theta.length);
  for (let i = 0; i < next.length; i++) next[i] = theta[i]! + Math.fround(c * grad[i]!);
  tf.tidy(() => student.theta.assign(tf.tensor2d(next, [student.runs, student.paramsPerRun])));
}

/** Copies the variables back to float64 per-run parameters (exact: float32 → float64). */
export function readStudentParams(student: BatchedStudent): TwoLayerParams[] {
  const { runs, width, inputDim } = student;
  const L = studentLayout(width, inputDim, student.biases);
  const theta = student.theta.dataSync();
  return Array.from({ length: runs }, (_, r) => {
    const o = r * L.size;
    return {
      W: Float64Array.from(theta.subarray(o + L.W, o + L.W + width * inputDim)),
      b: L.b >= 0 ? Float64Array.from(theta.subarray(o + L.b, o + L.b + width)) : new Float64Array(width),
      a: Float64Array.from(theta.subarray(o + L.a, o + L.a + width)),
      c: L.c >= 0 ? theta[o + L.c]! : 0,
    };
  });
}

/** Overwrites every run's parameters (used by resume and to park a diverged run). */
export function writeStudentParams(student: BatchedStudent, params: TwoLayerParams[]): void {
  tf.tidy(() => {
    student.theta.assign(tf.tensor2d(packParams(student, params), [student.runs, student.paramsPerRun]));
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
      phi[i * width + j] = activationValue(activation, h);
    }
  }
  return phi;
}
