/**
 * Calling other kernels from inside a kernel. Replacement kernels are compositions of kernels that are already
 * fast on the backend (Transpose, Slice, Pad, Conv2D, the XNNPACK matmul); they run below the autograd tape, so
 * every intermediate must be released with `backend.disposeData` or it leaks wasm heap.
 */
import { getKernel, type KernelBackend, type KernelConfig, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { KernelArgumentError } from './errors.js';

type KernelInputs = Record<string, TensorInfo | undefined>;

/** Stock kernels captured before a replacement was registered, keyed `backend/kernel`. */
const stockKernels = new Map<string, KernelConfig>();
/** Configs this package registered, so a second install never mistakes its own kernel for the stock one. */
const ownConfigs = new WeakSet<KernelConfig>();

export function markOwn(config: KernelConfig): KernelConfig {
  ownConfigs.add(config);
  return config;
}

export function isOwn(config: KernelConfig | undefined): boolean {
  return config !== undefined && ownConfigs.has(config);
}

/** Remembers the stock kernel `name` on `backendName` (first call only) and returns it, or undefined if absent. */
export function captureStock(name: string, backendName: string): KernelConfig | undefined {
  const key = `${backendName}/${name}`;
  const known = stockKernels.get(key);
  if (known) return known;
  const current = getKernel(name, backendName);
  if (current && !isOwn(current)) {
    stockKernels.set(key, current);
    return current;
  }
  return undefined;
}

export function stockKernel(name: string, backendName: string): KernelConfig | undefined {
  return stockKernels.get(`${backendName}/${name}`);
}

/** Runs kernels of one backend directly and releases their outputs. */
export class KernelCalls {
  constructor(
    readonly backend: KernelBackend,
    readonly backendName: string,
  ) {}

  /** Runs the currently registered kernel `name`. */
  run(name: string, inputs: KernelInputs, attrs: NamedAttrMap = {}): TensorInfo {
    const config = getKernel(name, this.backendName);
    if (!config) throw new KernelArgumentError(`kernel '${name}' is not registered for backend '${this.backendName}'`);
    return this.invoke(config, inputs, attrs);
  }

  /** Runs the stock kernel `name` (the one a replacement displaced, or the current one if none was replaced). */
  runStock(name: string, inputs: KernelInputs, attrs: NamedAttrMap = {}): TensorInfo {
    const config = stockKernel(name, this.backendName) ?? getKernel(name, this.backendName);
    if (!config || isOwn(config)) {
      throw new KernelArgumentError(`stock kernel '${name}' is not known for backend '${this.backendName}'`);
    }
    return this.invoke(config, inputs, attrs);
  }

  private invoke(config: KernelConfig, inputs: KernelInputs, attrs: NamedAttrMap): TensorInfo {
    const out = config.kernelFunc({ inputs: inputs as never, attrs, backend: this.backend });
    if (Array.isArray(out)) throw new KernelArgumentError(`kernel '${config.kernelName}' returned several outputs`);
    return out as TensorInfo;
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }

  pad(x: TensorInfo, paddings: [number, number][]): TensorInfo {
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  /** Concat takes its inputs as an array (the engine passes a list), not as a named map. */
  concat(xs: TensorInfo[], axis: number): TensorInfo {
    return this.run('Concat', xs as unknown as KernelInputs, { axis });
  }

  /** Releases intermediates (never a kernel's own inputs). */
  dispose(...infos: (TensorInfo | undefined)[]): void {
    for (const info of infos) if (info) this.backend.disposeData(info.dataId);
  }
}
