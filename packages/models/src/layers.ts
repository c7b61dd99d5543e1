/**
 * Functional building blocks shared by every model: PyTorch-padded convolution, dense, BatchNorm written as
 * one scale-and-shift, average pooling written with means (double-differentiable), activations.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BATCH_NORM_GRAD_KERNEL, CHANNEL_MOMENTS_KERNEL, SCALE_SHIFT_KERNEL } from '@samrank/backend';
import { InputShapeError, SecondOrderGradientError } from './errors.js';
import type { BatchNormStats, BatchStatistics } from './types.js';

// The activation switch lives in its own module so that the two-layer net (the `./two-layer` subpath) does not pull
// in @samrank/backend, which is Node only.
export { ACTIVATION_NAMES, type Activation, activate } from './activation.js';

/** BatchNorm hyper-parameters (PyTorch defaults: momentum 0.1 means running ← 0.9·running + 0.1·batch). */
export interface BatchNormOptions {
  momentum: number;
  eps: number;
}

export const PYTORCH_BN: Readonly<BatchNormOptions> = Object.freeze({ momentum: 0.1, eps: 1e-5 });

/**
 * 2-D convolution (NHWC input, HWIO kernel) with PyTorch's symmetric zero padding: `pad` pixels on every side.
 * TF's 'same' pads (0, 1) for a stride-2 3×3 conv on even inputs, which shifts the sampling grid, so stride-2
 * convs get explicit pads; stride-1 convs with pad = (k−1)/2 use 'same', which is then identical.
 */
export function conv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, stride: number, pad: number): tf.Tensor4D {
  const kh = kernel.shape[0];
  const kw = kernel.shape[1];
  if (pad === 0) return tf.conv2d(x, kernel, stride, 'valid');
  if (stride === 1 && kh === kw && kh === 2 * pad + 1) return tf.conv2d(x, kernel, 1, 'same');
  return tf.conv2d(x, kernel, stride, [
    [0, 0],
    [pad, pad],
    [pad, pad],
    [0, 0],
  ]);
}

/** `x @ kernel + bias` with a TF-layout kernel [in, out]. */
export function dense(x: tf.Tensor2D, kernel: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor2D {
  const y: tf.Tensor2D = tf.matMul(x, kernel);
  return bias ? (tf.add(y, bias) as tf.Tensor2D) : y;
}

/** Result of a BatchNorm forward pass in training mode. */
export interface BatchNormTrainResult {
  y: tf.Tensor4D;
  /**
   * Updated running statistics (PyTorch: the unbiased batch variance enters the running estimate); absent
   * when no running statistics were passed in.
   */
  stats?: BatchNormStats;
  /** With `keepBatch`: the batch's own mean and biased variance (new tensors). */
  batch?: BatchStatistics;
}

/**
 * y = x·s + t with per-channel s, t. Two full-size ops instead of the four of (x − μ)/σ·γ + β: faster and it keeps
 * less activation memory for the backward pass (docs/backend-notes.md §6).
 */
function scaleShift(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, mean: tf.Tensor, variance: tf.Tensor, eps: number): tf.Tensor4D {
  const s = tf.mul(gamma, tf.rsqrt(tf.add(variance, eps)));
  const t = tf.sub(beta, tf.mul(mean, s));
  return tf.add(tf.mul(x, s), t);
}

/**
 * BatchNorm in training mode: normalises with the biased batch variance over N, H, W and returns the
 * updated running statistics `(1 − m)·running + m·batch` with the **unbiased** batch variance (×n/(n−1)).
 *
 * `secondOrder: false` (default) runs it as one custom-gradient op with a hand-written backward pass (about
 * half the full-size tensor passes of the autodiff version, and nothing of the statistics on the tape); its
 * gradient cannot itself be differentiated. `secondOrder: true` composes differentiable tfjs ops, for
 * gradient-of-gradient objectives (e.g. a gradient-norm penalty through a ResNet). `relu: true` returns
 * relu(BN(x)); the fused op then applies scale, shift and ReLU in one pass.
 */
export function batchNormTrain(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  running: BatchNormStats | null,
  opts: BatchNormOptions = PYTORCH_BN,
  secondOrder = false,
  relu = false,
  keepBatch = false,
): BatchNormTrainResult {
  const [n, h, w] = x.shape;
  const count = n * h * w;
  if (count < 2) {
    throw new InputShapeError(`BatchNorm in training mode needs more than one value per channel, got input shape [${x.shape.join(', ')}]`);
  }
  const { y, mean, variance } = secondOrder
    ? batchNormTrainAutodiff(x, gamma, beta, opts.eps, relu)
    : batchNormTrainFused(x, gamma, beta, opts.eps, relu);
  // The fused op hands its statistics out of its own scope (kept); they are ours to release or hand on.
  const batch = keepBatch ? { mean: tf.clone(mean), variance: tf.clone(variance), count } : undefined;
  if (!running) {
    if (!secondOrder) tf.dispose([mean, variance]);
    return batch ? { y, batch } : { y };
  }
  const m = opts.momentum;
  const stats = tf.tidy(() => ({
    mean: tf.add(tf.mul(running.mean, 1 - m), tf.mul(mean, m)) as tf.Tensor1D,
    variance: tf.add(tf.mul(running.variance, 1 - m), tf.mul(variance, (m * count) / (count - 1))) as tf.Tensor1D,
  }));
  if (!secondOrder) tf.dispose([mean, variance]);
  return batch ? { y, stats, batch } : { y, stats };
}

const AXES = [0, 1, 2];

/**
 * The hand-written BatchNorm gradients read saved tensors that an outer tape cannot see through, so a gradient of
 * them would be silently wrong. An outer tape is recording exactly when the engine's gradient depth is positive
 * while a backward pass runs.
 */
function assertFirstOrder(): void {
  if (tf.engine().state.gradientDepth > 0) {
    throw new SecondOrderGradientError(
      'the fused BatchNorm has a first-order gradient only; build the model with doubleBackprop: true (or call batchNormTrain/batchNormEval with secondOrder = true) to differentiate a gradient',
    );
  }
}

function batchNormTrainAutodiff(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number, relu: boolean) {
  // tf.moments would add a full-size Cast copy; the same two-pass statistics by hand.
  const mean = tf.mean(x, AXES) as tf.Tensor1D;
  const variance = tf.mean(tf.square(tf.sub(x, mean)), AXES) as tf.Tensor1D;
  const y = scaleShift(x, gamma, beta, mean, variance, eps);
  return { y: relu ? tf.relu(y) : y, mean, variance };
}

/**
 * relu?(x·a + b) per channel in one pass: the fused `SamrankScaleShift` kernel where installed, else a 1×1
 * depthwise convolution with bias and activation. Forward only: used inside the fused BatchNorm, whose gradient
 * is written by hand.
 */
function channelAffine(x: tf.Tensor4D, a: tf.Tensor1D, b: tf.Tensor1D, relu: boolean): tf.Tensor4D {
  const c = x.shape[3];
  // The fused kernel where installed: no gradient is recorded inside the custom-gradient ops that call this.
  if (tf.getKernel(SCALE_SHIFT_KERNEL, tf.getBackend()))
    return tf.engine().runKernel(SCALE_SHIFT_KERNEL, { x, scale: a, shift: b }, { relu }) as tf.Tensor4D;
  return tf.fused.depthwiseConv2d({
    x,
    filter: tf.reshape(a, [1, 1, c, 1]) as tf.Tensor4D,
    strides: 1,
    pad: 'valid',
    bias: b,
    activation: relu ? 'relu' : 'linear',
  });
}

/** Forward of both fused BatchNorms: s = γ·r, y = relu?(x·s + β − μ·s) in one pass. */
function fusedNormalize(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  mu: tf.Tensor1D,
  r: tf.Tensor1D,
  relu: boolean,
): { y: tf.Tensor4D; s: tf.Tensor1D } {
  const s = tf.mul(gamma, r) as tf.Tensor1D;
  return { y: channelAffine(x, s, tf.sub(beta, tf.mul(mu, s)) as tf.Tensor1D, relu), s };
}

/**
 * Backward shared by both fused BatchNorms, from the saved [x, s, μ, r, y?] (y saved only with the ReLU).
 * Through the ReLU first: its derivative is 0 where the output is 0 (as tf.relu's). Then dβ = Σdy and
 * dγ = r·(Σdy·x − μ·Σdy).
 */
function fusedParamGrads(dyOut: tf.Tensor, saved: tf.Tensor[]) {
  assertFirstOrder();
  const [x, s, mu, r, y] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor4D?];
  const dy = y ? tf.mul(dyOut, tf.step(y)) : dyOut;
  const dBeta = tf.sum(dy, AXES);
  const dGamma = tf.mul(r, tf.sub(tf.sum(tf.mul(dy, x), AXES), tf.mul(mu, dBeta)));
  return { x, s, mu, r, dy, dGamma, dBeta };
}

/** True when the active backend has the package's kernel `name` and it takes `channels`. */
function ownKernel(name: string, channels: number): boolean {
  return channels % 4 === 0 && tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** Per-channel mean and biased variance over N, H, W (one kernel on wasm; two passes either way). */
function channelMoments(x: tf.Tensor4D): { mu: tf.Tensor1D; v: tf.Tensor1D } {
  if (ownKernel(CHANNEL_MOMENTS_KERNEL, x.shape[3])) {
    const [mu, v] = tf.engine().runKernel(CHANNEL_MOMENTS_KERNEL, { x }) as unknown as [tf.Tensor1D, tf.Tensor1D];
    return { mu, v };
  }
  const mu = tf.mean(x, AXES) as tf.Tensor1D;
  return { mu, v: tf.mean(tf.square(tf.sub(x, mu)), AXES) as tf.Tensor1D };
}

function batchNormTrainFused(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number, relu: boolean) {
  const count = x.shape[0] * x.shape[1] * x.shape[2];
  let mean: tf.Tensor1D | null = null;
  let variance: tf.Tensor1D | null = null;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, g, b] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const { mu, v } = channelMoments(xi);
    const r = tf.rsqrt(tf.add(v, eps)) as tf.Tensor1D;
    const { y, s } = fusedNormalize(xi, g, b, mu, r, relu);
    save(relu ? [xi, s, mu, r, y] : [xi, s, mu, r]);
    mean = tf.keep(mu);
    variance = tf.keep(v);
    return {
      value: y,
      // With x̂ = (x − μ)·r: dβ = Σdy, dγ = Σdy·x̂ = r·(Σdy·x − μ·Σdy), and
      // dx = s·(dy − (dβ + x̂·dγ)/M) = s·dy + B·x + C with B = −s·r·dγ/M, C = −s·dβ/M − B·μ.
      gradFunc: (dyOut: tf.Tensor, saved: tf.Tensor[]) => {
        if (ownKernel(BATCH_NORM_GRAD_KERNEL, xi.shape[3])) {
          assertFirstOrder();
          const [xs, ss, ms, rs, ys] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor4D?];
          const inputs = { dy: dyOut, x: xs, y: ys ?? xs, mean: ms, scale: ss, rstd: rs };
          return tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, inputs, { relu }) as unknown as tf.Tensor[];
        }
        const { x: xs, s: ss, mu: ms, r: rs, dy, dGamma, dBeta } = fusedParamGrads(dyOut, saved);
        const bCoef = tf.mul(tf.mul(ss, rs), tf.mul(dGamma, -1 / count));
        const cCoef = tf.sub(tf.mul(ss, tf.mul(dBeta, -1 / count)), tf.mul(bCoef, ms));
        const dx = tf.add(tf.mul(dy, ss), channelAffine(xs, bCoef as tf.Tensor1D, cCoef as tf.Tensor1D, false));
        return [dx, dGamma, dBeta];
      },
    };
  });
  const y = op(x, gamma, beta) as tf.Tensor4D;
  return { y, mean: mean! as tf.Tensor1D, variance: variance! as tf.Tensor1D };
}

/**
 * BatchNorm in eval mode: normalises with the running statistics (constants: no gradient flows to them).
 * `secondOrder` and `relu` as in `batchNormTrain`: by default one fused pass (scale, shift, ReLU) with a
 * hand-written first-order gradient for x, γ and β.
 */
export function batchNormEval(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  running: BatchNormStats,
  opts: BatchNormOptions = PYTORCH_BN,
  secondOrder = false,
  relu = false,
): tf.Tensor4D {
  if (secondOrder) {
    const y = scaleShift(x, gamma, beta, running.mean, running.variance, opts.eps);
    return relu ? tf.relu(y) : y;
  }
  const r = tf.rsqrt(tf.add(running.variance, opts.eps)) as tf.Tensor1D;
  const mu = running.mean;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, g, b] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const { y, s } = fusedNormalize(xi, g, b, mu, r, relu);
    // Everything the backward pass reads must be saved: tensors of this scope are gone by then.
    save(relu ? [xi, s, mu, r, y] : [xi, s, mu, r]);
    return {
      value: y,
      // y = x·s + t with s = γ·r, t = β − μ·s: dx = dy·s, dγ = r·Σdy·(x − μ), dβ = Σdy.
      gradFunc: (dyOut: tf.Tensor, saved: tf.Tensor[]) => {
        const { s, dy, dGamma, dBeta } = fusedParamGrads(dyOut, saved);
        return [tf.mul(dy, s), dGamma, dBeta];
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}

/**
 * Average pooling with a square window of `k` and stride `k` (PyTorch `avg_pool2d(x, k)` on sizes divisible by
 * k). Written as reshape + mean instead of `tf.avgPool`, whose gradient (AvgPoolGrad) has no gradient of its
 * own, so double backprop works.
 */
export function avgPool(x: tf.Tensor4D, k: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (h % k !== 0 || w % k !== 0) {
    throw new InputShapeError(`avgPool(${k}) needs H and W divisible by ${k}, got ${h}×${w}`);
  }
  if (h === k && w === k) return tf.reshape(tf.mean(x, [1, 2]), [n, 1, 1, c]);
  return tf.mean(tf.reshape(x, [n, h / k, k, w / k, k, c]), [2, 4]) as tf.Tensor4D;
}

/** Mean over H and W: [N, H, W, C] → [N, C] (double-differentiable, unlike `tf.avgPool`). */
export function globalAvgPool(x: tf.Tensor4D): tf.Tensor2D {
  return tf.mean(x, [1, 2]) as tf.Tensor2D;
}

/** Rows of a batch flattened into one feature vector each (NHWC order: H, then W, then C). */
export function flatten(x: tf.Tensor): tf.Tensor2D {
  return tf.reshape(x, [x.shape[0]!, -1]);
}
