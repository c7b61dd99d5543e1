/**
 * Gradient fixes that make double backprop (the gradient of a gradient norm) correct in TensorFlow.js
 * 4.22 (tfjs-backends.md, Appendix C):
 * - Exp, Sigmoid, Tanh and Softmax: the stock gradients use the saved OUTPUT, which an outer tape does not
 *   connect to the inputs, so grad-of-grad throws or is silently wrong. Re-registered from saved inputs.
 * - Comparison kernels (Equal, Greater, …) get zero gradients (they appear e.g. in Max's gradient mask).
 * - Conv2DBackpropFilter gets a gradient (w.r.t. x: conv2dTranspose of dy with the upstream filter
 *   gradient; w.r.t. dy: conv2d of x with it).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from './errors.js';

type GradConfig = tf.GradConfig;

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

interface BackpropFilterAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number;
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
      throw new InvalidOptionError('dataFormat', `double backprop through conv2d supports NHWC only, got ${dataFormat}`);
    }
    if (typeof pad === 'object') {
      throw new InvalidOptionError('pad', 'double backprop through conv2d supports "same", "valid" or a number');
    }
    const filter = ddw as tf.Tensor4D;
    return {
      // dW is bilinear in (x, dy): differentiate each factor with the other fixed.
      x: () => tf.conv2dTranspose(dy!, filter, x!.shape, strides, pad, dimRoundingMode),
      dy: () => tf.conv2d(x!, filter, strides, pad, 'NHWC', 1, dimRoundingMode),
    };
  },
};

const fixes: GradConfig[] = [...inputBased, ...comparisons, conv2dBackpropFilter];

/**
 * Registers the double-backprop gradient fixes (idempotent: re-registers only kernels whose current
 * gradient is not ours, e.g. after `@tensorflow/tfjs-layers` registered the stock ones again). Called
 * automatically by `GradientNormRegularizer` in exact mode before each step. First-order gradients are
 * unchanged in value.
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
  return changed;
}
