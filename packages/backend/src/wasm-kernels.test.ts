import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { KERNELS_WAT_SHA256 } from './kernels-wasm.generated.js';
import { onHeap, wasmHeapOf, wasmKernels } from './wasm-kernels.js';

describe('the package kernels module', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
  });

  it('was assembled from the current wasm/kernels.wat', () => {
    const source = readFileSync(new URL('../wasm/kernels.wat', import.meta.url), 'utf8');
    expect(createHash('sha256').update(source).digest('hex')).toBe(KERNELS_WAT_SHA256);
  });

  it('is instantiated once per heap, on the backend memory itself', () => {
    const memory = wasmHeapOf(tf.backend())!;
    expect(memory).toBeDefined();
    expect(wasmKernels(memory)).toBe(wasmKernels(memory));
  });

  it('peak_macs accumulates iters products a·b in each of its 48 lanes (the roofline benchmark measures real work)', () => {
    const memory = wasmHeapOf(tf.backend())!;
    const out = tf.zeros([48]);
    const offset = onHeap(tf.backend(), [out])!.offsets[0]!;
    wasmKernels(memory).peak_macs(1000, offset);
    const values = out.dataSync();
    const a = [1.0000001, 0.9999999, 1.0000002, 0.9999998];
    const b = [0.5, 0.25, 0.125, 0.0625];
    for (let q = 0; q < 12; q++) {
      for (let lane = 0; lane < 4; lane++) expect(values[q * 4 + lane]).toBeCloseTo(1000 * Math.fround(a[lane]!) * b[lane]!, 2);
    }
    out.dispose();
  });
});
