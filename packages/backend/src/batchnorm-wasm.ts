/**
 * BatchNorm's full-size passes as SIMD kernels on the wasm heap (wasm/kernels.wat), used by the fused
 * BatchNorm of layers.ts when registered for the active backend. Composed from tfjs ops the training-mode
 * BatchNorm(+ReLU) reads or writes a full-size tensor about twenty times per step, one single-threaded tfjs
 * kernel each; these read x twice for the statistics, and dy, x (and y) twice for the whole backward pass.
 * - `SamrankChannelMoments` {x} → [mean, biased variance] per channel (last axis), two passes (the second
 *   centred on the first's mean), float32 blocks summed in float64.
 * - `SamrankBatchNormGrad` {dy, x, y, mean, scale, rstd}, attrs {relu} → [dx, dγ, dβ] for y = relu?(x·s + t)
 *   with s = γ·rstd: one pass for dβ = Σdm and dγ = rstd·Σdm·(x − μ) (dm = dy masked by y > 0 with relu), one
 *   for dx = s·dm + B·x + K.
 * - `wasmChannelAffine`: relu?(x·s + t) in one pass, the wasm form of the `SamrankScaleShift` kernel.
 * All split their rows over the helper thread on the multi-threaded build. They take C % 4 == 0 only; layers.ts
 * composes tfjs ops otherwise (and on backends without them).
 */
import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { KernelTask } from '@samrank/core';
import { KernelArgumentError } from './errors.js';
import { markOwn } from './kernel-calls.js';
import { batchNormGradSumsTask, batchNormInputGradTask, channelAffineTask, channelSumsTask } from './kernel-tasks.js';
import { newOutput, onHeap, runSplit, type WasmMemory } from './wasm-kernels.js';

/** Kernel name of the per-channel mean and biased variance of an NHWC tensor (wasm). */
export const CHANNEL_MOMENTS_KERNEL = 'SamrankChannelMoments';
/** Kernel name of the fused BatchNorm backward pass (wasm). */
export const BATCH_NORM_GRAD_KERNEL = 'SamrankBatchNormGrad';

/** The heap a kernel call works on and the scratch tensors it releases at the end. */
interface Scratch {
  backend: KernelBackend;
  memory: WasmMemory;
  owned: TensorInfo[];
}

function heapOrThrow(backend: KernelBackend, name: string, tensors: TensorInfo[]): { memory: WasmMemory; offsets: number[] } {
  const c = tensors[0]!.shape[tensors[0]!.shape.length - 1] ?? 0;
  if (c % 4 !== 0) throw new KernelArgumentError(`${name}: the channel count must be a multiple of 4, got ${c}`);
  const heap = onHeap(backend, tensors);
  if (!heap) throw new KernelArgumentError(`${name}: expected float32 tensors on the wasm heap`);
  return heap;
}

/** A zeroed float64 area of `doubles` values (two halves' sums), released with the heap's other scratch. */
function scratch64(h: Scratch, doubles: number): number {
  const { out, offset } = newOutput(h.backend, h.memory, [2 * doubles + 2], true);
  h.owned.push(out);
  return Math.ceil(offset / 8) * 8; // not `& ~7`: heap offsets reach 4 GiB, past int32
}

/**
 * Σ over `rows` rows of the two per-channel sums a kernel accumulates (out[0..C), out[C..2C)): the caller's rows
 * and the helper's each go to their own area, added here in float64. `task` builds the kernel's task for an area.
 */
function rowSums(h: Scratch, task: (out: number, r0: number, r1: number) => KernelTask, c: number, rows: number): Float64Array {
  const a = scratch64(h, 2 * c);
  const b = scratch64(h, 2 * c);
  const mid = rows >> 1;
  runSplit(h.memory, task(a, 0, rows), () => (rows >= 2 ? [task(a, 0, mid), task(b, mid, rows)] : null));
  const sa = new Float64Array(h.memory.buffer, a, 2 * c);
  const sb = new Float64Array(h.memory.buffer, b, 2 * c);
  return sa.map((v, i) => v + sb[i]!);
}

/** A float32 [n] tensor holding `values`, and its heap offset. */
function vectorOut(h: Scratch, values: ArrayLike<number>): { out: TensorInfo; offset: number } {
  const { out, offset } = newOutput(h.backend, h.memory, [values.length], false);
  new Float32Array(h.memory.buffer, offset, values.length).set(values);
  return { out, offset };
}

function release(h: Scratch): void {
  for (const t of h.owned) h.backend.disposeData(t.dataId);
}

/** [mean, biased variance] over every axis but the last of float32 `x` on the wasm heap. */
export function wasmChannelMoments(backend: KernelBackend, x: TensorInfo): [TensorInfo, TensorInfo] {
  const { memory, offsets } = heapOrThrow(backend, CHANNEL_MOMENTS_KERNEL, [x]);
  const c = x.shape[x.shape.length - 1]!;
  const rows = x.shape.reduce((a, d) => a * d, 1) / c;
  if (rows < 1) throw new KernelArgumentError(`${CHANNEL_MOMENTS_KERNEL}: empty input of shape [${x.shape}]`);
  const h: Scratch = { backend, memory, owned: [] };
  try {
    const sums = (shift: number) => (out: number, r0: number, r1: number) =>
      channelSumsTask({ x: offsets[0]!, shift, out, channels: c }, [r0, r1]);
    const s1 = rowSums(h, sums(0), c, rows);
    const { out: mean, offset: meanOff } = vectorOut(
      h,
      s1.subarray(0, c).map((v) => v / rows),
    );
    // Centred on the float32 mean: Σd and Σd² give the variance without cancellation.
    const d = rowSums(h, sums(meanOff), c, rows);
    const { out: variance } = vectorOut(
      h,
      Array.from({ length: c }, (_, i) => Math.max(0, (d[c + i]! - (d[i]! * d[i]!) / rows) / rows)),
    );
    return [mean, variance];
  } finally {
    release(h);
  }
}

/**
 * Backward of y = relu?(x·s + β − μ·s), s = γ·rstd, with batch statistics: [dx, dγ, dβ]. `y` is read only
 * with `relu` (its sign masks dy).
 */
export function wasmBatchNormGrad(
  backend: KernelBackend,
  t: { dy: TensorInfo; x: TensorInfo; y: TensorInfo; mean: TensorInfo; scale: TensorInfo; rstd: TensorInfo },
  relu: boolean,
): [TensorInfo, TensorInfo, TensorInfo] {
  const { memory, offsets } = heapOrThrow(backend, BATCH_NORM_GRAD_KERNEL, [t.dy, t.x, t.y, t.mean, t.scale, t.rstd]);
  const [dyOff, xOff, yOff, meanOff, sOff, rOff] = offsets as [number, number, number, number, number, number];
  const c = t.x.shape[t.x.shape.length - 1]!;
  const size = t.x.shape.reduce((a, d) => a * d, 1);
  const rows = size / c;
  if (t.dy.shape.join() !== t.x.shape.join() || (relu && t.y.shape.join() !== t.x.shape.join())) {
    throw new KernelArgumentError(`${BATCH_NORM_GRAD_KERNEL}: dy [${t.dy.shape}] and y [${t.y.shape}] must have x's shape [${t.x.shape}]`);
  }
  for (const v of [t.mean, t.scale, t.rstd]) {
    if (v.shape.reduce((a, d) => a * d, 1) !== c)
      throw new KernelArgumentError(`${BATCH_NORM_GRAD_KERNEL}: per-channel inputs must have ${c} values, got [${v.shape}]`);
  }
  // Copy the per-channel values out before any allocation can grow (replace) the heap's buffer.
  const mu = Float32Array.from(new Float32Array(memory.buffer, meanOff, c));
  const s = Float32Array.from(new Float32Array(memory.buffer, sOff, c));
  const r = Float32Array.from(new Float32Array(memory.buffer, rOff, c));
  const h: Scratch = { backend, memory, owned: [] };
  const mask = relu ? yOff : 0;
  try {
    const sums = rowSums(
      h,
      (out, r0, r1) => batchNormGradSumsTask({ dy: dyOff, x: xOff, mask, mean: meanOff, out, channels: c }, [r0, r1]),
      c,
      rows,
    );
    const dBeta = sums.subarray(0, c);
    const dGamma = Array.from({ length: c }, (_, i) => r[i]! * sums[c + i]!);
    // dx = s·(dm − (dβ + x̂·dγ)/M) = s·dm + B·x + K with B = −s·r·dγ/M, K = −s·dβ/M − B·μ.
    const coef = new Float64Array(3 * c);
    for (let i = 0; i < c; i++) {
      const b = (-s[i]! * r[i]! * dGamma[i]!) / rows;
      coef[i] = s[i]!;
      coef[c + i] = b;
      coef[2 * c + i] = (-s[i]! * dBeta[i]!) / rows - b * mu[i]!;
    }
    const { out: coefT, offset: coefOff } = vectorOut(h, coef);
    h.owned.push(coefT);
    const { out: dx, offset: dxOff } = newOutput(backend, memory, [...t.x.shape], false);
    const task = (r0: number, r1: number) =>
      batchNormInputGradTask({ dy: dyOff, x: xOff, mask, dx: dxOff, coef: coefOff, channels: c }, [r0, r1]);
    const mid = rows >> 1;
    runSplit(memory, task(0, rows), () => (rows >= 2 ? [task(0, mid), task(mid, rows)] : null));
    return [dx, vectorOut(h, dGamma).out, vectorOut(h, dBeta).out];
  } finally {
    release(h);
  }
}

/**
 * relu?(x·scale + shift) over the last axis in one pass (split over the helper thread), or null when the kernel
 * does not apply (C % 4 != 0, per-channel inputs of another size, not on the wasm heap).
 */
export function wasmChannelAffine(
  backend: KernelBackend,
  x: TensorInfo,
  scale: TensorInfo,
  shift: TensorInfo,
  relu: boolean,
): TensorInfo | null {
  const c = x.shape[x.shape.length - 1] ?? 0;
  const size = (t: TensorInfo) => t.shape.reduce((a, d) => a * d, 1);
  if (c % 4 !== 0 || size(scale) !== c || size(shift) !== c) return null;
  const heap = onHeap(backend, [x, scale, shift]);
  if (!heap) return null;
  const [xOff, sOff, tOff] = heap.offsets as [number, number, number];
  const rows = size(x) / c;
  const { out, offset } = newOutput(backend, heap.memory, [...x.shape], false);
  const task = (r0: number, r1: number) => channelAffineTask({ x: xOff, y: offset, scale: sOff, shift: tOff, channels: c, relu }, [r0, r1]);
  const mid = rows >> 1;
  runSplit(heap.memory, task(0, rows), () => (rows >= 2 ? [task(0, mid), task(mid, rows)] : null));
  return out;
}

/** Kernel configs for the wasm backend. */
export function batchNormConfigs(): KernelConfig[] {
  const moments: KernelFunc = ({ inputs, backend }) => wasmChannelMoments(backend as KernelBackend, (inputs as { x: TensorInfo }).x);
  const grad: KernelFunc = ({ inputs, attrs, backend }) => {
    const t = inputs as { dy: TensorInfo; x: TensorInfo; y: TensorInfo; mean: TensorInfo; scale: TensorInfo; rstd: TensorInfo };
    return wasmBatchNormGrad(backend as KernelBackend, t, attrs?.['relu'] === true);
  };
  return [
    markOwn({ kernelName: CHANNEL_MOMENTS_KERNEL, backendName: 'wasm', kernelFunc: moments }),
    markOwn({ kernelName: BATCH_NORM_GRAD_KERNEL, backendName: 'wasm', kernelFunc: grad }),
  ];
}
