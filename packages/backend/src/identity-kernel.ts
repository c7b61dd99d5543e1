/**
 * Identity on wasm as a reference-counted alias. The engine clones (runs Identity on) every tensor a kernel saves
 * for its gradient, and the stock wasm Identity copies the data, so training copied every saved activation:
 * 7 % of a ResNet step and about twice the activation memory in the 4 GiB wasm heap. Tensors are immutable, so
 * an alias (what the cpu backend's Identity does) is equivalent. Kernels inside the wasm package call their own
 * copying identity directly and are unaffected; code that needs a real copy calls the stock kernel.
 */
import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { markOwn } from './kernel-calls.js';

/** wasm Identity replacement: shares the input's data (incRef) instead of copying it. */
export function identityConfig(stock: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype === 'string') return stock.kernelFunc(args);
    (args.backend as KernelBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
  return markOwn({ kernelName: 'Identity', backendName: stock.backendName, kernelFunc });
}
