import { runTask, type KernelTask } from '@samrank/core';
import { describe, expect, it } from 'vitest';
import {
  batchNormGradSumsTask,
  batchNormInputGradTask,
  channelAffineTask,
  channelSumsTask,
  convFilterGradTask,
  convInputGradTask,
  winogradFilterGradTask,
  winogradForwardTask,
} from './kernel-tasks.js';

/** The calls `task` makes, as [export, arguments] (what the kernels would receive on either thread). */
function calls(task: KernelTask): [string, number[]][] {
  const out: [string, number[]][] = [];
  const exports = new Proxy(
    {},
    {
      get:
        (_, fn: string) =>
        (...args: number[]) =>
          out.push([fn, args]),
    },
  );
  runTask(exports, task);
  return out;
}

const geometry = { n: 2, h: 5, w: 6, c: 8, ho: 3, wo: 3, co: 16, kh: 3, kw: 3, strideHeight: 2, strideWidth: 2, top: 1, left: 1 };

describe('kernel task builders (wasm/README.md argument order)', () => {
  it('conv_dw: the output rows n·Ho in calls of rowsPerCall, for the given channel blocks', () => {
    const task = convFilterGradTask({ x: 100, dy: 200, dw: 300, ...geometry }, 4, { inBlocks: [0, 1], outBlocks: [1, 2] });
    const head = [100, 200, 300, 5, 6, 8, 3, 3, 16, 3, 3, 2, 2, 1, 1];
    expect(calls(task)).toEqual([
      ['conv_dw', [...head, 0, 4, 0, 1, 1, 2]],
      ['conv_dw', [...head, 4, 6, 0, 1, 1, 2]],
    ]);
  });

  it('conv_dx: one image group of four per call', () => {
    const task = convInputGradTask({ dy: 1, filterT: 2, dx: 3, ...geometry }, [1, 3]);
    const head = [1, 2, 3, 2, 5, 6, 8, 3, 3, 16, 3, 3, 2, 2, 1, 1];
    expect(calls(task)).toEqual([
      ['conv_dx', [...head, 1, 2]],
      ['conv_dx', [...head, 2, 3]],
    ]);
  });

  it('wino_fwd / wino_dw: tiles in blocks of the kernel block size, which is also an argument', () => {
    const g = { x: 8, second: 16, out: 24, scratch: 32, h: 4, w: 4, c: 4, k: 8, block: 3 };
    expect(calls(winogradForwardTask(g, [2, 7]))).toEqual([
      ['wino_fwd', [8, 16, 24, 32, 4, 4, 4, 8, 3, 2, 5]],
      ['wino_fwd', [8, 16, 24, 32, 4, 4, 4, 8, 3, 5, 7]],
    ]);
    expect(calls(winogradFilterGradTask(g, [0, 3]))).toEqual([['wino_dw', [8, 16, 24, 32, 4, 4, 4, 8, 3, 0, 3]]]);
  });

  it('BatchNorm kernels: rows [r0, r1) in calls of 4096 rows', () => {
    expect(calls(channelSumsTask({ x: 1, shift: 0, out: 2, channels: 4 }, [100, 9000]))).toEqual([
      ['channel_sums', [1, 0, 2, 4, 100, 4196]],
      ['channel_sums', [1, 0, 2, 4, 4196, 8292]],
      ['channel_sums', [1, 0, 2, 4, 8292, 9000]],
    ]);
    expect(calls(batchNormGradSumsTask({ dy: 1, x: 2, mask: 0, mean: 3, out: 4, channels: 8 }, [0, 10]))).toEqual([
      ['bn_grad_sums', [1, 2, 0, 3, 4, 8, 0, 10]],
    ]);
    expect(calls(batchNormInputGradTask({ dy: 1, x: 2, mask: 5, dx: 6, coef: 7, channels: 8 }, [3, 4]))).toEqual([
      ['bn_dx', [1, 2, 5, 6, 7, 8, 3, 4]],
    ]);
    expect(calls(channelAffineTask({ x: 1, y: 2, scale: 3, shift: 4, channels: 8, relu: true }, [0, 0]))).toEqual([]);
    expect(calls(channelAffineTask({ x: 1, y: 2, scale: 3, shift: 4, channels: 8, relu: true }, [0, 1]))).toEqual([
      ['bn_affine', [1, 2, 3, 4, 8, 1, 0, 1]],
    ]);
  });
});
