/**
 * Sum and Mean over leading axes on wasm as one XNNPACK average pooling: x[R, C] viewed as an image
 * [1, R, 1, C] pooled with an R×1 window gives the per-column mean (×R for the sum). The stock kernels transpose
 * the reduced axes to the end and then loop; BatchNorm statistics and bias/scale gradients in NHWC reduce over
 * N, H, W, which made Sum and Mean 15–18 % of a ResNet step. (ones·x as a matmul is slower: XNNPACK repacks x
 * as the weight operand on every call.) Other reductions keep the stock kernels.
 */
import { util, type KernelBackend, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { KernelCalls, markOwn } from './kernel-calls.js';

/** The number of leading axes `axes` covers if it is exactly {0, …, k−1} with k < rank, else 0. */
export function leadingAxes(axes: number[], rank: number): number {
  const sorted = [...new Set(axes)].sort((a, b) => a - b);
  if (sorted.length === 0 || sorted.length >= rank) return 0;
  return sorted.every((a, i) => a === i) ? sorted.length : 0;
}

/** Σ (or mean) of x over its first `count` axes, as one average pooling on the backend. */
export function reduceLeadingVia(k: KernelCalls, x: TensorInfo, count: number, mean: boolean, keepDims: boolean): TensorInfo {
  const rows = util.sizeFromShape(x.shape.slice(0, count));
  const rest = x.shape.slice(count);
  const cols = util.sizeFromShape(rest);
  const image = k.reshape(x, [1, rows, 1, cols]);
  const owned: TensorInfo[] = [image];
  try {
    let out = k.run('AvgPool', { x: image }, { filterSize: [rows, 1], strides: [1, 1], pad: 'valid' });
    owned.push(out);
    if (!mean) {
      const factor = k.run('Fill', {}, { shape: [], value: rows, dtype: 'float32' });
      owned.push(factor);
      out = k.run('Multiply', { a: out, b: factor });
      owned.push(out);
    }
    return k.reshape(out, keepDims ? [...Array<number>(count).fill(1), ...rest] : rest);
  } finally {
    k.dispose(...owned);
  }
}

function reduceConfig(kernelName: 'Sum' | 'Mean', stock: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const { x } = inputs as { x: TensorInfo };
    const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
    const count = x.dtype === 'float32' ? leadingAxes(util.parseAxisParam(axis, x.shape), x.shape.length) : 0;
    // Tiny reductions are cheaper as the stock loop.
    if (count === 0 || util.sizeFromShape(x.shape) < 4096) return stock.kernelFunc({ inputs, attrs, backend });
    return reduceLeadingVia(new KernelCalls(backend as KernelBackend, stock.backendName), x, count, kernelName === 'Mean', keepDims);
  };
  const config: KernelConfig = { kernelName, backendName: stock.backendName, kernelFunc };
  if (stock.setupFunc) config.setupFunc = stock.setupFunc;
  return markOwn(config);
}

/** wasm Sum replacement (leading-axes reductions via XNNPACK average pooling). */
export function sumConfig(stock: KernelConfig): KernelConfig {
  return reduceConfig('Sum', stock);
}

/** wasm Mean replacement (leading-axes reductions via XNNPACK average pooling). */
export function meanConfig(stock: KernelConfig): KernelConfig {
  return reduceConfig('Mean', stock);
}
