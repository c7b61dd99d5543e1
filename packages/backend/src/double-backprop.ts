/**
 * Gradient fixes that make double backprop (the gradient of a gradient norm) correct in TensorFlow.js
 * 4.22 (docs/backend-notes.md §4):
 * - Exp, Sigmoid, Tanh and Softmax: the stock gradients use the saved OUTPUT, which an outer tape does not
 *   connect to the inputs, so grad-of-grad throws or is silently wrong. Re-registered from saved inputs.
 * - Comparison kernels (Equal, Greater, …) get zero gradients (they appear e.g. in Max's gradient mask), and so do
 *   LogicalAnd, LogicalOr and LogicalNot (ClipByValue's gradient mask, e.g. in tfjs-layers' cross-entropy).
 * - Conv2DBackpropFilter gets a gradient (w.r.t. x: conv2dTranspose of dy with the upstream filter
 *   gradient; w.r.t. dy: conv2d of x with it), and AvgPoolGrad gets one (it is linear in dy), so conv nets
 *   with average pooling can be differentiated twice.
 * - Cast passes dy through as a reshape (an alias) instead of the stock `dy.clone()`, which ran an Identity
 *   kernel that copies on wasm for every BatchNorm-sized gradient (about 7 % of a wasm ResNet step).
 * First-order gradient values are unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import { KernelArgumentError } from './errors.js';

type GradConfig = tf.GradConfig;

/**
 * `Symbol.for('samrank.doubleBackpropGradients')`: a property `true` on every gradient config that
 * {@link registerDoubleBackpropGradients} registers, and on `globalThis` the list of kernel names it covers once it
 * has run. `@samrank/optim`'s exact gradient-norm mode (which must not depend on this package) checks both.
 */
export const DOUBLE_BACKPROP_MARKER: unique symbol = Symbol.for('samrank.doubleBackpropGradients') as never;

const cast: GradConfig = {
  kernelName: 'Cast',
  gradFunc: (dy) => {
    const g = dy as tf.Tensor;
    return { x: () => tf.reshape(g, g.shape) };
  },
};

const inputBased: GradConfig[] = [
  {
    kernelName: 'Exp',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as tf.Tensor[];
      return { x: () => tf.mul(dy as tf.Tensor, tf.exp(x!)) };
    },
  },
  {
    kernelName: 'Sigmoid',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as tf.Tensor[];
      return {
        x: () => {
          const s = tf.sigmoid(x!);
          return tf.mul(dy as tf.Tensor, tf.mul(s, tf.sub(1, s)));
        },
      };
    },
  },
  {
    kernelName: 'Tanh',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as tf.Tensor[];
      return { x: () => tf.mul(dy as tf.Tensor, tf.sub(1, tf.square(tf.tanh(x!)))) };
    },
  },
  {
    kernelName: 'Softmax',
    inputsToSave: ['logits'],
    gradFunc: (dy, saved, attrs) => {
      const [logits] = saved as tf.Tensor[];
      const dim = (attrs as { dim: number }).dim;
      return {
        logits: () => {
          const y = tf.softmax(logits!, dim);
          const dyTimesY = tf.mul(dy as tf.Tensor, y);
          return tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, [dim], true), y));
        },
      };
    },
  },
];

const comparisonKernels = ['Equal', 'NotEqual', 'Greater', 'GreaterEqual', 'Less', 'LessEqual'];

const comparisons: GradConfig[] = comparisonKernels.map((kernelName) => ({
  kernelName,
  inputsToSave: ['a', 'b'],
  gradFunc: (_dy, saved) => {
    const [a, b] = saved as tf.Tensor[];
    return { a: () => tf.zerosLike(a!), b: () => tf.zerosLike(b!) };
  },
}));

// Boolean ops have no stock gradient. A gradient of a gradient runs into them through masks such as ClipByValue's
// (logicalAnd of two comparisons): tfjs-layers' categoricalCrossentropy clips its input. Their inputs are booleans
// (the comparisons' outputs), whose gradients are zero; the tape wants a float32 zero of each input's shape.
const logicalBinary: GradConfig[] = ['LogicalAnd', 'LogicalOr'].map((kernelName) => ({
  kernelName,
  inputsToSave: ['a', 'b'],
  gradFunc: (_dy, saved) => {
    const [a, b] = saved as tf.Tensor[];
    return { a: () => tf.zeros(a!.shape), b: () => tf.zeros(b!.shape) };
  },
}));

const logicalNot: GradConfig = {
  kernelName: 'LogicalNot',
  inputsToSave: ['x'],
  gradFunc: (_dy, saved) => {
    const [x] = saved as tf.Tensor[];
    return { x: () => tf.zeros(x!.shape) };
  },
};

type Padding = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

interface BackpropFilterAttrs {
  strides: [number, number] | number;
  pad: Padding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const conv2dBackpropFilter: GradConfig = {
  kernelName: 'Conv2DBackpropFilter',
  inputsToSave: ['x', 'dy'],
  gradFunc: (ddw, saved, attrs) => {
    const [x, dy] = saved as tf.Tensor4D[];
    const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as BackpropFilterAttrs;
    if (dataFormat !== 'NHWC') {
      throw new KernelArgumentError(
        `Conv2DBackpropFilter's gradient: double backprop through conv2d supports NHWC only, got ${dataFormat}`,
      );
    }
    const filter = ddw as tf.Tensor4D;
    return {
      // dW is bilinear in (x, dy): differentiate each factor with the other fixed.
      x: () => tf.conv2dTranspose(dy!, filter, x!.shape, strides, pad, dimRoundingMode),
      dy: () => tf.conv2d(x!, filter, strides, pad, 'NHWC', 1, dimRoundingMode),
    };
  },
};

interface AvgPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: Padding;
}

const avgPoolGrad: GradConfig = {
  kernelName: 'AvgPoolGrad',
  // Nothing saved: the result does not depend on the values of `input`, and ddx has its shape.
  gradFunc: (ddx, _saved, attrs) => {
    const g = ddx as tf.Tensor4D;
    const { filterSize, strides, pad } = attrs as unknown as AvgPoolGradAttrs;
    return {
      // AvgPoolGrad is linear in dy; its adjoint sums each window of ddx and divides by the full window
      // area (the cpu and wasm kernels divide by the area even where a window overlaps the padding).
      // Without padding that is avgPool; with it, avgPool would divide by the in-bounds count, so use a
      // depthwise conv with a constant filter instead.
      dy: () => {
        const info = tf.backend_util.computePool2DInfo(g.shape, filterSize, strides, 1, pad);
        const { top, bottom, left, right } = info.padInfo;
        if (top === 0 && bottom === 0 && left === 0 && right === 0) return tf.avgPool(g, filterSize, strides, pad);
        const area = info.filterHeight * info.filterWidth;
        const ones = tf.fill([info.filterHeight, info.filterWidth, info.inChannels, 1], 1 / area) as tf.Tensor4D;
        return tf.depthwiseConv2d(g, ones, strides, pad);
      },
      input: () => tf.zerosLike(g),
    };
  },
};

// Not enumerable: a copy of a config (`{ ...config }`, as a stock re-registration in the tests) is not ours.
const fixes: GradConfig[] = [cast, ...inputBased, ...comparisons, ...logicalBinary, logicalNot, conv2dBackpropFilter, avgPoolGrad].map(
  (config) => Object.defineProperty(config, DOUBLE_BACKPROP_MARKER, { value: true }),
);

/** Kernel names whose gradients {@link registerDoubleBackpropGradients} (re-)registers. */
export const DOUBLE_BACKPROP_KERNELS: readonly string[] = Object.freeze(fixes.map((c) => c.kernelName));

/**
 * Registers the double-backprop gradient fixes (idempotent: re-registers only kernels whose current
 * gradient is not ours, e.g. after `@tensorflow/tfjs-layers` registered the stock ones again). Gradients
 * are global (all backends); call it after the stock gradients are registered. `setupBackend` calls it;
 * `GradientNormRegularizer` of `@samrank/optim` in exact mode requires it (and says so at its first step).
 * First-order gradients are unchanged in value.
 * @returns the kernel names (re-)registered by this call.
 */
export function registerDoubleBackpropGradients(): string[] {
  const changed: string[] = [];
  for (const config of fixes) {
    if (tf.getGradient(config.kernelName) !== config) {
      tf.registerGradient(config);
      changed.push(config.kernelName);
    }
  }
  (globalThis as Record<symbol, unknown>)[DOUBLE_BACKPROP_MARKER] = DOUBLE_BACKPROP_KERNELS;
  return changed;
}
