/**
 * The package's own SIMD kernels (wasm/kernels.wat) on the tfjs wasm backend's heap: one compiled module,
 * instantiated on the backend's memory so the kernels read and write tensors where tfjs keeps them, and on the
 * multi-threaded build (shared heap) one helper worker_thread (`@samrank/core/threads`) that runs half of a split
 * task.
 */
import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';
import {
  compileBase64,
  instantiateWithMemory,
  isSharedMemory,
  kernelBuild,
  relaxedSimdAvailable,
  type KernelBuild,
  runTask,
  type KernelTask,
  type WasmMemory,
} from '@samrank/core';
import { HelperThread, HelperThreadError } from '@samrank/core/threads';
import { KernelArgumentError } from './errors.js';
import {
  KERNELS_RELAXED_SHARED_WASM_BASE64,
  KERNELS_RELAXED_WASM_BASE64,
  KERNELS_SHARED_WASM_BASE64,
  KERNELS_WASM_BASE64,
} from './kernels-wasm.generated.js';

export type { WasmMemory } from '@samrank/core';

/** The exports of wasm/kernels.wat (wasm/README.md lists their arguments). */
export interface WasmKernels {
  conv_dw(...args: number[]): void;
  conv_dx(...args: number[]): void;
  channel_sums(...args: number[]): void;
  bn_grad_sums(...args: number[]): void;
  bn_dx(...args: number[]): void;
  bn_affine(...args: number[]): void;
  wino_fwd(...args: number[]): void;
  wino_dw(...args: number[]): void;
  /** Winograd filter transform and the filter gradient's final transform (single-threaded: they are cheap). */
  wino_filter(...args: number[]): void;
  wino_dw_out(...args: number[]): void;
  /** iters × 12 four-lane multiply-adds (48 scalar ones) from registers: the machine's ceiling for this code. */
  peak_macs(iters: number, out: number): void;
}

/** The parts of tfjs' BackendWasm the kernels touch (they are not in its public typings). */
interface WasmBackendInternals {
  /** `asm.memory`: the single-threaded build exports its memory; the threaded build imports `wasmMemory`. */
  wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
}

/** The package's tsconfig has no DOM lib; `Memory` is the one WebAssembly member used here. */
interface WasmApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const wasmApi = (): WasmApi => (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const modules = new Map<boolean, object>();
let instances = new WeakMap<WasmMemory, WasmKernels>();
const helpers = new WeakMap<WasmMemory, HelperThread>();
let variant: KernelBuild | null = null;

/**
 * Which build of the kernels runs: 'relaxed' (every multiply-add one `f32x4.relaxed_madd`, a fused multiply-add on
 * hardware with FMA) where the runtime has relaxed SIMD and `SAMRANK_RELAXED_SIMD` is not 0, 'plain' otherwise. The
 * fused build is the default: the ResNet-18 w16 SAM step took 897 ms with it against 976 ms without (2 threads,
 * Node 22, bench/resnet.ts). The two round differently, so results can differ in the last bits between them; each
 * is deterministic, on one thread or two.
 */
export function wasmKernelVariant(): KernelBuild {
  variant ??= kernelBuild();
  return variant;
}

/**
 * @internal Switches the kernels to one build for the heaps they meet from now on (tests compare both; 'relaxed' needs
 * relaxed SIMD). Heaps that already have a helper thread keep its build: switch before threads start.
 */
export function useWasmKernelBuild(build: KernelBuild): void {
  if (build === 'relaxed' && !relaxedSimdAvailable()) throw new KernelArgumentError('this runtime has no relaxed SIMD');
  variant = build;
  modules.clear();
  instances = new WeakMap();
}

function moduleFor(shared: boolean): object {
  let mod = modules.get(shared);
  if (!mod) {
    const relaxed = wasmKernelVariant() === 'relaxed';
    mod = compileBase64(
      relaxed
        ? shared
          ? KERNELS_RELAXED_SHARED_WASM_BASE64
          : KERNELS_RELAXED_WASM_BASE64
        : shared
          ? KERNELS_SHARED_WASM_BASE64
          : KERNELS_WASM_BASE64,
    );
    modules.set(shared, mod);
  }
  return mod;
}

/** The kernels instantiated on `memory` (one instance per heap, created on first use). */
export function wasmKernels(memory: WasmMemory): WasmKernels {
  let inst = instances.get(memory);
  if (!inst) {
    inst = instantiateWithMemory<WasmKernels>(moduleFor(isSharedMemory(memory)), memory);
    instances.set(memory, inst);
  }
  return inst;
}

/** The helper thread for a shared heap (the multi-threaded build), started on first use; null otherwise. */
function helperFor(memory: WasmMemory): HelperThread | null {
  if (!isSharedMemory(memory)) return null;
  let helper = helpers.get(memory);
  if (!helper) {
    helper = new HelperThread(moduleFor(true), memory, { label: '@samrank/backend wasm kernels' });
    helpers.set(memory, helper);
  }
  return helper;
}

/** Runs `mine` here and `theirs` on the helper; a failure of the helper's share is a KernelArgumentError. */
function runShared(helper: HelperThread, kernels: WasmKernels, mine: KernelTask, theirs: KernelTask): void {
  try {
    helper.run(theirs, () => runTask(kernels, mine));
  } catch (err) {
    if (err instanceof HelperThreadError) throw new KernelArgumentError(err.message, { cause: err });
    throw err;
  }
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
  if (zero)
    new Float32Array(
      memory.buffer,
      offset,
      shape.reduce((a, d) => a * d, 1),
    ).fill(0);
  return { out, offset };
}

/** Runs `whole` here, or the first half here and the second on the helper thread when there is one and the work splits. */
export function runSplit(memory: WasmMemory, whole: KernelTask, split: () => [KernelTask, KernelTask] | null): void {
  const kernels = wasmKernels(memory);
  const helper = helperFor(memory);
  const halves = helper?.ready() ? split() : null;
  if (helper && halves) runShared(helper, kernels, halves[0], halves[1]);
  else runTask(kernels, whole);
}

/** Runs both tasks: `b` on the helper thread while `a` runs here when there is one, else one after the other. */
export function runPair(memory: WasmMemory, a: KernelTask, b: KernelTask): void {
  const kernels = wasmKernels(memory);
  const helper = helperFor(memory);
  if (helper?.ready()) runShared(helper, kernels, a, b);
  else {
    runTask(kernels, a);
    runTask(kernels, b);
  }
}
