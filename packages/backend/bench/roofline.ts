/**
 * What the hardware allows wasm code on this machine: the register-only f32x4 multiply-add rate of one thread
 * (wasm/kernels.wat's peak_macs: twelve independent accumulators, no memory traffic). No kernel of this package
 * can beat it; @samrank/experiments' bench/roofline.ts turns it into a lower bound on a ResNet-18 SAM step.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BenchEntry } from '../../../bench/lib.js';
import { onHeap, wasmHeapOf, wasmKernels } from '../src/wasm-kernels.js';

const ITERS = 20_000_000;
/** Twelve f32x4 multiply-adds per iteration: 48 scalar ones. */
const MACS_PER_ITER = 48;

/** Median GMAC/s of the register-only loop on this thread (after warm-up runs that let V8 optimise it). */
export function peakGmacs(): number {
  const memory = wasmHeapOf(tf.backend());
  if (!memory) throw new Error('roofline: the active backend is not wasm');
  const kernels = wasmKernels(memory);
  const out = tf.zeros([48]);
  const offset = onHeap(tf.backend(), [out])!.offsets[0]!;
  const rates: number[] = [];
  for (let rep = 0; rep < 8; rep++) {
    const t0 = performance.now();
    kernels.peak_macs(ITERS, offset);
    const ms = performance.now() - t0;
    if (rep >= 3) rates.push((ITERS * MACS_PER_ITER) / ms / 1e6);
  }
  out.dispose();
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}

/** The peak entry (the active backend must be wasm). */
export function peakEntry(gmacs = peakGmacs()): BenchEntry {
  return {
    name: 'wasm f32x4 peak multiply-add rate, 1 thread (register-only loop, no memory traffic)',
    ms: (ITERS * MACS_PER_ITER) / gmacs / 1e6,
    notes: `${gmacs.toFixed(1)} GMAC/s for ${((ITERS * MACS_PER_ITER) / 1e9).toFixed(2)} GMAC`,
  };
}
