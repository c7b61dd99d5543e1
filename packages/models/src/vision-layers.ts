/**
 * Building blocks of the ViT and MLP-Mixer of Google's `vision_transformer` code (docs/paper-notes.md §6.4): LayerNorm
 * and GroupNorm as Flax computes them, GELU in Flax's default tanh form, dense layers over the last axis of any
 * rank, multi-head self-attention with the heads as their own parameter axis, and weight standardisation. All of
 * them are compositions of differentiable tfjs ops whose gradients can be differentiated again (with
 * @samrank/backend's double-backprop registrations for Tanh and Softmax), so SAM and the gradient-norm regularizer
 * train through them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputShapeError } from './errors.js';

/** Flax's LayerNorm and GroupNorm default ε. */
export const FLAX_NORM_EPS = 1e-6;

/**
 * LayerNorm over the last axis: (x − μ)/√(σ² + ε)·scale + bias with the biased variance. The variance is taken
 * as the mean of (x − μ)², not Flax's E[x²] − μ² (the same value, without its cancellation in float32).
 */
export function layerNorm<T extends tf.Tensor>(x: T, scale: tf.Tensor1D, bias: tf.Tensor1D, eps = FLAX_NORM_EPS): T {
  const axis = x.rank - 1;
  const mean = tf.mean(x, axis, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.mul(centred, centred), axis, true);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), scale), bias) as T;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * GELU in its tanh approximation, Flax's `nn.gelu` default: x·½(1 + tanh(√(2/π)(x + 0.044715x³))). The cube is
 * written as products: `tf.pow`'s gradient reads its output, which a second differentiation cannot follow.
 */
export function geluTanh<T extends tf.Tensor>(x: T): T {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), SQRT_2_OVER_PI);
  return tf.mul(x, tf.mul(tf.add(tf.tanh(inner), 1), 0.5)) as T;
}

/**
 * `x @ kernel + bias` over the last axis of `x` (any rank ≥ 2), with a kernel [in, out]. Reshaped to one 2-D
 * product: the wasm backend's plain matMul is its fast path.
 */
export function denseLast(x: tf.Tensor, kernel: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor {
  const inDim = x.shape[x.rank - 1]!;
  if (inDim !== kernel.shape[0])
    throw new InputShapeError(`dense layer: input has ${inDim} features, the kernel expects ${kernel.shape[0]}`);
  const lead = x.shape.slice(0, -1);
  let y: tf.Tensor = tf.matMul(tf.reshape(x, [-1, inDim]) as tf.Tensor2D, kernel);
  if (bias) y = tf.add(y, bias);
  return tf.reshape(y, [...lead, kernel.shape[1]]);
}

/** Weights of one multi-head self-attention layer, in Flax's layout (heads as their own axis). */
export interface AttentionWeights {
  /** [D, heads, headDim] each. */
  queryKernel: tf.Tensor;
  keyKernel: tf.Tensor;
  valueKernel: tf.Tensor;
  /** [heads, headDim] each. */
  queryBias: tf.Tensor;
  keyBias: tf.Tensor;
  valueBias: tf.Tensor;
  /** [heads, headDim, D]. */
  outKernel: tf.Tensor;
  /** [D]. */
  outBias: tf.Tensor1D;
}

/**
 * Multi-head dot-product self-attention of `x` [N, T, D] as Flax's `MultiHeadDotProductAttention` without
 * dropout: queries scaled by 1/√headDim before the product, softmax over the keys, heads concatenated and
 * projected by the output kernel. Transposes are materialised before each product (the wasm backend leaves
 * XNNPACK for transposed operands).
 */
export function selfAttention(x: tf.Tensor3D, w: AttentionWeights): tf.Tensor3D {
  const [n, t, d] = x.shape;
  const [, heads, headDim] = w.queryKernel.shape as [number, number, number];
  const inner = heads * headDim;
  const project = (kernel: tf.Tensor, bias: tf.Tensor) => {
    const y = denseLast(x, tf.reshape(kernel, [d, inner]) as tf.Tensor2D, tf.reshape(bias, [inner]) as tf.Tensor1D);
    // [N, T, H, dh] → [N, H, T, dh]
    return tf.transpose(tf.reshape(y, [n, t, heads, headDim]), [0, 2, 1, 3]);
  };
  const q = tf.mul(project(w.queryKernel, w.queryBias), 1 / Math.sqrt(headDim));
  const k = project(w.keyKernel, w.keyBias);
  const v = project(w.valueKernel, w.valueBias);
  const scores = tf.matMul(q as tf.Tensor4D, tf.transpose(k, [0, 1, 3, 2]) as tf.Tensor4D);
  const weights = tf.softmax(scores);
  const heads_ = tf.matMul(weights, v as tf.Tensor4D);
  const merged = tf.reshape(tf.transpose(heads_, [0, 2, 1, 3]), [n, t, inner]);
  return denseLast(merged, tf.reshape(w.outKernel, [inner, d]) as tf.Tensor2D, w.outBias) as tf.Tensor3D;
}

/**
 * GroupNorm of an NHWC tensor as Flax's `nn.GroupNorm` (32 groups by default, ε 1e-6): each example's channels
 * are split into `groups` consecutive groups, normalised over (H, W, channels of the group) with the biased
 * variance, then scaled and shifted per channel.
 */
export function groupNorm(x: tf.Tensor4D, scale: tf.Tensor1D, bias: tf.Tensor1D, groups = 32, eps = FLAX_NORM_EPS): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (c % groups !== 0) throw new InputShapeError(`GroupNorm with ${groups} groups needs a channel count divisible by ${groups}, got ${c}`);
  const g = tf.reshape(x, [n, h, w, groups, c / groups]);
  const mean = tf.mean(g, [1, 2, 4], true);
  const centred = tf.sub(g, mean);
  const variance = tf.mean(tf.mul(centred, centred), [1, 2, 4], true);
  const normed = tf.reshape(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), [n, h, w, c]);
  return tf.add(tf.mul(normed, scale), bias) as tf.Tensor4D;
}

/**
 * Weight standardisation of an HWIO kernel (the `StdConv` of the vision_transformer ResNets): per output channel,
 * (w − mean)/(std + 1e-5) over H, W and the input channels, std with the biased variance (jnp.std).
 */
export function standardizeKernel(kernel: tf.Tensor4D, eps = 1e-5): tf.Tensor4D {
  const mean = tf.mean(kernel, [0, 1, 2], true);
  const centred = tf.sub(kernel, mean);
  const std = tf.sqrt(tf.mean(tf.mul(centred, centred), [0, 1, 2], true));
  return tf.div(centred, tf.add(std, eps)) as tf.Tensor4D;
}

/**
 * 3×3 max-pooling with stride 2 and TF's 'SAME' padding (the ResNet root's `nn.max_pool(…, padding='SAME')`),
 * written with pads, reshapes, slices and `tf.maximum` instead of `tf.maxPool`: MaxPool's gradient has no gradient
 * of its own in tfjs, these ops' gradients do. Padding is −∞, as in TF.
 */
export function maxPool3x3Stride2Same(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  const padding = (size: number): [number, number, number] => {
    const out = Math.ceil(size / 2);
    const total = Math.max((out - 1) * 2 + 3 - size, 0);
    const before = Math.floor(total / 2);
    // Pad to 2·(out + 1) so that the pairs (2i, 2i + 1) and the next row 2i + 2 come from one reshape.
    return [out, before, 2 * (out + 1) - size - before];
  };
  const [oh, top, bottom] = padding(h);
  const [ow, left, right] = padding(w);
  const p = tf.pad(
    x,
    [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ],
    -Infinity,
  );
  const [n, ph, pw, c] = p.shape;
  // Rows: window i covers padded rows 2i, 2i + 1, 2i + 2.
  const r = tf.reshape(p, [n, ph / 2, 2, pw, c]);
  const rowMax = tf.maximum(
    tf.maximum(tf.slice(r, [0, 0, 0, 0, 0], [n, oh, 1, pw, c]), tf.slice(r, [0, 0, 1, 0, 0], [n, oh, 1, pw, c])),
    tf.slice(r, [0, 1, 0, 0, 0], [n, oh, 1, pw, c]),
  );
  const q = tf.reshape(rowMax, [n, oh, pw / 2, 2, c]);
  const colMax = tf.maximum(
    tf.maximum(tf.slice(q, [0, 0, 0, 0, 0], [n, oh, ow, 1, c]), tf.slice(q, [0, 0, 0, 1, 0], [n, oh, ow, 1, c])),
    tf.slice(q, [0, 0, 1, 0, 0], [n, oh, ow, 1, c]),
  );
  return tf.reshape(colMax, [n, oh, ow, c]);
}
