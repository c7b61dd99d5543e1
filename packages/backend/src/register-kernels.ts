/**
 * Installs the training kernels on a backend. Registration is idempotent: the stock kernels are captured once
 * and a second call replaces this package's kernels with fresh copies of themselves.
 */
import { getKernel, registerGradient, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { BATCH_NORM_GRAD_KERNEL, CHANNEL_MOMENTS_KERNEL, batchNormConfigs } from './batchnorm-wasm.js';
import { broadcastConfigs } from './broadcast-kernels.js';
import { KernelArgumentError } from './errors.js';
import { SCALE_SHIFT_KERNEL, scaleShiftConfig, scaleShiftGradConfig } from './fused-ops.js';
import { identityConfig } from './identity-kernel.js';
import { conv2DBackpropFilterConfig, conv2DBackpropInputConfig, conv2DConfig } from './conv-kernels.js';
import { captureStock } from './kernel-calls.js';
import { batchMatMulConfig, fusedMatMulConfig } from './matmul-kernels.js';
import { meanConfig, sumConfig } from './reduce-kernels.js';
import { unsortedSegmentSumConfig } from './segment-sum-kernel.js';

function replace(config: KernelConfig): void {
  if (getKernel(config.kernelName, config.backendName)) unregisterKernel(config.kernelName, config.backendName);
  registerKernel(config);
}

/** Names of the kernels installed for each backend, for reports and tests. */
export const TRAINING_KERNELS: Readonly<Record<'wasm' | 'cpu', readonly string[]>> = {
  wasm: [
    'Conv2D',
    'Conv2DBackpropFilter',
    'Conv2DBackpropInput',
    'BatchMatMul',
    '_FusedMatMul',
    'Sum',
    'Mean',
    'Multiply',
    'Add',
    'Sub',
    'Identity',
    'UnsortedSegmentSum',
    SCALE_SHIFT_KERNEL,
    CHANNEL_MOMENTS_KERNEL,
    BATCH_NORM_GRAD_KERNEL,
  ],
  cpu: ['Conv2DBackpropFilter', SCALE_SHIFT_KERNEL],
};

/**
 * Registers the fast training kernels. `wasm`: Conv2D gradients as forward convolutions, XNNPACK matmuls for
 * every transpose/batch case, Sum/Mean over leading axes as one average pooling, per-channel broadcasting
 * Multiply/Add/Sub as depthwise 1×1 convolutions, Identity as an alias instead of a copy, UnsortedSegmentSum (the
 * gradient of Gather, missing from the stock set), and the package's own
 * SIMD kernels for both convolution gradients and BatchNorm's statistics and backward pass. `cpu`: the filter
 * gradient (the stock one indexes through TensorBuffer at 0.02 GFLOP/s). Both also get the fused
 * `SamrankScaleShift` kernel behind `scaleShift`. Other backends are left alone. Returns the kernel names.
 */
export function registerTrainingKernels(backendName: string): string[] {
  if (backendName === 'wasm') {
    const matmul = captureStock('BatchMatMul', 'wasm');
    const fused = captureStock('_FusedMatMul', 'wasm');
    const dx = captureStock('Conv2DBackpropInput', 'wasm');
    const conv = captureStock('Conv2D', 'wasm');
    const sum = captureStock('Sum', 'wasm');
    const mean = captureStock('Mean', 'wasm');
    const multiply = captureStock('Multiply', 'wasm');
    const add = captureStock('Add', 'wasm');
    const sub = captureStock('Sub', 'wasm');
    const identity = captureStock('Identity', 'wasm');
    if (!conv || !matmul || !fused || !sum || !mean || !multiply || !add || !sub || !identity) {
      throw new KernelArgumentError('the stock wasm kernels are not registered: import @tensorflow/tfjs-backend-wasm first');
    }
    replace(conv2DConfig(conv));
    replace(conv2DBackpropFilterConfig('wasm'));
    replace(conv2DBackpropInputConfig('wasm', dx));
    replace(batchMatMulConfig(matmul));
    replace(fusedMatMulConfig(fused));
    replace(sumConfig(sum));
    replace(meanConfig(mean));
    for (const config of broadcastConfigs({ Multiply: multiply, Add: add, Sub: sub })) replace(config);
    replace(identityConfig(identity));
    replace(unsortedSegmentSumConfig('wasm'));
    replace(scaleShiftConfig('wasm'));
    registerGradient(scaleShiftGradConfig);
    for (const config of batchNormConfigs()) replace(config);
    return [...TRAINING_KERNELS.wasm];
  }
  if (backendName === 'cpu') {
    captureStock('Conv2DBackpropFilter', 'cpu');
    replace(conv2DBackpropFilterConfig('cpu'));
    replace(scaleShiftConfig('cpu'));
    registerGradient(scaleShiftGradConfig);
    return [...TRAINING_KERNELS.cpu];
  }
  return [];
}
