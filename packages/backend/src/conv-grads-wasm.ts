/**
 * Both gradients of a 2-D convolution as SIMD kernels (wasm/kernels.wat) that read their inputs where the
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
import { convFilterGradTask, convInputGradTask, type ConvFilterGradArgs, type ConvInputGradArgs } from './kernel-tasks.js';
import { newOutput, onHeap, runSplit } from './wasm-kernels.js';

/** Filter taps, strides and leading pads of a convolution (backend_util.computeConv2DInfo's). */
export interface ConvGeometry {
  kh: number;
  kw: number;
  strideHeight: number;
  strideWidth: number;
  top: number;
  left: number;
}

/**
 * Output pixels per filter-gradient block: about 32 KiB of x and dy (L1-sized), so a block stays in cache while
 * every tap and tile visits it; between 32 and 256 pixels. Measured with interleaved runs (ResNet-18 w16 layers,
 * 1 and 2 threads): 32 KiB was within noise of the best of 8–128 KiB on every layer, 8 KiB 10–20 % slower.
 */
function blockPixels(c: number, co: number): number {
  return Math.min(256, Math.max(32, Math.round(32768 / ((c + co) * 4))));
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
  const args: ConvFilterGradArgs = { x: heap.offsets[0]!, dy: heap.offsets[1]!, dw: offset, n, h, w, c, ho, wo, co, ...g };
  const rowsPerCall = Math.max(1, Math.floor(blockPixels(c, co) / Math.max(1, wo)));
  const task = (cb0: number, cb1: number, ob0: number, ob1: number) =>
    convFilterGradTask(args, rowsPerCall, { inBlocks: [cb0, cb1], outBlocks: [ob0, ob1] });
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
  const args: ConvInputGradArgs = { dy: heap.offsets[0]!, filterT: heap.offsets[1]!, dx: offset, n, h, w, c, ho, wo, co, ...g };
  const task = (g0: number, g1: number) => convInputGradTask(args, [g0, g1]);
  // Split the images: disjoint pixels of dx.
  runSplit(heap.memory, task(0, groups), () => (groups >= 2 ? [task(0, groups >> 1), task(groups >> 1, groups)] : null));
  return out;
}
