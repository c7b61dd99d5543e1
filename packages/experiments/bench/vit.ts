/**
 * ViT-B/16 at 224 px (@samrank/models' `vit`, Table 1's smallest-patch B model): eval-mode forward throughput in
 * images/s and peak memory on the default backend (wasm, 1 thread, @samrank/backend's kernels), against PyTorch on
 * the same CPU running the same architecture (bench/torch_reference.py's `vit_b16_224_b<B>`, eager, no_grad,
 * 1 thread to match). The two are measured in alternation — ours, then a PyTorch process, round after round — so a
 * busy spell of this shared machine hits both. Writes bench/results/experiments-vit.json.
 * Environment: SAMRANK_BENCH_QUICK=1 (2 rounds of 2 batches), SAMRANK_VIT_BATCH (default 8).
 */
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@samrank/backend';
import { disposeState, vit } from '@samrank/models';
import { type BenchEntry, type TorchTiming, rssMB, torchReference, writeResults } from '../../../bench/lib.js';

const quick = process.env['SAMRANK_BENCH_QUICK'] === '1';
const batch = Number(process.env['SAMRANK_VIT_BATCH'] ?? '8');
const rounds = quick ? 2 : 3;
const perRound = quick ? 2 : 3;

const setup = await setupBackend({ quiet: true });
const model = vit({ imageSize: 224, patchSize: 16, hiddenSize: 768, depth: 12, heads: 12, mlpDim: 3072, numClasses: 1000 });
const { params } = model.init(0);
const x = tf.randomNormal([batch, 224, 224, 3], 0, 1, 'float32', 1);
let peak = rssMB();
const forward = () => {
  const out = model.apply(params, null, x, { training: false });
  out.output!.dataSync();
  tf.dispose(out.output);
  peak = Math.max(peak, rssMB());
};
forward();

const ours: number[] = [];
const theirs: number[] = [];
let torchPeak: number | undefined;
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < perRound; i++) {
    const t0 = performance.now();
    forward();
    ours.push(performance.now() - t0);
  }
  const ref = torchReference<Record<string, TorchTiming & { peak_rss_mb?: number }>>([`vit_b16_224_b${batch}`], {
    threads: 1,
    quick: true,
    timeoutMs: 600_000,
  });
  const t = ref?.[`vit_b16_224_b${batch}`]?.['forward'];
  if (t) {
    theirs.push(t.median_ms);
    torchPeak = Math.max(torchPeak ?? 0, t.peak_rss_mb ?? 0);
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const ms = median(ours);
const entry: BenchEntry = {
  name: `vit-b16 224px forward, batch ${batch}, ${setup.backend} ${setup.threads ?? 1} thread(s)`,
  ms,
  peakMB: Math.round(peak),
  notes:
    `${((1000 * batch) / ms).toFixed(2)} images/s` +
    (theirs.length ? `; PyTorch ${((1000 * batch) / median(theirs)).toFixed(2)} images/s, peak RSS ${torchPeak} MB` : ''),
  ...(theirs.length ? { reference: { name: `PyTorch ${batch}× ViT-B/16 forward, 1 thread`, ms: median(theirs) } } : {}),
};
console.log(entry.notes);
writeResults('experiments-vit', [entry]);
disposeState(params);
x.dispose();
