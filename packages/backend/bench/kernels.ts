/**
 * Kernel benchmarks for the wasm training kernels (stock vs replacement) and a kernel-time profile of a minimal
 * PreAct-ResNet-18 training step built from tf ops. `benchKernels()` is called by bench/index.ts. Run this file directly for a
 * kernel-time profile of one step followed by the benchmarks, written to bench/results/backend-kernels.json
 * (`npx tsx bench/kernels.ts`; env: SAMRANK_BENCH_QUICK=1 small shapes, SAMRANK_PROFILE_ONLY=1,
 * SAMRANK_THREADS, SAMRANK_WIDTH, SAMRANK_BATCH, SAMRANK_FUSED_BN=1 for the fused BatchNorm+ReLU,
 * SAMRANK_AB_ONLY=1 for just the core-repairs-only vs all-kernels step comparison; docs/backend-notes.md §2.5).
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { type BenchEntry, rssMB, timeMedian, writeResults } from '../../../bench/lib.js';
import { wasmFilterGrad } from '../src/conv-grads-wasm.js';
import { KernelCalls, stockKernel } from '../src/kernel-calls.js';
import { registerTrainingKernels } from '../src/register-kernels.js';
import { scaleShift } from '../src/fused-ops.js';
import { setupBackend } from '../src/setup.js';

const quick = process.env['SAMRANK_BENCH_QUICK'] === '1';

/**
 * Median wall time of `fn` (ms), plus the median process CPU time per run, recorded in `cpuMs`. Other jobs
 * share this machine's 2 cores; single-threaded CPU time is the figure that contention does not inflate.
 */
const cpuTimes = new Map<string, number>();

async function timeTensor(fn: () => tf.Tensor, repeats: number, key?: string): Promise<number> {
  const cpu: number[] = [];
  const wall = await timeMedian(async () => {
    const c0 = process.cpuUsage();
    const out = fn();
    await out.data();
    out.dispose();
    const d = process.cpuUsage(c0);
    cpu.push((d.user + d.system) / 1000);
  }, repeats);
  cpu.splice(0, cpu.length - repeats); // drop the warm-up
  cpu.sort((a, b) => a - b);
  if (key) cpuTimes.set(key, cpu[Math.floor(cpu.length / 2)]!);
  return wall;
}

/** Adds the measured CPU time of `key` to an entry's notes. */
function withCpu(entry: BenchEntry, key: string, refKey?: string): BenchEntry {
  const own = cpuTimes.get(key);
  const ref = refKey ? cpuTimes.get(refKey) : undefined;
  const parts = [
    entry.notes,
    own !== undefined ? `cpu ${own.toFixed(1)} ms` : undefined,
    ref !== undefined ? `reference cpu ${ref.toFixed(1)} ms` : undefined,
  ];
  const notes = parts.filter(Boolean).join('; ');
  return notes ? { ...entry, notes } : entry;
}

/** Runs the stock (displaced) wasm kernel directly. */
function stock(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>): tf.Tensor {
  const info = new KernelCalls(tf.backend(), 'wasm').runStock(name, inputs, attrs as never);
  return tf.engine().makeTensorFromTensorInfo(info);
}

async function convEntries(withStock: boolean): Promise<BenchEntry[]> {
  const [n, hw, c] = quick ? [16, 16, 32] : [128, 32, 64];
  const x = tf.randomNormal([n, hw, hw, c], 0, 1, 'float32', 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, c, c], 0, 0.05, 'float32', 2) as tf.Tensor4D;
  const dy = tf.randomNormal([n, hw, hw, c], 0, 1, 'float32', 3) as tf.Tensor4D;
  const shape = `3x3 ${c}->${c} batch ${n} ${hw}x${hw}`;
  const repeats = quick ? 5 : 3;
  const entries: BenchEntry[] = [];
  const fwd = await timeTensor(() => tf.conv2d(x, w, 1, 'same'), repeats, 'fwd');
  const fwdEntry: BenchEntry = { name: `wasm conv2d forward ${shape}`, ms: fwd, notes: 'Winograd F(2x2,3x3)' };
  if (withStock) {
    const fwdStock = await timeTensor(
      () => stock('Conv2D', { x, filter: w }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1] }),
      repeats,
      'fwd-stock',
    );
    fwdEntry.reference = { name: 'stock wasm Conv2D (XNNPACK)', ms: fwdStock };
  }
  entries.push(withCpu(fwdEntry, 'fwd', withStock ? 'fwd-stock' : undefined));
  const dxOurs = await timeTensor(() => tf.conv2dTranspose(dy, w, x.shape, 1, 'same'), repeats, 'dx');
  const dx: BenchEntry = { name: `wasm conv2d dx ${shape}`, ms: dxOurs };
  if (withStock) {
    const dxStock = await timeTensor(
      () => stock('Conv2DBackpropInput', { dy, filter: w }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', inputShape: x.shape }),
      quick ? 3 : 1,
      'dx-stock',
    );
    dx.reference = { name: 'stock wasm Conv2DBackpropInput', ms: dxStock };
  }
  entries.push(withCpu(dx, 'dx', withStock ? 'dx-stock' : undefined));
  const dwOurs = await timeTensor(
    () =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x, dy },
          { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: w.shape },
        ) as tf.Tensor,
    repeats,
    'dw',
  );
  const dwEntry: BenchEntry = {
    name: `wasm conv2d dW ${shape}`,
    ms: dwOurs,
    notes: 'Winograd F(2x2,3x3); stock wasm has no Conv2DBackpropFilter (cpu fallback ≈ 510 s)',
  };
  if (withStock) {
    const geometry = { kh: 3, kw: 3, strideHeight: 1, strideWidth: 1, top: 1, left: 1 };
    const dwDirect = await timeTensor(
      () => tf.engine().makeTensorFromTensorInfo(wasmFilterGrad(tf.backend(), x, dy, geometry)!),
      repeats,
      'dw-direct',
    );
    dwEntry.reference = { name: 'direct SIMD filter-gradient kernel (conv_dw)', ms: dwDirect };
  }
  entries.push(withCpu(dwEntry, 'dw', withStock ? 'dw-direct' : undefined));
  const s2 = await timeTensor(
    () =>
      tf.conv2dTranspose(tf.slice(dy, [0, 0, 0, 0], [n, hw / 2, hw / 2, c]) as tf.Tensor4D, w, x.shape, 2, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]),
    repeats,
    'dx2',
  );
  const s2e: BenchEntry = { name: `wasm conv2d dx stride 2 pad 1 ${shape}`, ms: s2 };
  if (withStock) {
    const s2Stock = await timeTensor(
      () =>
        stock(
          'Conv2DBackpropInput',
          { dy: tf.slice(dy, [0, 0, 0, 0], [n, hw / 2, hw / 2, c]), filter: w },
          {
            strides: [2, 2],
            pad: [
              [0, 0],
              [1, 1],
              [1, 1],
              [0, 0],
            ],
            dataFormat: 'NHWC',
            inputShape: x.shape,
          },
        ),
      1,
      'dx2-stock',
    );
    s2e.reference = { name: 'stock wasm Conv2DBackpropInput', ms: s2Stock };
  }
  entries.push(withCpu(s2e, 'dx2', withStock ? 'dx2-stock' : undefined));
  tf.dispose([x, w, dy]);
  return entries;
}

async function matMulEntries(): Promise<BenchEntry[]> {
  const size = quick ? 256 : 1024;
  const a = tf.randomNormal([size, size], 0, 1, 'float32', 4);
  const b = tf.randomNormal([size, size], 0, 1, 'float32', 5);
  const entries: BenchEntry[] = [];
  for (const [tA, tB] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    const ours = await timeTensor(() => tf.matMul(a, b, tA, tB), 5, 'mm');
    const stockMs = await timeTensor(
      () => stock('BatchMatMul', { a, b }, { transposeA: tA, transposeB: tB }),
      tA || tB ? (quick ? 3 : 1) : 5,
      'mm-stock',
    );
    entries.push(
      withCpu(
        {
          name: `wasm matMul ${size}^3 transposeA=${tA} transposeB=${tB}`,
          ms: ours,
          reference: { name: 'stock wasm BatchMatMul', ms: stockMs },
        },
        'mm',
        'mm-stock',
      ),
    );
  }
  const bA = tf.randomNormal([8, 256, 512], 0, 1, 'float32', 6);
  const bB = tf.randomNormal([8, 512, 256], 0, 1, 'float32', 7);
  const ours = await timeTensor(() => tf.matMul(bA, bB), 5, 'bmm');
  const stockMs = await timeTensor(() => stock('BatchMatMul', { a: bA, b: bB }, { transposeA: false, transposeB: false }), 3, 'bmm-stock');
  entries.push(
    withCpu(
      { name: 'wasm batched matMul [8,256,512]x[8,512,256]', ms: ours, reference: { name: 'stock wasm BatchMatMul', ms: stockMs } },
      'bmm',
      'bmm-stock',
    ),
  );
  tf.dispose([a, b, bA, bB]);
  return entries;
}

/** Minimal PreAct-ResNet-18 (docs/backend-notes.md §9.2) from tf ops, to see which kernels dominate a step. */
export function miniPreActResNet18(
  width: number,
  seed: number,
  fusedBn = false,
): { params: tf.Variable[]; loss: (x: tf.Tensor4D, y: tf.Tensor2D) => tf.Scalar } {
  let s = seed;
  const params: tf.Variable[] = [];
  const conv = (k: number, cin: number, cout: number) => {
    const v = tf.variable(tf.randomNormal([k, k, cin, cout], 0, Math.sqrt(2 / (k * k * cout)), 'float32', s++));
    params.push(v);
    return v as tf.Variable<tf.Rank.R4>;
  };
  const bn = (ch: number) => {
    const g = tf.variable(tf.ones([ch]));
    const b = tf.variable(tf.zeros([ch]));
    params.push(g, b);
    // BatchNorm (batch statistics) followed by ReLU, as PreAct blocks use it.
    return (x: tf.Tensor4D) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      const scale = tf.mul(g, tf.rsqrt(tf.add(variance, 1e-5))) as tf.Tensor1D;
      const shift = tf.sub(b, tf.mul(mean, scale)) as tf.Tensor1D;
      if (fusedBn) return scaleShift(x, scale, shift, true);
      return tf.relu(tf.add(tf.mul(x, scale), shift)) as tf.Tensor4D;
    };
  };
  const pad1 = [
    [0, 0],
    [1, 1],
    [1, 1],
    [0, 0],
  ] as [[number, number], [number, number], [number, number], [number, number]];
  const stem = conv(3, 3, width);
  const blocks: ((x: tf.Tensor4D) => tf.Tensor4D)[] = [];
  let cin = width;
  for (const [planes, stride] of [
    [width, 1],
    [2 * width, 2],
    [4 * width, 2],
    [8 * width, 2],
  ] as const) {
    for (let i = 0; i < 2; i++) {
      const st = i === 0 ? stride : 1;
      const bn1 = bn(cin);
      const c1 = conv(3, cin, planes);
      const bn2 = bn(planes);
      const c2 = conv(3, planes, planes);
      const short = st !== 1 || cin !== planes ? conv(1, cin, planes) : null;
      blocks.push((x) => {
        const o = bn1(x);
        const sc = short ? tf.conv2d(o, short, st, 'valid') : x;
        const h = tf.conv2d(o, c1, st, st === 1 ? 'same' : pad1);
        const h2 = tf.conv2d(bn2(h), c2, 1, 'same');
        return tf.add(h2, sc);
      });
      cin = planes;
    }
  }
  const bnOut = bn(cin);
  const fc = tf.variable(tf.randomNormal([cin, 10], 0, 0.05, 'float32', s++));
  params.push(fc);
  const loss = (x: tf.Tensor4D, y: tf.Tensor2D) => {
    let h = tf.conv2d(x, stem, 1, 'same');
    for (const b of blocks) h = b(h);
    const logits = tf.matMul(tf.mean(bnOut(h), [1, 2]), fc);
    return tf.mean(tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, y), 1))) as tf.Scalar;
  };
  return { params, loss };
}

/** One SGD step of the mini ResNet; returns the step function and a disposer. */
function resnetStep(width: number, batch: number, fusedBn = false) {
  const model = miniPreActResNet18(width, 10, fusedBn);
  const x = tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', 99) as tf.Tensor4D;
  const y = tf.cast(tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 98) as tf.Tensor1D, 10), 'float32') as tf.Tensor2D;
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => model.loss(x, y), model.params);
      for (const p of model.params) p.assign(tf.sub(p, tf.mul(grads[p.name]!, 0.01)));
      return value;
    });
  const dispose = () => tf.dispose([x, y, ...model.params]);
  return { step, dispose };
}

/** Kernel-time profile of one training step: total ms per kernel name, descending. */
export async function profileResNetStep(
  width: number,
  batch: number,
  fusedBn = false,
): Promise<{ kernel: string; ms: number; share: number }[]> {
  const { step, dispose } = resnetStep(width, batch, fusedBn);
  (await Promise.resolve(step())).dispose();
  const info = await tf.profile(() => step());
  dispose();
  const totals = new Map<string, number>();
  for (const k of info.kernels) totals.set(k.name, (totals.get(k.name) ?? 0) + (k.kernelTimeMs as number));
  const sum = [...totals.values()].reduce((a, b) => a + b, 0);
  return [...totals.entries()].map(([kernel, ms]) => ({ kernel, ms, share: ms / sum })).sort((a, b) => b.ms - a.ms);
}

/** Kernels beyond the three core repairs of docs/backend-notes.md §2.5 (conv gradients + matmul) that this package adds on wasm. */
const BEYOND_APPENDIX_A = ['Sum', 'Mean', 'Multiply', 'Add', 'Sub', 'Identity'];

function useStock(names: string[]): void {
  for (const name of names) {
    const config = stockKernel(name, 'wasm');
    if (!config) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
  }
}

/**
 * A/B of one SGD step: only the core repairs of docs/backend-notes.md §2.5 (conv gradients, matmul) against every kernel of this
 * package, alternating runs in one process; CPU-time medians (contention-robust for one thread).
 */
async function appendixABEntries(): Promise<BenchEntry[]> {
  const width = 16;
  const batch = quick ? 16 : 128;
  const { step, dispose } = resnetStep(width, batch, false);
  const cpu: Record<'a' | 'all', number[]> = { a: [], all: [] };
  const wall: Record<'a' | 'all', number[]> = { a: [], all: [] };
  for (let round = 0; round < (quick ? 3 : 4); round++) {
    for (const variant of ['a', 'all'] as const) {
      if (variant === 'a') useStock(BEYOND_APPENDIX_A);
      else registerTrainingKernels('wasm');
      const warm = step();
      await warm.data();
      warm.dispose();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const v = step();
      await v.data();
      v.dispose();
      const d = process.cpuUsage(c0);
      wall[variant].push(performance.now() - t0);
      cpu[variant].push((d.user + d.system) / 1000);
    }
  }
  registerTrainingKernels('wasm');
  dispose();
  const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
  return [
    {
      name: `wasm mini PreAct-ResNet-18 width ${width} batch ${batch} SGD step, all kernels vs the core repairs only (CPU time)`,
      ms: median(cpu.all),
      reference: { name: 'core repairs only (conv gradients, matmul)', ms: median(cpu.a) },
      notes: `wall medians ${median(wall.all).toFixed(0)} vs ${median(wall.a).toFixed(0)} ms; alternating runs, machine shared`,
    },
  ];
}

async function resnetEntries(): Promise<BenchEntry[]> {
  const width = 16;
  const batch = quick ? 16 : 128;
  const entries: BenchEntry[] = [];
  for (const fusedBn of [false, true]) {
    const { step, dispose } = resnetStep(width, batch, fusedBn);
    let peak = rssMB();
    const key = `resnet-${fusedBn}`;
    const ms = await timeTensor(
      () => {
        const v = step();
        peak = Math.max(peak, rssMB());
        return v;
      },
      3,
      key,
    );
    dispose();
    const bn = fusedBn ? 'scaleShift BN+ReLU' : 'moments BN, x·s+t, relu';
    entries.push(
      withCpu({ name: `wasm mini PreAct-ResNet-18 width ${width} batch ${batch} SGD step (${bn})`, ms, peakMB: Math.round(peak) }, key),
    );
  }
  return entries;
}

/** Runs this file in a child process with `threads` wasm threads and returns its entries (threads patch globals). */
async function childEntries(threads: number): Promise<BenchEntry[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(threads)],
    {
      maxBuffer: 1 << 20,
      timeout: 20 * 60_000,
      env: { ...process.env },
    },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as BenchEntry[];
}

/**
 * All kernel benchmarks on the wasm backend with this package's kernels: single-threaded in this process,
 * and the conv and ResNet-step figures again with 2 threads in a child process (reference = 1 thread).
 */
export async function benchKernels(): Promise<BenchEntry[]> {
  await setupBackend({ backend: 'wasm', quiet: true });
  tf.enableProdMode();
  const single = [...(await convEntries(true)), ...(await matMulEntries()), ...(await resnetEntries()), ...(await appendixABEntries())];
  const threaded = await childEntries(2).catch((err: unknown) => {
    console.warn(`2-thread wasm benchmark skipped: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    return [] as BenchEntry[];
  });
  const byName = new Map(single.map((e) => [e.name, e]));
  const withRef = threaded.map((e) => {
    const base = byName.get(e.name);
    return {
      ...e,
      name: `${e.name} [2 threads]`,
      ...(base ? { reference: { name: 'same, 1 thread', ms: base.ms } } : {}),
    };
  });
  return [...single, ...withRef];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    await setupBackend({ backend: 'wasm', quiet: true, threads: Number(args[1]) });
    tf.enableProdMode();
    const entries = [...(await convEntries(false)), ...(await resnetEntries())];
    process.stdout.write(JSON.stringify(entries) + '\n');
    process.exit(0);
  }
  const threads = Number(process.env['SAMRANK_THREADS'] ?? '1');
  await setupBackend({ backend: 'wasm', quiet: true, threads });
  tf.enableProdMode();
  if (process.env['SAMRANK_AB_ONLY'] === '1') {
    for (const e of await appendixABEntries()) console.log(JSON.stringify(e));
    return;
  }
  const width = Number(process.env['SAMRANK_WIDTH'] ?? '16');
  const batch = Number(process.env['SAMRANK_BATCH'] ?? (quick ? '16' : '64'));
  const fused = process.env['SAMRANK_FUSED_BN'] === '1';
  const rows = await profileResNetStep(width, batch, fused);
  const total = rows.reduce((a, r) => a + r.ms, 0);
  console.log(
    `profile: PreAct-ResNet-18 width ${width} batch ${batch}, ${threads} thread(s), fused BN ${fused}: kernel time ${total.toFixed(0)} ms`,
  );
  for (const r of rows.slice(0, 20))
    console.log(`${r.kernel.padEnd(24)} ${r.ms.toFixed(1).padStart(9)} ms ${(100 * r.share).toFixed(1).padStart(5)} %`);
  if (process.env['SAMRANK_PROFILE_ONLY'] !== '1') {
    writeResults('backend-kernels', await benchKernels());
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
