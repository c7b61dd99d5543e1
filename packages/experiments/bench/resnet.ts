/**
 * One SGD and one SAM step of PreAct ResNet-18 (@samrank/models, @samrank/optim's SAM, @samrank/backend's kernels;
 * CIFAR shape 32×32×3, batch 128, 10 classes, SGD momentum 0.9, weight decay 5e-4, ρ = 0.1) at widths 16 and 64
 * on the default backend, against PyTorch on the same CPU in the same run (Debian python3-torch via
 * bench/torch_reference.py, 2 threads) when it is installed. Writes bench/results/experiments-resnet.json
 * (part of `npm run bench` of this package; the kernel benchmarks are @samrank/backend's).
 *
 * Width 64 at batch 128 does not fit the 4 GiB wasm32 heap, so it runs as 2 × 64: SGD by gradient
 * accumulation over @samrank/optim's `chunkRange` slices (./accumulate.ts), SAM with @samrank/optim's `microBatches: 2` (gradients accumulated in each
 * pass, one perturbation over the whole batch, as the paper). The steps run with 1 wasm thread and again with 2
 * (a child process), and ./roofline.ts adds the wasm multiply-add ceiling of this machine and the SAM step it
 * bounds. Environment: SAMRANK_THREADS (wasm threads of the main run, default 1; other than 1 skips the 2-thread
 * child), SAMRANK_BENCH_QUICK=1 (width 16 only, fewer repeats), SAMRANK_BENCH_WIDTHS=16,64. Where the runtime has
 * relaxed SIMD (Node 22+) the kernels run their fused multiply-add build, and a second 2-thread child runs the plain
 * SIMD build (SAMRANK_RELAXED_SIMD=0) beside it; each entry's `simd` says which ran.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend, wasmKernelVariant } from '@samrank/backend';
import { relaxedSimdAvailable } from '@samrank/core';
import { BatchNormStateStore, classificationLoss, createModel, disposeState } from '@samrank/models';
import { SAM, sliceChunk } from '@samrank/optim';
import { type BenchEntry, type TorchTiming, rssMB, timeInterleaved, torchReference, writeResults } from '../../../bench/lib.js';
import { accumulatedGrads } from './accumulate.js';
import { rooflineEntries } from './roofline.js';

const quick = process.env['SAMRANK_BENCH_QUICK'] === '1';
const widths = (process.env['SAMRANK_BENCH_WIDTHS'] ?? (quick ? '16' : '16,64')).split(',').map(Number);
const threads = Number(process.env['SAMRANK_THREADS'] ?? '1');
const BATCH = 128;

interface TorchResnet {
  sgd: TorchTiming;
  sam: TorchTiming;
}

/** PyTorch's ms per step for the requested widths, or null when python3-torch is missing. */
function torchBaseline(): Record<number, TorchResnet> | null {
  const section = (w: number) => `preact_resnet18_w${w}_b${BATCH}`;
  const res = torchReference<TorchResnet>(widths.map(section), { threads: 2, quick });
  if (!res) return null;
  const byWidth: Record<number, TorchResnet> = {};
  for (const w of widths) if (res[section(w)]) byWidth[w] = res[section(w)]!;
  return byWidth;
}

async function resnetEntries(backendLabel: string, torch: Record<number, TorchResnet> | null): Promise<BenchEntry[]> {
  const entries: BenchEntry[] = [];
  for (const width of widths) {
    const micro = width >= 64 ? 64 : BATCH;
    const chunks = Math.ceil(BATCH / micro);
    const model = createModel('preact-resnet18', { width });
    const { params, state } = model.init(0);
    const store = new BatchNormStateStore(state);
    const vars = Object.values(params);
    const x = tf.randomNormal([BATCH, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const y = tf.randomUniform([BATCH], 0, 10, 'int32', 2) as tf.Tensor1D;

    const sgd = tf.train.momentum(0.05, 0.9);
    const sgdStep = () => {
      const { value, grads } = accumulatedGrads(model, params, store, x, y, 'train', chunks);
      // Coupled weight decay as torch.optim.SGD(weight_decay=5e-4): added to the gradient before momentum.
      const named = tf.tidy(() => Object.entries(params).map(([n, v]) => ({ name: v.name, tensor: tf.add(grads[n]!, tf.mul(v, 5e-4)) })));
      sgd.applyGradients(named);
      tf.dispose([value, ...Object.values(grads), ...named.map((g) => g.tensor)]);
    };
    const sam = new SAM(tf.train.momentum(0.05, 0.9), { rho: 0.1, weightDecay: 5e-4, microBatches: chunks });
    const samStep = () => {
      sam.minimize((c) => classificationLoss(model, params, store, sliceChunk(x, c), sliceChunk(y, c), 'train')(), false, vars);
    };
    const repeats = quick ? 2 : width >= 64 ? 3 : 7;
    const tag = `preact-resnet18 w${width} b${BATCH}${chunks > 1 ? ` (${chunks}×${micro})` : ''}, ${backendLabel}`;
    // Two SGD steps back to back: the same two forward/backward passes as a SAM step without SAM's own work
    // (perturbation, restore, finiteness checks), so SAM / this isolates that work. On this VM two consecutive
    // passes take measurably more than twice one (measured 2.1–2.2×), which the plain SAM/SGD ratio includes.
    const twoSgdSteps = () => {
      sgdStep();
      sgdStep();
    };
    // The steps alternate, so the ratios compare steps measured under the same machine load.
    const [sgdMs, samMs, twoSgdMs] = (await timeInterleaved([sgdStep, samStep, twoSgdSteps], repeats, 1)) as [number, number, number];
    // Resident set after both (one process holds both steps' working sets).
    const peak = Math.round(rssMB());
    const t = torch?.[width];
    entries.push({
      name: `${tag}: SGD step`,
      ms: sgdMs,
      peakMB: peak,
      ...(t ? { reference: { name: 'PyTorch 2 threads SGD step', ms: t.sgd.median_ms } } : {}),
    });
    entries.push({
      name: `${tag}: SAM step`,
      ms: samMs,
      peakMB: peak,
      ...(t ? { reference: { name: 'PyTorch 2 threads SAM step', ms: t.sam.median_ms } } : {}),
      ...(chunks > 1 ? { notes: `SAM with microBatches ${chunks}: gradients accumulated, one perturbation per batch` } : {}),
    });
    entries.push({
      name: `${tag}: SAM step / own SGD step`,
      ms: samMs,
      reference: { name: 'own SGD step', ms: sgdMs },
    });
    entries.push({
      name: `${tag}: SAM step / two own SGD steps back to back`,
      ms: samMs,
      reference: { name: 'two own SGD steps back to back', ms: twoSgdMs },
      notes: 'SAM-specific work (perturbation, restore, checks) on top of two training passes',
    });
    sgd.dispose();
    sam.dispose();
    store.dispose();
    disposeState(params);
    tf.dispose([x, y]);
  }
  return entries;
}

/**
 * The ResNet steps again on the multi-threaded build (2 threads, PyTorch's count), in a child process: the
 * threaded build patches globals at start-up and cannot share a process with the single-threaded backend.
 */
async function twoThreadEntries(torch: Record<number, TorchResnet> | null, plainSimd = false): Promise<BenchEntry[]> {
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
      env: {
        ...process.env,
        SAMRANK_BENCH_CHILD: JSON.stringify(torch),
        SAMRANK_THREADS: '2',
        ...(plainSimd ? { SAMRANK_RELAXED_SIMD: '0' } : {}),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 20,
      timeout: 60 * 60_000,
    });
    return JSON.parse(out.toString().trim().split('\n').pop()!) as BenchEntry[];
  } catch (err) {
    console.log(`2-thread ResNet benchmark skipped: ${(err as Error).message.split('\n')[0]}`);
    return [];
  }
}

const child = process.env['SAMRANK_BENCH_CHILD'];
const entries: BenchEntry[] = [];
const torch = child === undefined ? torchBaseline() : (JSON.parse(child) as Record<number, TorchResnet> | null);
const setup = await setupBackend({ quiet: true, threads });
console.error(setup.message);
tf.enableProdMode();
const simd = setup.backend === 'wasm' ? wasmKernelVariant() : undefined;
const label = `${setup.backend}${setup.threads ? `, ${setup.threads} thread${setup.threads > 1 ? 's' : ''}` : ''}${simd ? `, ${simd} SIMD` : ''}`;
entries.push(...(await resnetEntries(label, torch)).map((e) => (simd ? { ...e, simd } : e)));
if (child !== undefined) {
  process.stdout.write(`${JSON.stringify(entries)}\n`);
} else {
  if (threads === 1) {
    entries.push(...(await twoThreadEntries(torch)));
    // The plain SIMD build beside the fused one, where the runtime has relaxed SIMD (Node 22+).
    if (relaxedSimdAvailable() && wasmKernelVariant() === 'relaxed') entries.push(...(await twoThreadEntries(torch, true)));
  }
  // The ceiling on the 2 threads PyTorch uses.
  const torchSam = Object.fromEntries(widths.map((w) => [w, torch?.[w]?.sam.median_ms]));
  entries.push(...(await rooflineEntries(widths, BATCH, 2, torchSam)));
  writeResults('experiments-resnet', entries);
}
// Threaded wasm workers keep the event loop alive.
process.exit(0);
