/**
 * The paper's two-layer network f(x) = Σ_j a_j·act(w_j·x + b_j) + c (paper §4, the teacher-student experiment),
 * as R independent copies ("runs") held in ONE parameter `theta` [R, P]: row r holds run r's W (m·d, row-major,
 * row j = unit j), b (m), a (m), c (1) — b and c only with biases. Axis 0 indexing the run lets a whole ρ × seed
 * sweep train with one kernel launch per op, and one variable rather than four makes every per-variable op of
 * SAM and SGD (clone, norm, perturb, restore, update) one kernel instead of four: at batch size 1 the per-op
 * overhead, not the arithmetic, is what a step costs.
 *
 * Each run sees one example per step: `apply` takes x [R, d] and returns f_r(x_r) as [R]. Besides the tfjs-op
 * forward pass (differentiable twice, what the exact gradient-norm regularizer needs) the model has a fused
 * loss whose forward and backward are plain float64 loops in one custom op, and a kernel-free SGD step.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  TWO_LAYER_ACTIVATIONS,
  type TwoLayerActivation,
  type TwoLayerParams,
  activationSlope,
  activationValue,
  createRng,
} from '@samrank/core';
import { InputShapeError, ModelConfigError, ParamsMismatchError } from './errors.js';
import { activate } from './activation.js';
import { type ApplyOptions, type Model, type ModelOutput, type ModelState, resolveTaps } from './model.js';
import type { BatchNormSpec, ParamSpec, ParamValues, Params } from './types.js';

/** Options of the two-layer net. */
export interface TwoLayerOptions {
  /** Input dimension d (3 in the paper). */
  inputDim: number;
  /** Hidden units m (100 in the paper). */
  hiddenUnits: number;
  /** Hidden activation (default relu). */
  activation?: TwoLayerActivation;
  /** Biases b (hidden) and c (output). The paper's runs have them (default true); the trajectory fixtures do not. */
  biases?: boolean;
  /** Std of the i.i.d. Gaussian init of every entry: default 0.3 for ReLU/abs, 1.0 for tanh (the paper's). */
  initStd?: number;
  /** Independent copies trained side by side, one example each per step (default 1). */
  runs?: number;
}

/** Fully resolved two-layer configuration. */
export type TwoLayerConfig = Required<TwoLayerOptions>;

/** Offsets of W, b, a, c inside one run's row of `theta` (b and c are −1 without biases) and the row length. */
export interface TwoLayerLayout {
  W: number;
  b: number;
  a: number;
  c: number;
  size: number;
}

/** Where W, b, a and c sit in a run's row of `theta`. */
export function twoLayerLayout(hiddenUnits: number, inputDim: number, biases: boolean): TwoLayerLayout {
  const wSize = hiddenUnits * inputDim;
  return biases
    ? { W: 0, b: wSize, a: wSize + hiddenUnits, c: wSize + 2 * hiddenUnits, size: wSize + 2 * hiddenUnits + 1 }
    : { W: 0, b: -1, a: wSize, c: -1, size: wSize + hiddenUnits };
}

/**
 * One run's seeded init: every entry of W, b, a, c i.i.d. N(0, initStd²), drawn in that order from
 * `createRng(seed).fork('student-init')` (b and c draw nothing without biases and stay 0).
 */
export function twoLayerInit(
  seed: number,
  config: Pick<TwoLayerConfig, 'hiddenUnits' | 'inputDim' | 'initStd' | 'biases'>,
): TwoLayerParams {
  const { hiddenUnits: width, inputDim, initStd: std, biases } = config;
  const rng = createRng(seed).fork('student-init');
  const W = new Float64Array(width * inputDim).map(() => std * rng.normal());
  const b = new Float64Array(width).map(() => (biases ? std * rng.normal() : 0));
  const a = new Float64Array(width).map(() => std * rng.normal());
  const c = biases ? std * rng.normal() : 0;
  return { W, b, a, c };
}

const positiveInt = (name: string, v: unknown): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new ModelConfigError(`${name} must be a positive integer, got ${String(v)}`);
  return v;
};

function resolveConfig(options: TwoLayerOptions): TwoLayerConfig {
  if (typeof options !== 'object' || options === null) {
    throw new ModelConfigError('the two-layer net needs options { inputDim, hiddenUnits, activation?, biases?, initStd?, runs? }');
  }
  const activation = options.activation ?? 'relu';
  if (!TWO_LAYER_ACTIVATIONS.includes(activation)) {
    throw new ModelConfigError(`activation must be one of ${TWO_LAYER_ACTIVATIONS.join(', ')}, got ${String(activation)}`);
  }
  const biases = options.biases ?? true;
  if (typeof biases !== 'boolean') throw new ModelConfigError(`biases must be true or false, got ${String(biases)}`);
  const initStd = options.initStd ?? (activation === 'tanh' ? 1.0 : 0.3);
  if (typeof initStd !== 'number' || !(initStd > 0) || !Number.isFinite(initStd)) {
    throw new ModelConfigError(`initStd must be a positive number, got ${String(initStd)}`);
  }
  return {
    inputDim: positiveInt('inputDim', options.inputDim),
    hiddenUnits: positiveInt('hiddenUnits', options.hiddenUnits),
    activation,
    biases,
    initStd,
    runs: positiveInt('runs', options.runs ?? 1),
  };
}

/**
 * The two-layer net as a {@link Model}: one parameter `theta` [runs, P], no state, one tap `hidden` (the hidden
 * activations act(w_j·x_r + b_j) of each run's example, [runs, m]). Create it with `twoLayer(options)` or
 * `createModel('two-layer', options)`.
 */
export class TwoLayerModel implements Model {
  readonly name = 'two-layer';
  readonly config: Readonly<TwoLayerConfig>;
  readonly paramSpecs: readonly ParamSpec[];
  readonly stateSpecs: readonly BatchNormSpec[] = Object.freeze([]);
  readonly tapNames: readonly string[] = Object.freeze(['hidden']);
  readonly numParams: number;
  /** Offsets of W, b, a, c in a run's row. */
  readonly layout: Readonly<TwoLayerLayout>;
  /** Parameters per run P: m·d + 2m + 1 with biases, m·d + m without. */
  readonly paramsPerRun: number;

  constructor(options: TwoLayerOptions) {
    this.config = Object.freeze(resolveConfig(options));
    const { hiddenUnits, inputDim, biases, runs, initStd } = this.config;
    this.layout = Object.freeze(twoLayerLayout(hiddenUnits, inputDim, biases));
    this.paramsPerRun = this.layout.size;
    const description = `each run's W, ${biases ? 'b, a, c' : 'a'} i.i.d. N(0, ${initStd}²), drawn in that order from createRng(seed).fork('student-init')`;
    this.paramSpecs = Object.freeze([{ name: 'theta', shape: [runs, this.paramsPerRun], init: { kind: 'custom', description } }]);
    this.numParams = runs * this.paramsPerRun;
  }

  /** Every run starts from the init of `seed` (see {@link twoLayerInit}); no state. */
  init(seed: number): { params: Params; state: ModelState } {
    return this.initRuns(Array.from({ length: this.config.runs }, () => seed));
  }

  /** Run r starts from the init of `seeds[r]` (a multi-seed batch); one seed per run. */
  initRuns(seeds: readonly number[]): { params: Params; state: ModelState } {
    if (seeds.length !== this.config.runs)
      throw new ModelConfigError(`initRuns needs one seed per run (${this.config.runs}), got ${seeds.length}`);
    return { params: this.createParams(seeds.map((seed) => twoLayerInit(seed, this.config))), state: {} };
  }

  /** A fresh `theta` variable holding run r's parameters `values[r]` (rounded to float32). */
  createParams(values: readonly TwoLayerParams[]): Params {
    const initial = tf.tensor2d(packTwoLayerParams(this, values), [this.config.runs, this.paramsPerRun]);
    // No variable name: tfjs names are process-global, and two models of the same kind must coexist.
    const theta = tf.variable(initial, true);
    initial.dispose();
    return { theta };
  }

  /**
   * f_r(x_r) for each run's example x [runs, d] → `output` [runs]; tap `hidden` [runs, m]. The same tfjs ops
   * in the same order whatever is requested, so a loss through it differentiates (twice) like any tfjs graph.
   */
  apply(params: ParamValues, state: ModelState | null, x: tf.Tensor, options: ApplyOptions): ModelOutput<tf.Tensor1D> {
    const taps = resolveTaps(this, options);
    const theta = thetaOf(this, params);
    const { runs, hiddenUnits: width, inputDim, biases, activation } = this.config;
    if (x.rank !== 2 || x.shape[0] !== runs || x.shape[1] !== inputDim) {
      throw new InputShapeError(`expected one example per run, x of shape [${runs}, ${inputDim}], got [${x.shape}]`);
    }
    const L = this.layout;
    const out = tf.tidy(() => {
      const W = tf.reshape(tf.slice(theta, [0, L.W], [runs, width * inputDim]), [runs, width, inputDim]);
      const a = tf.slice(theta, [0, L.a], [runs, width]);
      const xe = tf.reshape(x, [runs, 1, inputDim]);
      let h: tf.Tensor = tf.sum(tf.mul(W, xe), 2);
      if (biases) h = tf.add(h, tf.slice(theta, [0, L.b], [runs, width]));
      const phi = activate(h, activation) as tf.Tensor2D;
      const tapped: Record<string, tf.Tensor2D> = taps.size ? { hidden: phi } : {};
      if (options.output === false) return { taps: tapped };
      let f: tf.Tensor = tf.sum(tf.mul(a, phi), 1);
      if (biases) f = tf.add(f, tf.reshape(tf.slice(theta, [0, L.c], [runs, 1]), [runs]));
      return { output: f as tf.Tensor1D, taps: tapped };
    });
    return { ...out, ...(options.training && state ? { state: {} } : {}) };
  }
}

/** Creates the two-layer net (paper §4). */
export function twoLayer(options: TwoLayerOptions): TwoLayerModel {
  return new TwoLayerModel(options);
}

function thetaOf(model: TwoLayerModel, params: ParamValues): tf.Tensor2D {
  const theta = params['theta'];
  const want = model.paramSpecs[0]!.shape;
  if (!theta) throw new ParamsMismatchError("parameter 'theta' is missing");
  if (theta.rank !== 2 || theta.shape[0] !== want[0] || theta.shape[1] !== want[1]) {
    throw new ParamsMismatchError(`parameter 'theta' has shape [${theta.shape}], expected [${want}]`);
  }
  return theta as tf.Tensor2D;
}

function thetaVariable(model: TwoLayerModel, params: Params): tf.Variable {
  const theta = thetaOf(model, params);
  if (!(theta instanceof tf.Variable)) throw new ParamsMismatchError("parameter 'theta' must be a tf.Variable to be written");
  return theta;
}

/** Every run's parameters as one row-major float32 [runs, P] buffer (what `theta` holds). */
export function packTwoLayerParams(model: TwoLayerModel, values: readonly TwoLayerParams[]): Float32Array {
  const { runs, hiddenUnits: m, inputDim: d, biases } = model.config;
  if (values.length !== runs) throw new ParamsMismatchError(`expected parameters of ${runs} runs, got ${values.length}`);
  const L = model.layout;
  const out = new Float32Array(runs * L.size);
  values.forEach((p, r) => {
    if (p.W.length !== m * d || p.a.length !== m || p.b.length !== m) {
      throw new ParamsMismatchError(`run ${r}: W/b/a have ${p.W.length}/${p.b.length}/${p.a.length} values, expected ${m * d}/${m}/${m}`);
    }
    const o = r * L.size;
    out.set(p.W, o + L.W);
    out.set(p.a, o + L.a);
    if (biases) {
      out.set(p.b, o + L.b);
      out[o + L.c] = p.c;
    }
  });
  return out;
}

/** Copies `theta` back to float64 per-run parameters (exact: float32 → float64; b and c are 0 without biases). */
export function readTwoLayerParams(model: TwoLayerModel, params: ParamValues): TwoLayerParams[] {
  const { runs, hiddenUnits: width, inputDim } = model.config;
  const L = model.layout;
  const theta = thetaOf(model, params).dataSync();
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

/** Overwrites every run's parameters in the `theta` variable (resume, parking a diverged run). */
export function writeTwoLayerParams(model: TwoLayerModel, params: Params, values: readonly TwoLayerParams[]): void {
  const theta = thetaVariable(model, params);
  tf.tidy(() => {
    theta.assign(tf.tensor2d(packTwoLayerParams(model, values), [model.config.runs, model.paramsPerRun]));
  });
}

/**
 * core's scalar activation and slope with the activation fixed: called with a literal, the engine folds their
 * switch once inlined (passing the activation through made the loss loop ~1.4× slower).
 */
const SCALAR: Record<TwoLayerActivation, { value: (h: number) => number; slope: (h: number, v: number) => number }> = {
  relu: { value: (h) => activationValue('relu', h), slope: (h, v) => activationSlope('relu', h, v) },
  tanh: { value: (h) => activationValue('tanh', h), slope: (h, v) => activationSlope('tanh', h, v) },
  abs: { value: (h) => activationValue('abs', h), slope: (h, v) => activationSlope('abs', h, v) },
};

/**
 * Σ_r (f_r(x_r) − y_r)² and its gradient with respect to `theta` (row-major [R, P]), as plain loops over
 * (runs × m × d). Sums run in float64; the gradient is rounded to float32 once. Derivatives at a kink follow
 * tfjs (`activationSlope`): relu'(0) = 0, abs'(0) = −1; tanh' = 1 − v² from the float64 value v.
 * `x` is [R · d] row-major and `y` [R], one example per run.
 */
export function squaredLossAndGradient(
  model: TwoLayerModel,
  theta: Float32Array,
  x: Float32Array,
  y: Float32Array,
): { loss: number; grad: Float32Array } {
  const { runs, hiddenUnits: width, inputDim, activation } = model.config;
  const L = model.layout;
  const P = L.size;
  if (theta.length !== runs * P) throw new ParamsMismatchError(`theta has ${theta.length} values, expected ${runs} × ${P}`);
  if (x.length !== runs * inputDim || y.length !== runs) {
    throw new InputShapeError(`x has ${x.length} values and y ${y.length}, expected ${runs * inputDim} and ${runs}`);
  }
  const { value, slope: slopeOf } = SCALAR[activation];
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
      const v = value(h);
      act[j] = v;
      slope[j] = slopeOf(h, v);
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
 * Σ_r (f_r(x_r) − y_r)² through `apply` (tfjs ops, differentiable twice: what the exact gradient-norm
 * regularizer needs). The SUM over runs makes each run's gradient its own loss's gradient, which is what a
 * batched SAM with per-run norms expects.
 */
export function batchedSquaredLoss(model: TwoLayerModel, params: ParamValues, x: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.square(tf.sub(model.apply(params, null, x, { training: true }).output!, y)));
}

/**
 * The loss of {@link batchedSquaredLoss} as ONE custom op over `theta` whose forward and backward are
 * {@link squaredLossAndGradient}: a batched SAM step then launches a handful of kernels for the model instead
 * of ~50 (per-kernel dispatch, not arithmetic, is what a batch-1 step costs). First-order only: its gradient
 * is not itself differentiable, so the exact gradient-norm regularizer must use {@link batchedSquaredLoss}.
 * `x` [R · d] row-major and `y` [R] are plain arrays: they are data, not variables.
 */
export function fusedSquaredLoss(model: TwoLayerModel, params: ParamValues, x: Float32Array, y: Float32Array): tf.Scalar {
  const theta = thetaOf(model, params);
  const { runs } = model.config;
  const op = tf.customGrad<tf.Scalar>((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const { loss, grad } = squaredLossAndGradient(model, (args[0] as tf.Tensor).dataSync() as Float32Array, x, y);
    const gradFunc = (dy: tf.Tensor): tf.Tensor => {
      const scale = dy.dataSync()[0]!;
      if (scale !== 1) for (let i = 0; i < grad.length; i++) grad[i] = scale * grad[i]!;
      return tf.tensor2d(grad, [runs, model.paramsPerRun]);
    };
    return { value: tf.scalar(loss), gradFunc };
  });
  return op(theta);
}

/**
 * One plain SGD step θ ← θ − lr·∇ of {@link fusedSquaredLoss} on one example per run, with one upload and no
 * kernel. Rounds exactly as tf.train.sgd does (float32 −lr·g, then float32 add), so the two are
 * interchangeable; it exists because after the SAM window a step is otherwise mostly dispatch overhead.
 */
export function plainSgdStep(model: TwoLayerModel, params: Params, x: Float32Array, y: Float32Array, learningRate: number): void {
  const variable = thetaVariable(model, params);
  const theta = variable.dataSync() as Float32Array;
  const { grad } = squaredLossAndGradient(model, theta, x, y);
  const c = Math.fround(-learningRate);
  const next = new Float32Array(theta.length);
  for (let i = 0; i < next.length; i++) next[i] = theta[i]! + Math.fround(c * grad[i]!);
  tf.tidy(() => variable.assign(tf.tensor2d(next, [model.config.runs, model.paramsPerRun])));
}
