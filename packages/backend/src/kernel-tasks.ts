/**
 * Typed builders of the tasks that run wasm/kernels.wat's split kernels, on the calling thread or the helper
 * thread of `@samrank/core/threads` (wasm/README.md lists every export's arguments and preconditions). Pointers
 * are byte offsets into the tfjs wasm heap; sizes are element counts.
 *
 * Each builder fixes how its kernel is cut into calls of a few hundred microseconds (wasm has no on-stack
 * replacement, so a freshly started thread only runs optimised code from its next call on).
 */
import type { KernelTask } from '@samrank/core';

/** BatchNorm row kernels run in calls of this many rows. */
const BN_ROWS_PER_CALL = 4096;

/** Geometry of a filter gradient dW [KH,KW,C,Co] of x [N,H,W,C] and dy [N,Ho,Wo,Co] (`conv_dw`). */
export interface ConvFilterGradArgs {
  x: number;
  dy: number;
  /** dW, zero-filled: the kernel accumulates. */
  dw: number;
  n: number;
  h: number;
  w: number;
  /** Input channels, C % 4 == 0. */
  c: number;
  ho: number;
  wo: number;
  /** Output channels, Co % 8 == 0. */
  co: number;
  kh: number;
  kw: number;
  strideHeight: number;
  strideWidth: number;
  /** Leading pads. */
  top: number;
  left: number;
}

/** Which part of a filter gradient one thread computes: input-channel blocks (of 4) × output-channel blocks (of 8). */
export interface ChannelBlocks {
  inBlocks: readonly [number, number];
  outBlocks: readonly [number, number];
}

/** conv_dw over every output row (r = n·Ho + oh) in calls of `rowsPerCall` rows, for the given channel blocks. */
export function convFilterGradTask(g: ConvFilterGradArgs, rowsPerCall: number, part: ChannelBlocks): KernelTask {
  const args = [g.x, g.dy, g.dw, g.h, g.w, g.c, g.ho, g.wo, g.co, g.kh, g.kw, g.strideHeight, g.strideWidth, g.top, g.left, 0, 0];
  args.push(part.inBlocks[0], part.inBlocks[1], part.outBlocks[0], part.outBlocks[1]);
  return [{ fn: 'conv_dw', args, loop: { at: 15, from: 0, to: g.n * g.ho, block: rowsPerCall } }];
}

/** Geometry of an input gradient dx [N,H,W,C] of dy [N,Ho,Wo,Co] and the channel-swapped filter [KH,KW,Co,C] (`conv_dx`). */
export interface ConvInputGradArgs {
  dy: number;
  /** The filter with its channel axes swapped: [KH,KW,Co,C]. */
  filterT: number;
  dx: number;
  n: number;
  h: number;
  w: number;
  /** Input channels, C % 8 == 0. */
  c: number;
  ho: number;
  wo: number;
  co: number;
  kh: number;
  kw: number;
  strideHeight: number;
  strideWidth: number;
  top: number;
  left: number;
}

/** conv_dx over image groups (of four images) [g0, g1), one group per call. */
export function convInputGradTask(g: ConvInputGradArgs, groups: readonly [number, number]): KernelTask {
  const args = [
    g.dy,
    g.filterT,
    g.dx,
    g.n,
    g.h,
    g.w,
    g.c,
    g.ho,
    g.wo,
    g.co,
    g.kh,
    g.kw,
    g.strideHeight,
    g.strideWidth,
    g.top,
    g.left,
    0,
    0,
  ];
  return [{ fn: 'conv_dx', args, loop: { at: 16, from: groups[0], to: groups[1], block: 1 } }];
}

/** Operands of a Winograd F(2×2, 3×3) pass over the 2×2 output tiles of [N,H,W,·] (`wino_fwd`, `wino_dw`). */
export interface WinogradArgs {
  /** Input [N,H,W,C]. */
  x: number;
  /** `wino_fwd`: the transformed filter U [16,C,K]; `wino_dw`: dy [N,H,W,K]. */
  second: number;
  /** `wino_fwd`: the output [N,H,W,K]; `wino_dw`: this thread's partial sums [16,C,K] (zeroed). */
  out: number;
  /** This thread's scratch area (winograd-wasm.ts sizes it). */
  scratch: number;
  /** Even sizes. */
  h: number;
  w: number;
  /** C % 4 == 0. */
  c: number;
  /** K % 8 == 0. */
  k: number;
  /** Tiles per block: the kernel's block size and the tiles per call. */
  block: number;
}

function winogradTask(fn: 'wino_fwd' | 'wino_dw', g: WinogradArgs, tiles: readonly [number, number]): KernelTask {
  const args = [g.x, g.second, g.out, g.scratch, g.h, g.w, g.c, g.k, g.block, 0, 0];
  return [{ fn, args, loop: { at: 9, from: tiles[0], to: tiles[1], block: g.block } }];
}

/** The Winograd forward pass (or the input gradient's, with the reversed filter) over tiles [t0, t1), a block per call. */
export function winogradForwardTask(g: WinogradArgs, tiles: readonly [number, number]): KernelTask {
  return winogradTask('wino_fwd', g, tiles);
}

/** The Winograd filter gradient's partial sums over tiles [t0, t1), a block per call. */
export function winogradFilterGradTask(g: WinogradArgs, tiles: readonly [number, number]): KernelTask {
  return winogradTask('wino_dw', g, tiles);
}

function rowTask(fn: string, head: number[], rows: readonly [number, number]): KernelTask {
  return [{ fn, args: [...head, 0, 0], loop: { at: head.length, from: rows[0], to: rows[1], block: BN_ROWS_PER_CALL } }];
}

/** Per-channel Σ(x − shift) and Σ(x − shift)² of x [rows, C] into `out` (2·C float64, accumulated) (`channel_sums`). */
export interface ChannelSumsArgs {
  x: number;
  /** Per-channel float32 shift, or 0 for none. */
  shift: number;
  out: number;
  channels: number;
}

export function channelSumsTask(a: ChannelSumsArgs, rows: readonly [number, number]): KernelTask {
  return rowTask('channel_sums', [a.x, a.shift, a.out, a.channels], rows);
}

/** Σdm and Σdm·(x − mean) of BatchNorm's backward pass into `out` (2·C float64, accumulated) (`bn_grad_sums`). */
export interface BatchNormGradSumsArgs {
  dy: number;
  x: number;
  /** The forward output y whose sign masks dy (BatchNorm+ReLU), or 0 for no mask. */
  mask: number;
  mean: number;
  out: number;
  channels: number;
}

export function batchNormGradSumsTask(a: BatchNormGradSumsArgs, rows: readonly [number, number]): KernelTask {
  return rowTask('bn_grad_sums', [a.dy, a.x, a.mask, a.mean, a.out, a.channels], rows);
}

/** dx = a·dm + b·x + k per channel, coef = [a, b, k] (3·C float32) (`bn_dx`). */
export interface BatchNormInputGradArgs {
  dy: number;
  x: number;
  mask: number;
  dx: number;
  coef: number;
  channels: number;
}

export function batchNormInputGradTask(a: BatchNormInputGradArgs, rows: readonly [number, number]): KernelTask {
  return rowTask('bn_dx', [a.dy, a.x, a.mask, a.dx, a.coef, a.channels], rows);
}

/** y = relu?(x·scale + shift) per channel (`bn_affine`). */
export interface ChannelAffineArgs {
  x: number;
  y: number;
  scale: number;
  shift: number;
  channels: number;
  relu: boolean;
}

export function channelAffineTask(a: ChannelAffineArgs, rows: readonly [number, number]): KernelTask {
  return rowTask('bn_affine', [a.x, a.y, a.scale, a.shift, a.channels, a.relu ? 1 : 0], rows);
}
