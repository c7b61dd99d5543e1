/**
 * 3×3 stride-1 convolutions padded by one (every ResNet-18 convolution but the stem, the strided ones and the
 * 1×1 shortcuts) with Winograd's F(2×2, 3×3) on the tfjs wasm heap (wasm/kernels.wat, `wino_*`): 16
 * multiply-adds per 2×2 output tile and channel pair instead of 36, for the forward pass, the input gradient
 * (a forward pass of dy with the reversed filter) and the filter gradient. Transforms and products run tile
 * block by tile block in cache, with no tensor-sized intermediate.
 *
 * Rounding: the transforms add and subtract up to 16 terms before the products, so results differ from direct
 * summation by a few float32 ulps of the largest terms (tests bound it at 1e-5 relative to the largest output).
 *
 * On the multi-threaded build the tiles split between the two threads; the filter gradient always sums the two
 * halves' partial sums separately and adds them last, so one and two threads give bit-identical results.
 */
import type { backend_util, KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';
import { winogradFilterGradTask, winogradForwardTask } from './kernel-tasks.js';
import { newOutput, onHeap, runPair, runSplit, wasmKernels, type WasmMemory } from './wasm-kernels.js';

/**
 * Whether a convolution with geometry `info` is one the Winograd kernels take: 3×3, stride 1, undilated, padded
 * by one on every side, even output sizes, and (for the convolution the kernel runs) input channels % 4 == 0 and
 * output channels % 8 == 0.
 */
export function winogradApplies(info: backend_util.Conv2DInfo, inChannels: number, outChannels: number): boolean {
  const { padInfo: p } = info;
  return (
    info.filterHeight === 3 &&
    info.filterWidth === 3 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    p.top === 1 &&
    p.left === 1 &&
    p.bottom === 1 &&
    p.right === 1 &&
    info.outHeight === info.inHeight &&
    info.outWidth === info.inWidth &&
    info.inHeight % 2 === 0 &&
    info.inWidth % 2 === 0 &&
    inChannels % 4 === 0 &&
    outChannels % 8 === 0
  );
}

/**
 * Tiles per block. Measured on the ResNet-18 layer shapes (batch 128, widths 16 and 64; bench/winograd-blocks.ts,
 * best of 7 interleaved runs): 12–24 tiles are within noise of the best on every layer; 4 and 64+ lose up to 2×
 * on 16- and 32-channel layers (the block's buffers leave L1), 8 loses 10–20 % on 128-channel filter gradients
 * (the 16·C·K products and partial sums are streamed once per block).
 */
export const WINOGRAD_BLOCK = 24;

/** Float32 elements of one thread's scratch (see kernels.wat: zero row, address table, buffers, V and M/E). */
function scratchFloats(c: number, k: number, block: number): number {
  return Math.max(c, k) + 16 + 64 + 16 * block * (c + k);
}

interface Scratch {
  tensor: TensorInfo;
  /** Byte offsets of the two threads' scratch areas. */
  areas: [number, number];
}

function newScratch(backend: KernelBackend, memory: WasmMemory, c: number, k: number, block: number): Scratch {
  const floats = scratchFloats(c, k, block);
  // Zero-filled once so that the rows of a short last block (computed, never stored) hold no NaN patterns.
  const { out, offset } = newOutput(backend, memory, [2 * floats], true);
  return { tensor: out, areas: [offset, offset + 4 * floats] };
}

/** The first tile of the second thread's half: whole blocks only, 0 when there are fewer than two. */
function splitTile(tiles: number, block: number): number {
  return Math.floor(tiles / 2 / block) * block;
}

/** Runs `body`, then releases `temps`; releases `out` as well when `body` throws, so no half-written output escapes. */
function runReleasing(backend: KernelBackend, temps: TensorInfo[], out: TensorInfo, body: () => void): TensorInfo {
  try {
    body();
  } catch (err) {
    backend.disposeData(out.dataId);
    throw err;
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
  return out;
}

/** The transform buffer inside a scratch area (wasm/kernels.wat's layout). */
function transformBuffer(area: number, c: number, k: number): number {
  return area + 4 * Math.max(c, k) + 64;
}

/**
 * Output [N,H,W,CO] of the 3×3 stride-1 pad-1 convolution of `x` [N,H,W,CI]; the filter is `filter` [3,3,CI,CO],
 * or with `reversed` the input gradient's filter: `filter` [3,3,CO,CI] reversed on both spatial axes with its
 * channel axes swapped (so `x` is dy and the output dx). Null when the tensors are not on an accessible wasm heap.
 * The caller checks winogradApplies (CI % 4 == 0, CO % 8 == 0, even H and W).
 */
export function winogradConv(
  backend: KernelBackend,
  x: TensorInfo,
  filter: TensorInfo,
  reversed: boolean,
  block?: number,
): TensorInfo | null {
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const co = reversed ? filter.shape[2]! : filter.shape[3]!;
  const heap = onHeap(backend, [x, filter]);
  if (!heap) return null;
  const { memory } = heap;
  block ??= WINOGRAD_BLOCK;
  const u = newOutput(backend, memory, [16, ci, co], false);
  const scratch = newScratch(backend, memory, ci, co, block);
  const y = newOutput(backend, memory, [n, h, w, co], false);
  return runReleasing(backend, [u.out, scratch.tensor], y.out, () => {
    const tap = ci * co * 4;
    // Heap offsets stay valid when an allocation above grows the heap.
    const [xOff, fOff] = heap.offsets as [number, number];
    if (reversed) wasmKernels(memory).wino_filter(fOff, u.offset, ci, co, 8 * tap, -tap, 1, ci, transformBuffer(scratch.areas[0], ci, co));
    else wasmKernels(memory).wino_filter(fOff, u.offset, ci, co, 0, tap, co, 1, transformBuffer(scratch.areas[0], ci, co));
    const tiles = n * (h / 2) * (w / 2);
    const task = (area: number, t0: number, t1: number) =>
      winogradForwardTask({ x: xOff, second: u.offset, out: y.offset, scratch: area, h, w, c: ci, k: co, block }, [t0, t1]);
    const mid = splitTile(tiles, block);
    runSplit(memory, task(scratch.areas[0], 0, tiles), () =>
      mid > 0 ? [task(scratch.areas[0], 0, mid), task(scratch.areas[1], mid, tiles)] : null,
    );
  });
}

/**
 * dW [3,3,C,K] of the 3×3 stride-1 pad-1 convolution for x [N,H,W,C] and dy [N,H,W,K], or null when the tensors
 * are not on an accessible wasm heap. The caller checks winogradApplies.
 */
export function winogradFilterGrad(backend: KernelBackend, x: TensorInfo, dy: TensorInfo, block?: number): TensorInfo | null {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const k = dy.shape[3]!;
  const heap = onHeap(backend, [x, dy]);
  if (!heap) return null;
  const { memory } = heap;
  block ??= WINOGRAD_BLOCK;
  const partials = newOutput(backend, memory, [2, 16, c, k], true);
  const scratch = newScratch(backend, memory, c, k, block);
  const dw = newOutput(backend, memory, [3, 3, c, k], false);
  return runReleasing(backend, [partials.out, scratch.tensor], dw.out, () => {
    const [xOff, dyOff] = heap.offsets as [number, number];
    const tiles = n * (h / 2) * (w / 2);
    const half = 16 * c * k * 4;
    const task = (i: 0 | 1, t0: number, t1: number) =>
      winogradFilterGradTask({ x: xOff, second: dyOff, out: partials.offset + i * half, scratch: scratch.areas[i], h, w, c, k, block }, [
        t0,
        t1,
      ]);
    // A fixed split: the two partial sums are the same whichever thread computes them. Under two blocks the
    // first is empty (its partial sums stay zero) and the second runs here.
    const mid = splitTile(tiles, block);
    if (mid > 0) runPair(memory, task(0, 0, mid), task(1, mid, tiles));
    else runSplit(memory, task(1, 0, tiles), () => null);
    wasmKernels(memory).wino_dw_out(partials.offset, partials.offset + half, dw.offset, c, k, transformBuffer(scratch.areas[0], c, k));
  });
}
