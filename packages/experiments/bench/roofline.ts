/**
 * The time a PreAct ResNet-18 SAM step's convolution multiply-adds would take at this machine's wasm peak rate
 * (@samrank/backend's bench/roofline.ts) on every core, counted two ways:
 * - direct: the multiply-adds of the convolutions' definition (what XNNPACK and direct kernels do);
 * - as computed here: 3×3 stride-1 layers as Winograd F(2×2, 3×3) products (4/9 of the direct count; the
 *   transforms' additions not counted), the rest direct. No kernel of @samrank/backend can beat that bound.
 * The multiply-adds are counted from the Conv2D kernels one forward pass runs (tf.profile), not from a table.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNormStateStore, preActResNet18 } from '@samrank/models';
// The peak is measured with the backend's internal kernels module, which its package does not export.
import { peakEntry, peakGmacs } from '../../backend/bench/roofline.js';
import type { BenchEntry } from '../../../bench/lib.js';

/**
 * Multiply-adds of one SGD step's convolutions (forward, filter gradients, and input gradients but the stem's):
 * by the definition, and as this package computes them (Winograd layers at 4/9).
 */
export async function stepConvMacs(width: number, batch: number): Promise<{ direct: number; computed: number }> {
  const model = preActResNet18({ width });
  const { params, state } = model.init(0);
  const store = new BatchNormStateStore(state);
  const x = tf.zeros([batch, 32, 32, 3]) as tf.Tensor4D;
  const info = await tf.profile(() => {
    tf.dispose(model.apply(params, store.state, x, { training: false }).output);
  });
  let direct = 0;
  let computed = 0;
  for (const k of info.kernels) {
    if (k.name !== 'Conv2D' && k.name !== 'FusedConv2D') continue;
    const [, h, w] = k.inputShapes[0] as number[];
    const [kh, kw, cin, cout] = k.inputShapes[1] as number[];
    const out = k.outputShapes[0] as number[];
    const macs = out.reduce((a, d) => a * d, 1) * kh! * kw! * cin!;
    // Forward and filter gradient; the input gradient for every layer but the stem (its input needs none).
    const passes = cin === 3 ? 2 : 3;
    // The Winograd layers (winogradApplies: 3×3, same size out, even maps; ResNet channel counts tile).
    const winograd =
      kh === 3 && kw === 3 && out[1] === h && out[2] === w && h! % 2 === 0 && w! % 2 === 0 && cin! % 8 === 0 && cout! % 8 === 0;
    direct += passes * macs;
    computed += passes * (winograd ? (macs * 4) / 9 : macs);
  }
  x.dispose();
  store.dispose();
  tf.dispose(Object.values(params));
  return { direct, computed };
}

/** The peak entry and, per width, the SAM step at that peak on `cores` threads against PyTorch's SAM step. */
export async function rooflineEntries(
  widths: number[],
  batch: number,
  cores: number,
  torchSamMs: Record<number, number | undefined>,
): Promise<BenchEntry[]> {
  const gmacs = peakGmacs();
  const entries: BenchEntry[] = [peakEntry(gmacs)];
  for (const width of widths) {
    const macs = await stepConvMacs(width, batch);
    const torch = torchSamMs[width];
    const reference = torch ? { reference: { name: 'PyTorch 2 threads SAM step', ms: torch } } : {};
    entries.push({
      name: `preact-resnet18 w${width} b${batch}: SAM step's direct-convolution multiply-adds at the wasm peak on ${cores} threads`,
      ms: (2 * macs.direct) / (gmacs * cores) / 1e6,
      ...reference,
      notes: `${((2 * macs.direct) / 1e9).toFixed(1)} GMAC; a lower bound for any direct (im2col, igemm, XNNPACK) wasm convolution`,
    });
    entries.push({
      name: `preact-resnet18 w${width} b${batch}: SAM step's multiply-adds as computed here (Winograd 3×3 stride-1 layers) at the wasm peak on ${cores} threads (lower bound)`,
      ms: (2 * macs.computed) / (gmacs * cores) / 1e6,
      ...reference,
      notes: `${((2 * macs.computed) / 1e9).toFixed(1)} GMAC; this package's SAM step takes at least this long on this machine`,
    });
  }
  return entries;
}
