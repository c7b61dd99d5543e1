/**
 * The paper's two-layer network f(x) = Σ_j a_j·act(w_j·x + b_j) + c (paper §4) in float64, as plain loops:
 * the teacher that makes the teacher-student labels, the reference the student's metrics are computed from,
 * and the scalar activations (with the derivative conventions tfjs uses at the kinks) that the fused student
 * loss differentiates by hand. One definition for @samrank/data, @samrank/models and @samrank/experiments.
 */

/** Hidden-unit nonlinearities of the two-layer nets. */
export type TwoLayerActivation = 'relu' | 'tanh' | 'abs';

/** The activations, in a stable order (CLI choices, report order). */
export const TWO_LAYER_ACTIVATIONS: readonly TwoLayerActivation[] = ['relu', 'tanh', 'abs'];

/** A two-layer network's parameters in row-major float64 arrays. */
export interface TwoLayerParams {
  /** [width, inputDim], row j = w_j. */
  W: Float64Array;
  /** [width] hidden biases (zeros when the net has none). */
  b: Float64Array;
  /** [width] output weights. */
  a: Float64Array;
  /** Output bias (0 when the net has none). */
  c: number;
}

/** act(h). */
export function activationValue(activation: TwoLayerActivation, h: number): number {
  switch (activation) {
    case 'relu':
      // biome-ignore lint/complexity/useMathMinMax: not Math.max, which would turn a NaN pre-activation into NaN instead of 0 and change committed results
      return h > 0 ? h : 0;
    case 'tanh':
      return Math.tanh(h);
    case 'abs':
      return Math.abs(h);
  }
}

/**
 * act'(h), given `value` = act(h). At the kinks tfjs' conventions: relu'(0) = 0 and abs'(0) = −1, so a hand-written
 * gradient matches tfjs' autodiff bit for bit where it matters.
 */
export function activationSlope(activation: TwoLayerActivation, h: number, value: number): number {
  switch (activation) {
    case 'relu':
      return h > 0 ? 1 : 0;
    case 'abs':
      return h > 0 ? 1 : -1;
    case 'tanh':
      return 1 - value * value;
  }
}

/** Hidden unit j of input row i: act(W_j · x_i + b_j). */
function hiddenUnit(
  params: TwoLayerParams,
  activation: TwoLayerActivation,
  x: Float64Array,
  inputDim: number,
  i: number,
  j: number,
): number {
  let h = params.b[j]!;
  for (let k = 0; k < inputDim; k++) h += params.W[j * inputDim + k]! * x[i * inputDim + k]!;
  return activationValue(activation, h);
}

/** Hidden activations act(X Wᵀ + b) on row-major inputs [n, inputDim] → row-major [n, width]. */
export function twoLayerHidden(params: TwoLayerParams, activation: TwoLayerActivation, x: Float64Array, inputDim: number): Float64Array {
  const width = params.a.length;
  const n = x.length / inputDim;
  const phi = new Float64Array(n * width);
  for (let i = 0; i < n; i++) for (let j = 0; j < width; j++) phi[i * width + j] = hiddenUnit(params, activation, x, inputDim, i, j);
  return phi;
}

/** Outputs f(x) on row-major inputs [n, inputDim] → [n]. */
export function twoLayerForward(params: TwoLayerParams, activation: TwoLayerActivation, x: Float64Array, inputDim: number): Float64Array {
  // Row by row, without the [n, width] hidden matrix: at the teacher-student's 1000 test points and width 100 that was
  // 800 KB per call, and allocating and filling it cost more than the sums (350 calls: 0.55 s before, 0.30 s now).
  // The same sums in the same order, so the same bits.
  const width = params.a.length;
  const n = x.length / inputDim;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let f = params.c;
    for (let j = 0; j < width; j++) f += params.a[j]! * hiddenUnit(params, activation, x, inputDim, i, j);
    out[i] = f;
  }
  return out;
}
