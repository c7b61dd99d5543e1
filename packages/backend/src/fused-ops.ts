/**
 * BatchNorm's per-channel affine `x·scale + shift`, optionally followed by ReLU, as one kernel
 * (`SamrankScaleShift`). On wasm it is one pass of the package's SIMD kernel (batchnorm-wasm.ts; for C % 4 != 0
 * a 1×1 depthwise convolution with bias and activation); on other backends with the kernel installed it is
 * Multiply, Add (and Relu) inside one kernel; where it is not installed `scaleShift` falls back to the plain ops.
 *
 * It is a registered kernel with a registered gradient (not a customGrad, which would copy the saved tensors),
 * and the gradient is built from differentiable ops on saved inputs (the saved output only enters through the
 * ReLU mask, whose derivative is zero), so it can be differentiated twice.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, KernelBackend, KernelConfig, KernelFunc, NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { KernelArgumentError } from './errors.js';
import { wasmChannelAffine } from './batchnorm-wasm.js';
import { KernelCalls, markOwn } from './kernel-calls.js';

/** Name of the fused kernel. */
export const SCALE_SHIFT_KERNEL = 'SamrankScaleShift';

function leading(rank: number): number[] {
  return [...Array(rank - 1).keys()];
}

/** Kernel config for `backendName`: XNNPACK depthwise 1×1 on wasm, Multiply + Add (+ Relu) elsewhere. */
export function scaleShiftConfig(backendName: string): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const { x, scale, shift } = inputs as { x: TensorInfo; scale: TensorInfo; shift: TensorInfo };
    const relu = attrs?.['relu'] === true;
    const k = new KernelCalls(backend as KernelBackend, backendName);
    const c = x.shape[x.shape.length - 1]!;
    const owned: TensorInfo[] = [];
    try {
      if (backendName === 'wasm') {
        const direct = wasmChannelAffine(k.backend, x, scale, shift, relu);
        if (direct) return direct;
        const image = k.reshape(x, [1, tf.util.sizeFromShape(x.shape) / c, 1, c]);
        owned.push(image);
        const filter = k.reshape(scale, [1, 1, c, 1]);
        owned.push(filter);
        // The wasm kernel checks the bias rank recorded with the data: give it its own [C] data if needed.
        const recorded = (backend as unknown as { dataIdMap: { get(id: object): { shape: number[] } } }).dataIdMap.get(shift.dataId).shape;
        let bias = shift;
        if (recorded.length !== 1) {
          const flat = k.reshape(shift, [c]);
          owned.push(flat);
          bias = k.runStock('Identity', { x: flat });
          owned.push(bias);
        }
        const out = k.run(
          'FusedDepthwiseConv2D',
          { x: image, filter, bias },
          { strides: [1, 1], pad: 'valid', dilations: [1, 1], dataFormat: 'NHWC', activation: relu ? 'relu' : 'linear' },
        );
        owned.push(out);
        return k.reshape(out, [...x.shape]);
      }
      const scaled = k.run('Multiply', { a: x, b: scale });
      owned.push(scaled);
      const shifted = k.run('Add', { a: scaled, b: shift });
      if (!relu) return shifted;
      owned.push(shifted);
      return k.run('Relu', { x: shifted });
    } finally {
      k.dispose(...owned);
    }
  };
  return markOwn({ kernelName: SCALE_SHIFT_KERNEL, backendName, kernelFunc });
}

/** Gradient of the fused kernel: dx = g·scale, dscale = Σ g·x, dshift = Σ g with g = dy (masked by ReLU). */
export const scaleShiftGradConfig: GradConfig = {
  kernelName: SCALE_SHIFT_KERNEL,
  inputsToSave: ['x', 'scale'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs: NamedAttrMap) => {
    const [x, scale, y] = saved as [Tensor, Tensor, Tensor];
    const g = attrs['relu'] === true ? tf.mul(dy as Tensor, tf.step(y)) : (dy as Tensor);
    const axes = leading(x.rank);
    return {
      x: () => tf.mul(g, scale),
      scale: () => tf.sum(tf.mul(g, x), axes),
      shift: () => tf.sum(g, axes),
    };
  },
};

/**
 * `relu?(x·scale + shift)` over the channel (last) axis, in one fused kernel where installed (wasm, cpu after
 * `setupBackend`/`registerTrainingKernels`), else as plain ops. `scale` and `shift` are [C] tensors; gradients
 * flow to all three inputs.
 */
export function scaleShift<T extends Tensor>(x: T, scale: tf.Tensor1D, shift: tf.Tensor1D, relu = false): T {
  const c = x.shape[x.rank - 1];
  if (x.rank < 2 || scale.rank !== 1 || shift.rank !== 1 || scale.shape[0] !== c || shift.shape[0] !== c) {
    throw new KernelArgumentError(`scaleShift: scale [${scale.shape}] and shift [${shift.shape}] must be [${c}] for x [${x.shape}]`);
  }
  if (x.dtype !== 'float32' || !tf.getKernel(SCALE_SHIFT_KERNEL, tf.getBackend()) || !tf.getGradient(SCALE_SHIFT_KERNEL)) {
    const y = tf.add(tf.mul(x, scale), shift) as T;
    return relu ? tf.relu(y) : y;
  }
  return tf.engine().runKernel(SCALE_SHIFT_KERNEL, { x, scale, shift }, { relu }) as T;
}
