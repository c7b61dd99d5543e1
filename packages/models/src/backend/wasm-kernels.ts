/**
 * The package's own SIMD kernels (wasm/kernels.wat) on the tfjs wasm backend's heap: one compiled module,
 * instantiated on the backend's memory so the kernels read and write tensors where tfjs keeps them, and on the
 * multi-threaded build (shared heap) one helper worker_thread that runs half of a split task.
 */
import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';
import { KERNELS_SHARED_WASM_BASE64, KERNELS_WASM_BASE64 } from '../kernels-wasm.generated.js';
import { KernelsHelper, runTask, type KernelTask, type TaskKernels } from './kernels-helper.js';

export interface WasmKernels extends TaskKernels {
  /** iters × 12 four-lane multiply-adds (48 scalar ones) from registers: the machine's ceiling for this code. */
  peak_macs(iters: number, out: number): void;
  /** Winograd filter transform and the filter gradient's final transform (single-threaded: they are cheap). */
  wino_filter(...args: number[]): void;
  wino_dw_out(...args: number[]): void;
}

/** The parts of tfjs' BackendWasm the kernels touch (they are not in its public typings). */
interface WasmBackendInternals {
  /** `asm.memory`: the single-threaded build exports its memory; the threaded build imports `wasmMemory`. */
  wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
}

/** The package's tsconfig has no DOM lib; these are the few WebAssembly members used. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const wasmApi = (): WasmApi => (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const modules = new Map<boolean, object>();
const instances = new WeakMap<WasmMemory, WasmKernels>();
const helpers = new WeakMap<WasmMemory, KernelsHelper>();

export function isShared(memory: WasmMemory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

function moduleFor(shared: boolean): object {
  let mod = modules.get(shared);
  if (!mod) {
    const base64 = shared ? KERNELS_SHARED_WASM_BASE64 : KERNELS_WASM_BASE64;
    mod = new (wasmApi().Module)(Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0)));
    modules.set(shared, mod);
  }
  return mod;
}

/** The kernels instantiated on `memory` (one instance per heap, created on first use). */
export function wasmKernels(memory: WasmMemory): WasmKernels {
  let inst = instances.get(memory);
  if (!inst) {
    inst = new (wasmApi().Instance)(moduleFor(isShared(memory)), { env: { memory } }).exports as WasmKernels;
    instances.set(memory, inst);
  }
  return inst;
}

/** The helper thread for a shared heap (the multi-threaded build), started on first use; null otherwise. */
function helperFor(memory: WasmMemory): KernelsHelper | null {
  if (!isShared(memory)) return null;
  let helper = helpers.get(memory);
  if (!helper) {
    helper = new KernelsHelper(moduleFor(true), memory);
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

export interface Heap {
  memory: WasmMemory;
  offsets: number[];
}

/** Heap offsets of float32 `tensors`, or null when they are not all on an accessible wasm heap. */
export function onHeap(backend: KernelBackend, tensors: TensorInfo[]): Heap | null {
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
export function newOutput(backend: KernelBackend, memory: WasmMemory, shape: number[], zero: boolean): { out: TensorInfo; offset: number } {
  const b = backend as unknown as WasmBackendInternals;
  const out = b.makeOutput(shape, 'float32');
  const offset = b.dataIdMap.get(out.dataId)!.memoryOffset;
  // Read the buffer only after makeOutput, which may have grown (and replaced) it.
  if (zero) new Float32Array(memory.buffer, offset, shape.reduce((a, d) => a * d, 1)).fill(0);
  return { out, offset };
}

/** Runs `whole` here, or `mine` here and `theirs` on the helper thread when there is one and the work splits. */
export function runSplit(memory: WasmMemory, whole: KernelTask, split: () => [KernelTask, KernelTask] | null): void {
  const kernels = wasmKernels(memory);
  const helper = helperFor(memory);
  const halves = helper?.ready() ? split() : null;
  if (helper && halves) helper.run(halves[1], () => runTask(kernels, halves[0]));
  else runTask(kernels, whole);
}

/** Runs both tasks: `b` on the helper thread while `a` runs here when there is one, else one after the other. */
export function runPair(memory: WasmMemory, a: KernelTask, b: KernelTask): void {
  const kernels = wasmKernels(memory);
  const helper = helperFor(memory);
  if (helper?.ready()) helper.run(b, () => runTask(kernels, a));
  else {
    runTask(kernels, a);
    runTask(kernels, b);
  }
}

