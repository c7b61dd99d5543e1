/**
 * The filter gradient of a 2-D convolution as one SIMD kernel (wasm/conv-dw.wat) that reads x and dy where the
 * tfjs wasm backend keeps them and writes dW into a fresh backend tensor: no im2col, no layout transposes, no
 * copies. XNNPACK has no filter-gradient operator, and expressing dW as a forward convolution (x as C
 * one-channel images, dy as a huge filter) runs at half the speed of the forward convolution; this kernel
 * reaches the forward convolution's speed (bench/kernels.ts).
 *
 * On the multi-threaded build (shared heap) a helper worker_thread computes half of the gradient.
 *
 * Applies to NHWC float32 tensors with C % 4 == 0 and Co % 8 == 0 on the wasm backend (every ResNet conv but
 * the 3-channel stem); other cases return null and the caller falls back to the forward-convolution form.
 */
import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';
import { CONV_DW_SHARED_WASM_BASE64, CONV_DW_WASM_BASE64 } from '../conv-dw-wasm.generated.js';
import { ConvDwHelper, runBlocks } from './conv-dw-helper.js';

interface ConvDwExports {
  conv_dw(
    x: number, dy: number, dw: number,
    H: number, W: number, C: number, Ho: number, Wo: number, Co: number,
    KH: number, KW: number, sh: number, sw: number, top: number, left: number,
    r0: number, r1: number, cb0: number, cb1: number, ob0: number, ob1: number,
  ): void;
  peak_macs(iters: number, out: number): void;
}

/** The parts of tfjs' BackendWasm this kernel touches (they are not in its public typings). */
interface WasmBackendInternals {
  /** `asm.memory`: the single-threaded build exports its memory; the threaded build imports `wasmMemory`. */
  wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
}

/** Geometry of one filter gradient (NHWC), as computed by backend_util.computeConv2DInfo. */
export interface FilterGradGeometry {
  kh: number;
  kw: number;
  strideHeight: number;
  strideWidth: number;
  top: number;
  left: number;
}

/**
 * Output pixels per block: the block's dy and the x rows it touches stay in L1/L2 while every filter tap and
 * channel tile visits them (measured: 128–512 are within a few percent of each other at widths 16 and 64).
 */
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
const instances = new WeakMap<WasmMemory, ConvDwExports>();
const helpers = new WeakMap<WasmMemory, ConvDwHelper>();

function moduleFor(shared: boolean): object {
  let mod = modules.get(shared);
  if (!mod) {
    const base64 = shared ? CONV_DW_SHARED_WASM_BASE64 : CONV_DW_WASM_BASE64;
    mod = new (wasmApi().Module)(Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0)));
    modules.set(shared, mod);
  }
  return mod;
}

/** The kernel instantiated on `memory` (one instance per heap, created on first use). */
export function convDwKernel(memory: WasmMemory): ConvDwExports {
  let inst = instances.get(memory);
  if (!inst) {
    inst = new (wasmApi().Instance)(moduleFor(isShared(memory)), { env: { memory } }).exports as ConvDwExports;
    instances.set(memory, inst);
  }
  return inst;
}

function isShared(memory: WasmMemory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/** The helper thread for a shared heap (the multi-threaded build), started on first use; null otherwise. */
function helperFor(memory: WasmMemory): ConvDwHelper | null {
  if (!isShared(memory)) return null;
  let helper = helpers.get(memory);
  if (!helper) {
    helper = new ConvDwHelper(moduleFor(true), memory);
    helpers.set(memory, helper);
  }
  return helper;
}

function heapOf(backend: KernelBackend): WasmMemory | undefined {
  const wasm = (backend as unknown as WasmBackendInternals).wasm;
  const memory = wasm?.asm?.memory ?? wasm?.wasmMemory;
  return memory instanceof wasmApi().Memory ? memory : undefined;
}

/**
 * dW [KH,KW,C,Co] of NHWC float32 `x` [N,H,W,C] and `dy` [N,Ho,Wo,Co] on the wasm backend, or null when the
 * kernel does not apply (channel counts, dtype, or a backend without an accessible heap).
 */
export function wasmFilterGrad(backend: KernelBackend, x: TensorInfo, dy: TensorInfo, g: FilterGradGeometry): TensorInfo | null {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [, ho, wo, co] = dy.shape as [number, number, number, number];
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || c % 4 !== 0 || co % 8 !== 0) return null;
  const memory = heapOf(backend);
  if (!memory) return null;
  const b = backend as unknown as WasmBackendInternals;
  const xOff = b.dataIdMap.get(x.dataId)?.memoryOffset;
  const dyOff = b.dataIdMap.get(dy.dataId)?.memoryOffset;
  if (xOff === undefined || dyOff === undefined) return null;
  const kernel = convDwKernel(memory);
  const out = b.makeOutput([g.kh, g.kw, c, co], 'float32');
  const outOff = b.dataIdMap.get(out.dataId)!.memoryOffset;
  // The kernel accumulates; read the buffer only after makeOutput, which may have grown (and replaced) it.
  new Float32Array(memory.buffer, outOff, g.kh * g.kw * c * co).fill(0);
  const rows = n * ho;
  const block = Math.max(1, Math.floor(BLOCK_PIXELS / Math.max(1, wo)));
  const task = (cb0: number, cb1: number, ob0: number, ob1: number) =>
    [xOff, dyOff, outOff, h, w, c, ho, wo, co, g.kh, g.kw, g.strideHeight, g.strideWidth, g.top, g.left, rows, block, cb0, cb1, ob0, ob1];
  const cBlocks = c / 4;
  const oBlocks = co / 8;
  const helper = cBlocks >= 2 || oBlocks >= 2 ? helperFor(memory) : null;
  if (helper?.ready()) {
    // Split the input channels (whole rows of dW, so the threads never write one cache line); for C = 4 the
    // output channels.
    const [mine, theirs] =
      cBlocks >= 2
        ? [task(0, cBlocks >> 1, 0, oBlocks), task(cBlocks >> 1, cBlocks, 0, oBlocks)]
        : [task(0, cBlocks, 0, oBlocks >> 1), task(0, cBlocks, oBlocks >> 1, oBlocks)];
    helper.run(theirs, () => runBlocks(kernel, mine));
  } else {
    runBlocks(kernel, task(0, cBlocks, 0, oBlocks));
  }
  return out;
}
