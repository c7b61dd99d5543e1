/**
 * What the hardware allows wasm code on this machine: the register-only f32x4 multiply-add rate of one thread
 * (wasm/kernels.wat's peak_macs: twelve independent accumulators, no memory traffic), and the time a PreAct
 * ResNet-18 SAM step's convolution multiply-adds would take at that rate on every core. No convolution kernel,
 * ours or XNNPACK's, can beat it; the ratio to PyTorch's step (same run) is the best any wasm port could reach.
 * The multiply-adds are counted from the Conv2D kernels one forward pass runs (tf.profile), not from a table.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BenchEntry } from '../../../bench/lib.js';
import { onHeap, wasmHeapOf, wasmKernels } from '../src/backend/wasm-kernels.js';
import { BatchNormStateStore, preActResNet18 } from '../src/index.js';

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

/** Multiply-adds of one SGD step's convolutions: forward, filter gradients, and input gradients but the stem's. */
export async function stepConvMacs(width: number, batch: number): Promise<number> {
  const model = preActResNet18({ width });
  const { params, bnState } = model.init(0);
  const store = new BatchNormStateStore(bnState);
  const x = tf.zeros([batch, 32, 32, 3]) as tf.Tensor4D;
  const info = await tf.profile(() => {
    tf.dispose(model.apply(params, store.state, x, { training: false }).logits);
  });
  let forward = 0;
  let stem = 0;
  for (const k of info.kernels) {
    if (k.name !== 'Conv2D' && k.name !== 'FusedConv2D') continue;
    const [kh, kw, cin] = k.inputShapes[1] as number[];
    const macs = (k.outputShapes[0] as number[]).reduce((a, d) => a * d, 1) * kh! * kw! * cin!;
    forward += macs;
    if (cin === 3) stem += macs;
  }
  x.dispose();
  store.dispose();
  tf.dispose(Object.values(params));
  return 3 * forward - stem;
}

/** The peak entry and, per width, the SAM step at that peak on `cores` threads against PyTorch's SAM step. */
export async function rooflineEntries(widths: number[], batch: number, cores: number, torchSamMs: Record<number, number | undefined>): Promise<BenchEntry[]> {
  const gmacs = peakGmacs();
  const entries: BenchEntry[] = [
    {
      name: 'wasm f32x4 peak multiply-add rate, 1 thread (register-only loop, no memory traffic)',
      ms: (ITERS * MACS_PER_ITER) / gmacs / 1e6,
      notes: `${gmacs.toFixed(1)} GMAC/s for ${((ITERS * MACS_PER_ITER) / 1e9).toFixed(2)} GMAC`,
    },
  ];
  for (const width of widths) {
    const samMacs = 2 * (await stepConvMacs(width, batch));
    const ms = samMacs / (gmacs * cores) / 1e6;
    const torch = torchSamMs[width];
    entries.push({
      name: `preact-resnet18 w${width} b${batch}: SAM step's convolution multiply-adds at the wasm peak on ${cores} threads (lower bound)`,
      ms,
      ...(torch ? { reference: { name: 'PyTorch 2 threads SAM step', ms: torch } } : {}),
      notes: `${(samMacs / 1e9).toFixed(1)} GMAC; any wasm SAM step takes at least this long on this machine`,
    });
  }
  return entries;
}
