/**
 * Both gradients of a 2-D convolution as SIMD kernels (wasm/conv-grads.wat) that read their inputs where the
 * tfjs wasm backend keeps them and write into a fresh backend tensor: no im2col, no zero-dilated copies, no
 * phase interleaving.
 * - Filter gradient: XNNPACK has no such operator; written as a forward convolution (x as C one-channel
 *   images, dy as a huge filter) it ran at half the forward convolution's speed.
 * - Input gradient: XNNPACK's convolution serves stride 1, but strided layers needed a zero-dilated dy or a
 *   split into stride² sub-convolutions plus an interleave; the direct kernel visits only the taps that touch
 *   each pixel.
 * On the multi-threaded build (shared heap) a helper worker_thread computes half of each gradient (disjoint
 * tiles, so results are bit-identical to one thread).
 *
 * Both apply to NHWC float32 tensors on the wasm backend with channel counts the tiles take (filter gradient:
 * C % 4 == 0 and Co % 8 == 0; input gradient: C % 8 == 0) and return null otherwise, so the caller falls back
 * to the forward-convolution forms.
 */
import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';
import { CONV_GRADS_SHARED_WASM_BASE64, CONV_GRADS_WASM_BASE64 } from '../conv-grads-wasm.generated.js';
import { ConvGradsHelper, runTask, type ConvGradTask } from './conv-grads-helper.js';

interface ConvGradsExports {
  conv_dw(...args: number[]): void;
  conv_dx(...args: number[]): void;
  /** iters × 48 multiply-adds on four lanes from registers (the machine's ceiling for this code). */
  peak_macs(iters: number, out: number): void;
}

/** The parts of tfjs' BackendWasm the kernels touch (they are not in its public typings). */
interface WasmBackendInternals {
  /** `asm.memory`: the single-threaded build exports its memory; the threaded build imports `wasmMemory`. */
  wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
}

/** Filter taps, strides and leading pads of a convolution (backend_util.computeConv2DInfo's). */
export interface ConvGeometry {
  kh: number;
  kw: number;
  strideHeight: number;
  strideWidth: number;
  top: number;
  left: number;
}

/** Output pixels per filter-gradient block: the block's dy and the x rows it touches stay in L1/L2 while every tap and tile visits them. */
const BLOCK_PIXELS = 256;

/** The package's tsconfig has no DOM lib; these are the few WebAssembly members used. */
interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const wasmApi = (): WasmApi => (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const modules = new Map<boolean, object>();
const instances = new WeakMap<WasmMemory, ConvGradsExports>();
const helpers = new WeakMap<WasmMemory, ConvGradsHelper>();

function isShared(memory: WasmMemory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

function moduleFor(shared: boolean): object {
  let mod = modules.get(shared);
  if (!mod) {
    const base64 = shared ? CONV_GRADS_SHARED_WASM_BASE64 : CONV_GRADS_WASM_BASE64;
    mod = new (wasmApi().Module)(Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0)));
    modules.set(shared, mod);
  }
  return mod;
}

/** The kernels instantiated on `memory` (one instance per heap, created on first use). */
export function convGradsKernels(memory: WasmMemory): ConvGradsExports {
  let inst = instances.get(memory);
  if (!inst) {
    inst = new (wasmApi().Instance)(moduleFor(isShared(memory)), { env: { memory } }).exports as ConvGradsExports;
    instances.set(memory, inst);
  }
  return inst;
}

/** The helper thread for a shared heap (the multi-threaded build), started on first use; null otherwise. */
function helperFor(memory: WasmMemory): ConvGradsHelper | null {
  if (!isShared(memory)) return null;
  let helper = helpers.get(memory);
  if (!helper) {
    helper = new ConvGradsHelper(moduleFor(true), memory);
    helpers.set(memory, helper);
  }
  return helper;
}

/** The wasm heap of `backend`, or undefined for other backends. */
export function wasmHeapOf(backend: KernelBackend): WasmMemory | undefined {
  const wasm = (backend as unknown as WasmBackendInternals).wasm;
  const memory = wasm?.asm?.memory ?? wasm?.wasmMemory;
  return memory instanceof wasmApi().Memory ? memory : undefined;
}

interface Heap {
  memory: WasmMemory;
  offsets: number[];
}

/** Heap offsets of float32 `tensors`, or null when they are not all on an accessible wasm heap. */
function onHeap(backend: KernelBackend, tensors: TensorInfo[]): Heap | null {
  if (tensors.some((t) => t.dtype !== 'float32')) return null;
  const memory = wasmHeapOf(backend);
  if (!memory) return null;
  const ids = (backend as unknown as WasmBackendInternals).dataIdMap;
  const offsets: number[] = [];
  for (const t of tensors) {
    const off = ids.get(t.dataId)?.memoryOffset;
    if (off === undefined) return null;
    offsets.push(off);
  }
  return { memory, offsets };
}

/** A float32 output tensor on the heap (zero-filled for kernels that accumulate) and its offset. */
function newOutput(backend: KernelBackend, memory: WasmMemory, shape: number[], zero: boolean): { out: TensorInfo; offset: number } {
  const b = backend as unknown as WasmBackendInternals;
  const out = b.makeOutput(shape, 'float32');
  const offset = b.dataIdMap.get(out.dataId)!.memoryOffset;
  // Read the buffer only after makeOutput, which may have grown (and replaced) it.
  if (zero) new Float32Array(memory.buffer, offset, shape.reduce((a, d) => a * d, 1)).fill(0);
  return { out, offset };
}

/** Runs `whole` here, or `mine` here and `theirs` on the helper thread when there is one and the work splits. */
function runSplit(memory: WasmMemory, whole: ConvGradTask, split: () => [ConvGradTask, ConvGradTask] | null): void {
  const kernels = convGradsKernels(memory);
  const helper = helperFor(memory);
  const halves = helper?.ready() ? split() : null;
  if (helper && halves) helper.run(halves[1], () => runTask(kernels, halves[0]));
  else runTask(kernels, whole);
}

/**
 * dW [KH,KW,C,Co] of NHWC `x` [N,H,W,C] and `dy` [N,Ho,Wo,Co] on the wasm backend, or null when the kernel
 * does not apply (channel counts, dtype, or a backend without an accessible heap).
 */
export function wasmFilterGrad(backend: KernelBackend, x: TensorInfo, dy: TensorInfo, g: ConvGeometry): TensorInfo | null {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [, ho, wo, co] = dy.shape as [number, number, number, number];
  if (c % 4 !== 0 || co % 8 !== 0) return null;
  const heap = onHeap(backend, [x, dy]);
  if (!heap) return null;
  const { out, offset } = newOutput(backend, heap.memory, [g.kh, g.kw, c, co], true);
  const rows = n * ho;
  const block = Math.max(1, Math.floor(BLOCK_PIXELS / Math.max(1, wo)));
  const task = (cb0: number, cb1: number, ob0: number, ob1: number): ConvGradTask =>
    [0, heap.offsets[0]!, heap.offsets[1]!, offset, h, w, c, ho, wo, co, g.kh, g.kw, g.strideHeight, g.strideWidth, g.top, g.left, rows, block, cb0, cb1, ob0, ob1];
  const cBlocks = c / 4;
  const oBlocks = co / 8;
  // Split the input channels (whole rows of dW, so the threads never write one cache line); for C = 4 the
  // output channels.
  runSplit(heap.memory, task(0, cBlocks, 0, oBlocks), () => {
    if (cBlocks >= 2) return [task(0, cBlocks >> 1, 0, oBlocks), task(cBlocks >> 1, cBlocks, 0, oBlocks)];
    if (oBlocks >= 2) return [task(0, cBlocks, 0, oBlocks >> 1), task(0, cBlocks, oBlocks >> 1, oBlocks)];
    return null;
  });
  return out;
}

/**
 * dx [N,H,W,C] of NHWC `dy` [N,Ho,Wo,Co] and `filterT` [KH,KW,Co,C] (the filter with its channel axes
 * swapped) on the wasm backend, or null when the kernel does not apply.
 */
export function wasmInputGrad(
  backend: KernelBackend,
  dy: TensorInfo,
  filterT: TensorInfo,
  xShape: readonly [number, number, number, number],
  g: ConvGeometry,
): TensorInfo | null {
  const [n, h, w, c] = xShape;
  const [, ho, wo, co] = dy.shape as [number, number, number, number];
  if (c % 8 !== 0) return null;
  const heap = onHeap(backend, [dy, filterT]);
  if (!heap) return null;
  const { out, offset } = newOutput(backend, heap.memory, [n, h, w, c], false); // every pixel is stored
  const groups = Math.ceil(n / 4);
  const task = (g0: number, g1: number): ConvGradTask =>
    [1, heap.offsets[0]!, heap.offsets[1]!, offset, n, h, w, c, ho, wo, co, g.kh, g.kw, g.strideHeight, g.strideWidth, g.top, g.left, g0, g1];
  // Split the images: disjoint pixels of dx.
  runSplit(heap.memory, task(0, groups), () => (groups >= 2 ? [task(0, groups >> 1), task(groups >> 1, groups)] : null));
  return out;
}
