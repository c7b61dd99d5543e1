/**
 * `npm run bench`: cost of a SAM step relative to a plain step (bench/results/optim.json), cpu backend.
 *
 * - two-layer teacher-student net (d 3, m 100, batch 1, as the paper's Section 4): SGD, SAM,
 *   gradient-norm regularizer (exact and finite-difference), and the same with 5 independent runs;
 *   PyTorch's two-layer SGD / SAM / grad-norm steps from bench/torch_reference.py (same run) as
 *   the reference when /usr/bin/python3 has torch;
 * - a small MLP (256-128-10, batch 128, softmax CE): SGD vs SAM, and SAM over 4 micro-batches.
 * Cases alternate within each of SAMRANK_BENCH_ROUNDS rounds (default 3); figures are medians over rounds.
 * Each "SAM vs SGD" entry stores our SGD step as its reference, so its ratio is the SAM/SGD cost ratio.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { rssMB, timeMedian, torchReference, writeResults, type BenchEntry, type TorchTiming } from '../../../bench/lib.js';
import { GradientNormRegularizer, SAM, sliceChunk, type StepContext } from '../src/index.js';

const steps = Number(process.env.SAMRANK_BENCH_STEPS ?? 200);

tf.enableProdMode();
await tf.setBackend('cpu');

interface TorchTwoLayer {
  sgd: TorchTiming;
  sam: TorchTiming;
  gradreg: TorchTiming;
}

/** PyTorch two-layer step times (ms/step) measured now, or null when torch is absent. */
function torchTwoLayer(): TorchTwoLayer | null {
  return (
    torchReference<TorchTwoLayer>(['two_layer_teacher_student'], { threads: 2, quick: true, timeoutMs: 300_000 })?.[
      'two_layer_teacher_student'
    ] ?? null
  );
}

/** Two-layer teacher-student student (optionally R runs along axis 0) with 20 unit-sphere inputs. */
function twoLayer(runs?: number) {
  const lead = runs ? [runs] : [];
  const W = tf.variable(tf.randomNormal([...lead, 100, 3], 0, 0.3, 'float32', 1), true);
  const a = tf.variable(tf.randomNormal([...lead, 100], 0, 0.3, 'float32', 2), true);
  const X0 = tf.randomNormal([20, 3], 0, 1, 'float32', 3);
  const X = tf.div(X0, tf.norm(X0, 2, 1, true));
  const y = tf.mul(tf.randomNormal([20], 0, 1, 'float32', 4), 0.5);
  const xs = Array.from({ length: 20 }, (_, i) => tf.slice(X, [i, 0], [1, -1]));
  const ys = Array.from({ length: 20 }, (_, i) => tf.slice(y, [i], [1]));
  let i = 0;
  // The closure is called once per pass (twice per SAM step): the example must only change between steps.
  const next = () => void i++;
  const loss = () => {
    const xb = xs[i % 20]!;
    const yb = ys[i % 20]!;
    if (!runs) {
      const f = tf.sum(tf.mul(tf.relu(tf.matMul(xb, W, false, true)), a), 1);
      return tf.mean(tf.square(tf.sub(f, yb))) as tf.Scalar;
    }
    const h = tf.relu(tf.matMul(tf.expandDims(xb, 0), W, false, true));
    const f = tf.sum(tf.mul(h, tf.expandDims(a, 1)), 2);
    return tf.sum(tf.mean(tf.square(tf.sub(f, yb)), 1)) as tf.Scalar;
  };
  return { vars: [W, a], loss, next, dispose: () => tf.dispose([W, a, X0, X, y, ...xs, ...ys]) };
}

function mlp() {
  const W1 = tf.variable(tf.randomNormal([256, 128], 0, 0.05, 'float32', 5), true);
  const b1 = tf.variable(tf.zeros([128]), true);
  const W2 = tf.variable(tf.randomNormal([128, 10], 0, 0.05, 'float32', 6), true);
  const b2 = tf.variable(tf.zeros([10]), true);
  const X = tf.randomNormal([128, 256], 0, 1, 'float32', 7);
  const Y = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: 128 }, (_, i) => i % 10),
      'int32',
    ),
    10,
  );
  // Micro-batched optimizers ask for rows ctx.chunk of ctx.chunks; the others pass chunks = 1 (all rows).
  const loss = (ctx: StepContext = { pass: 'first', chunk: 0, chunks: 1 }) => {
    const x = sliceChunk(X, ctx);
    const logits = tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, W1), b1)), W2), b2);
    return tf.mean(tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, sliceChunk(Y, ctx)), 1))) as tf.Scalar;
  };
  return { vars: [W1, b1, W2, b2], loss, next: () => {}, dispose: () => tf.dispose([W1, b1, W2, b2, X, Y]) };
}

/** Median ms per step over 3 repetitions of `n` steps. */
async function msPerStep(
  opt: tf.Optimizer,
  model: { vars: tf.Variable[]; loss: (ctx?: StepContext) => tf.Scalar; next: () => void },
  n: number,
) {
  const ms = await timeMedian(
    () => {
      for (let s = 0; s < n; s++) {
        opt.minimize(model.loss, false, model.vars);
        model.next();
      }
    },
    3,
    1,
  );
  return ms / n;
}

const entries: BenchEntry[] = [];
const torch = torchTwoLayer();
const rho5 = [0, 0.1, 0.2, 0.4, 0.6];

const cases: Array<{
  name: string;
  runs?: number;
  make: () => tf.Optimizer;
  torch?: keyof TorchTwoLayer;
}> = [
  { name: 'two-layer m100 batch 1: SGD step', make: () => tf.train.sgd(0.1), torch: 'sgd' },
  { name: 'two-layer m100 batch 1: SAM step', make: () => new SAM(tf.train.sgd(0.1), { rho: 0.1 }), torch: 'sam' },
  {
    name: 'two-layer m100 batch 1: SAM step, checkFinite off',
    make: () => new SAM(tf.train.sgd(0.1), { rho: 0.1, checkFinite: false }),
    torch: 'sam',
  },
  {
    name: 'two-layer m100 batch 1: grad-norm reg. step (exact)',
    make: () => new GradientNormRegularizer(tf.train.sgd(0.1), { lambda: 0.1 }),
    torch: 'gradreg',
  },
  {
    name: 'two-layer m100 batch 1: grad-norm reg. step (finite-difference)',
    make: () => new GradientNormRegularizer(tf.train.sgd(0.1), { lambda: 0.1, mode: 'finite-difference' }),
    torch: 'gradreg',
  },
  { name: 'two-layer m100 batch 1, 5 runs: SGD step', runs: 5, make: () => tf.train.sgd(0.1) },
  {
    name: 'two-layer m100 batch 1, 5 runs: SAM step (rho 0…0.6)',
    runs: 5,
    make: () => new SAM(tf.train.sgd(0.1), { rho: rho5, runs: 5 }),
  },
];

// Cases alternate within each round and each figure is the median over rounds: the machine is shared,
// so a burst of load hits every case alike instead of one.
const rounds = Number(process.env.SAMRANK_BENCH_ROUNDS ?? 3);
const prepared = cases.map((c) => ({ c, model: twoLayer(c.runs), opt: c.make(), times: [] as number[], peak: 0 }));
for (let round = 0; round < rounds; round++) {
  for (const p of prepared) {
    p.times.push(await msPerStep(p.opt, p.model, steps));
    p.peak = Math.max(p.peak, rssMB());
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const twoLayerMs: Record<string, number> = {};
for (const p of prepared) {
  const ms = median(p.times);
  twoLayerMs[p.c.name] = ms;
  const entry: BenchEntry = { name: p.c.name, ms, peakMB: p.peak };
  if (torch && p.c.torch)
    entry.reference = { name: `PyTorch ${p.c.torch} step (bench/torch_reference.py)`, ms: torch[p.c.torch].median_ms };
  entries.push(entry);
  p.opt.dispose();
  p.model.dispose();
}
entries.push({
  name: 'two-layer: SAM step vs our SGD step (ratio = SAM/SGD)',
  ms: twoLayerMs['two-layer m100 batch 1: SAM step']!,
  reference: { name: 'tfjs SGD step', ms: twoLayerMs['two-layer m100 batch 1: SGD step']! },
});
entries.push({
  name: 'two-layer, 5 runs: SAM step vs our SGD step (ratio = SAM/SGD)',
  ms: twoLayerMs['two-layer m100 batch 1, 5 runs: SAM step (rho 0…0.6)']!,
  reference: { name: 'tfjs SGD step, 5 runs', ms: twoLayerMs['two-layer m100 batch 1, 5 runs: SGD step']! },
});

const mlpSteps = Math.max(3, Math.round(steps / 40));
const mlpCases = [
  () => tf.train.momentum(0.05, 0.9),
  () => new SAM(tf.train.momentum(0.05, 0.9), { rho: 0.05 }),
  () => new SAM(tf.train.momentum(0.05, 0.9), { rho: 0.05, microBatches: 4 }),
].map((make) => ({ model: mlp(), opt: make() as tf.Optimizer, times: [] as number[] }));
for (let round = 0; round < rounds; round++) {
  for (const m of mlpCases) m.times.push(await msPerStep(m.opt, m.model, mlpSteps));
}
const mlpMs = mlpCases.map((m) => {
  m.opt.dispose();
  m.model.dispose();
  return median(m.times);
});
entries.push({ name: 'MLP 256-128-10 batch 128: SGD+momentum step', ms: mlpMs[0]! });
entries.push({
  name: 'MLP 256-128-10 batch 128: SAM step vs SGD step (ratio = SAM/SGD)',
  ms: mlpMs[1]!,
  reference: { name: 'tfjs SGD+momentum step', ms: mlpMs[0]! },
});
entries.push({
  name: 'MLP 256-128-10 batch 128: SAM microBatches 4 vs full-batch SAM (ratio = micro/full)',
  ms: mlpMs[2]!,
  reference: { name: 'tfjs SAM step, full batch', ms: mlpMs[1]! },
});

writeResults('optim', entries);
