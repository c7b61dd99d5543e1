#!/usr/bin/env node
// The GPU check of issue 18, as one Node program (bundled by scripts/gpu-pack.mjs for the GPU machine, where
// there is no node_modules; run as it is here). On the chosen backend (webgpu by default) it:
//   1. names the adapter, or prints one line saying why there is none and exits 2;
//   2. checks what the project adds to tfjs against the cpu backend and the golden fixtures (conv SAM steps
//      through the models' conv path, feature ranks, double backprop, the BatchNorm fallbacks, a ResNet step's
//      gradients, no leaked tensors), reading every value with `await data()`: Node cannot read a WebGPU
//      tensor synchronously;
//   3. times PreAct ResNet-18 SGD and SAM steps (widths 16 and 64, batches 128 and 256), the teacher-student
//      grid, and the paper-scale feature rank (10240 × 16384: Gram on the backend, eigenvalues on the CPU);
//   4. writes bench/results/gpu.json and bench/results/gpu.md, adding the PyTorch CUDA times of --torch FILE.
//
//   node scripts/gpu-check.mjs [--backend webgpu|cpu|wasm] [--dry] [--fake-webgpu] [--torch FILE]
//                              [--sections checks,resnet,teacher-student,rank] [--out DIR] [--adapter-only]
//
// --dry: tiny sizes and one repeat, so the whole program runs in a minute on a CPU (how it is tested without a
// GPU). --fake-webgpu: registers a backend named 'webgpu' made of the cpu kernels (what the project's code sees
// of webgpu: a name with none of the wasm kernels), for a dry run of the webgpu code paths without Dawn.
// --null-adapter: the real tfjs-backend-webgpu on Dawn's null backend, which runs the WebGPU API (buffers, WGSL
// validation, pipelines, maps) and computes nothing: the plumbing without a GPU; every value is garbage, so the
// checks' verdicts mean nothing there (never time or trust it).
// Each section's results are written as soon as it ends, so a run cut short keeps what it measured.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
// A used binding keeps the package (and its backend registration) in the bundle.
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import {
  setupBackend,
  BackendUnavailableError,
  SyncReadUnavailableError,
  registerTrainingKernels,
  TRAINING_KERNELS,
  SCALE_SHIFT_KERNEL,
  scaleShift,
} from '@samrank/backend';
import {
  createModel,
  BatchNormStateStore,
  classificationLoss,
  disposeState,
  valueAndGrads,
  conv2d,
  dense,
  globalAvgPool,
  softmaxCrossEntropy,
} from '@samrank/models';
import { SAM } from '@samrank/optim';
import { rankFromSpectrum, symmetricEigenvalues } from '@samrank/rank';

const here = dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------------------------- arguments

function parseArgs(argv) {
  const args = { backend: 'webgpu', dry: false, fakeWebgpu: false, torch: null, sections: null, out: null, adapterOnly: false, root: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--backend') args.backend = next();
    else if (a === '--dry') args.dry = true;
    else if (a === '--fake-webgpu') args.fakeWebgpu = true;
    else if (a === '--null-adapter') args.nullAdapter = true;
    else if (a === '--torch') args.torch = next();
    else if (a === '--torch-fp32') args.torchFp32 = next();
    else if (a === '--sections') args.sections = next().split(',').filter(Boolean);
    else if (a === '--out') args.out = next();
    else if (a === '--root') args.root = next();
    else if (a === '--adapter-only') args.adapterOnly = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
// The repository root: where fixtures/ and bench/results/ are (the bundle sits elsewhere on the GPU machine).
const root = resolve(args.root ?? process.env.SAMRANK_ROOT ?? join(here, '..'));
const outDir = resolve(args.out ?? join(root, 'bench', 'results'));
const SECTIONS = args.sections ?? ['checks', 'resnet', 'teacher-student', 'rank'];

// ---------------------------------------------------------------------------------------------- helpers

const log = (line) => process.stderr.write(`${line}\n`);

/** Values of a tensor, read asynchronously (the only read webgpu supports in Node); disposes it. */
async function take(t) {
  const v = await t.data();
  t.dispose();
  return v;
}

/** Waits until everything queued on the backend has run (a one-value read waits for the whole queue). */
async function sync(t) {
  const s = tf.tidy(() => tf.sum(t));
  await s.data();
  s.dispose();
}

function flat(x) {
  if (typeof x === 'number') return [x];
  if (Array.isArray(x)) return x.flatMap(flat);
  throw new Error('not a numeric array');
}

/** Elementwise |a − e| ≤ atol + rtol·|e|: the worst ratio (≤ 1 passes). */
function worstViolation(actual, expected, atol, rtol) {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const v = Math.abs(actual[i] - expected[i]) / (atol + rtol * Math.abs(expected[i]));
    if (!(v <= worst)) worst = Number.isNaN(v) ? Infinity : v;
  }
  return worst;
}

/** max |a − b| / max |b|. */
function relativeError(a, b) {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function loadFixture(name) {
  return JSON.parse(readFileSync(join(root, 'fixtures', name), 'utf8'));
}

/** A backend named 'webgpu' made of the cpu kernels: the webgpu code paths without a GPU. */
async function registerFakeWebgpu() {
  for (const config of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...config, backendName: 'webgpu' });
  tf.registerBackend('webgpu', () => new MathBackendCPU());
}

/** Runs `fn` (which creates its own seeded inputs) on `name` and returns its flattened result values. */
async function valuesOn(name, fn) {
  await tf.setBackend(name);
  const out = tf.tidy(() => {
    const r = fn();
    const list = Array.isArray(r) ? r : [r];
    return tf.concat(list.map((t) => tf.reshape(t, [-1])));
  });
  return take(out);
}

// ---------------------------------------------------------------------------------------------- results

const results = {
  format: 'samrank-gpu-check/1',
  date: new Date().toISOString(),
  dry: args.dry,
  node: process.version,
  tfjs: tf.version_core,
  backend: null,
  adapter: null,
  message: null,
  checks: [],
  resnet: [],
  teacherStudent: null,
  rank: null,
  torch: null,
  torchFp32: null,
  errors: [],
};

function writeResults() {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'gpu.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(outDir, 'gpu.md'), markdown(results));
}

const ms = (x) => (x == null ? '—' : x >= 100 ? `${Math.round(x).toLocaleString('en-US').replace(/,/g, ' ')} ms` : `${x.toFixed(1)} ms`);
const ratio = (a, b) => (a != null && b != null && b > 0 ? a / b : null);
const r2 = (x) => (x == null ? '—' : x.toFixed(2));

/** The short table: one row per ResNet case, then the teacher-student grid and the rank. */
export function markdown(r) {
  const lines = [];
  lines.push(`# GPU check${r.dry ? ' (dry run: tiny sizes, not a measurement)' : ''}`);
  lines.push('');
  lines.push(
    `${r.date}; backend \`${r.backend ?? '—'}\`${r.adapter ? ` on ${r.adapter}` : ''}; Node ${r.node}, tfjs ${r.tfjs}` +
      (r.torch ? `; PyTorch ${r.torch.torch} on ${r.torch.device_name ?? r.torch.device}` : '; no PyTorch reference') +
      '.',
  );
  lines.push('');
  const passed = r.checks.filter((c) => c.ok).length;
  lines.push(
    `Checks: ${passed} of ${r.checks.length} passed${
      r.checks.some((c) => !c.ok)
        ? ` (failed: ${r.checks
            .filter((c) => !c.ok)
            .map((c) => c.name)
            .join(', ')})`
        : ''
    }.`,
  );
  lines.push('');
  if (r.resnet.length) {
    lines.push(
      '| PreAct ResNet-18 | SGD step | SAM step | SAM / SGD | PyTorch SGD | PyTorch SAM | SAM / PyTorch SAM | PyTorch SAM, no TF32 | SAM / that |',
    );
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const e of r.resnet) {
      if (e.error) {
        lines.push(`| w${e.width} b${e.batch} | failed: ${e.error} | | | | | | | |`);
        continue;
      }
      lines.push(
        `| w${e.width} b${e.batch} | ${ms(e.sgdMs)} | ${ms(e.samMs)} | ${r2(ratio(e.samMs, e.sgdMs))} | ${ms(e.torch?.sgd)} | ${ms(e.torch?.sam)} | ${r2(ratio(e.samMs, e.torch?.sam))} | ${ms(e.torchFp32?.sam)} | ${r2(ratio(e.samMs, e.torchFp32?.sam))} |`,
      );
    }
    lines.push('');
  }
  if (r.teacherStudent) {
    const t = r.teacherStudent;
    lines.push(
      t.error
        ? `Teacher-student grid: not run on this backend: ${t.error}`
        : `Teacher-student grid (1 seed, 5 ρ batched): ${t.iterations} steps in ${ms(t.ms)}${t.fullGridEstimateMs ? `, the paper's ${t.paperIterations} steps ≈ ${(t.fullGridEstimateMs / 1000).toFixed(1)} s` : ''}.`,
    );
    lines.push('');
  }
  if (r.rank) {
    const k = r.rank;
    lines.push(
      k.error
        ? `Feature rank: failed: ${k.error}`
        : `Feature rank ${k.rows}×${k.cols} ('sample' centring, ${k.gramSide} Gram ${k.size}×${k.size}): Gram on ${r.backend} ${ms(k.gramMs)}, eigenvalues on the CPU (float64) ${ms(k.eigenMs)}, total ${ms(k.totalMs)}; rank99 = ${k.rank99}.`,
    );
    lines.push('');
  }
  if (r.errors.length) {
    lines.push(`Errors: ${r.errors.join('; ')}`);
    lines.push('');
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------- 1. adapter

/**
 * setupBackend's module loader with literal specifiers, so that the bundle carries these packages and they share
 * its one copy of tfjs-core (a runtime import would load a second copy from node_modules). `webgpu` stays a real
 * import: Dawn's binding is a native file beside the bundle.
 */
const loader = async (specifier) => {
  switch (specifier) {
    case '@tensorflow/tfjs-backend-webgpu':
      return import('@tensorflow/tfjs-backend-webgpu');
    case '@tensorflow/tfjs-backend-cpu':
      return import('@tensorflow/tfjs-backend-cpu');
    case '@tensorflow/tfjs-layers':
      return import('@tensorflow/tfjs-layers');
    default:
      return import(specifier);
  }
};

async function setup() {
  if (args.fakeWebgpu) await registerFakeWebgpu();
  let s;
  try {
    // The fake backend is already registered: only the real one needs Dawn.
    s = args.nullAdapter
      ? await setupNullAdapter()
      : args.fakeWebgpu && args.backend === 'webgpu'
        ? await setupFake()
        : await setupBackend({ backend: args.backend, quiet: true, loader });
  } catch (error) {
    if (error instanceof BackendUnavailableError) {
      process.stdout.write(`${error.reason}${error.installed ? '' : ` (install ${error.packageName})`}\n`);
      process.exit(2);
    }
    throw error;
  }
  tf.enableProdMode();
  results.backend = s.backend;
  results.adapter = s.adapter ?? null;
  results.message = s.message;
  log(s.message);
  process.stdout.write(`backend ${s.backend}${s.adapter ? `, adapter: ${s.adapter}` : ''}\n`);
}

async function setupNullAdapter() {
  await setupBackend({ backend: 'cpu', quiet: true, loader });
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  globalThis.navigator ??= {};
  Object.defineProperty(globalThis.navigator, 'gpu', { value: create(['backend=null']), configurable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend did not start on the null adapter');
  results.nullAdapter = true;
  return { backend: 'webgpu', adapter: "Dawn's null backend (computes nothing: values are garbage)", message: 'null adapter', kernels: [] };
}

async function setupFake() {
  await setupBackend({ backend: 'cpu', quiet: true, loader });
  await tf.setBackend('webgpu');
  return {
    backend: 'webgpu',
    adapter: 'fake (the cpu kernels under the name webgpu)',
    message: "using the fake 'webgpu' backend",
    kernels: registerTrainingKernels('webgpu'),
  };
}

// ---------------------------------------------------------------------------------------------- 2. checks

async function check(name, fn) {
  const t0 = performance.now();
  let entry;
  try {
    entry = { name, ...(await fn()) };
  } catch (error) {
    entry = { name, ok: false, error: `${error?.name ?? 'Error'}: ${String(error?.message ?? error).split('\n')[0]}` };
  }
  entry.ms = Math.round(performance.now() - t0);
  await tf.setBackend(results.backend);
  results.checks.push(entry);
  log(
    `${entry.ok ? 'ok  ' : 'FAIL'} ${name}${entry.worst !== undefined ? ` (worst ${Number(entry.worst).toExponential(2)})` : ''}${entry.error ? `: ${entry.error}` : ''}`,
  );
}

const normal = (shape, seed, std = 1) => tf.randomNormal(shape, 0, std, 'float32', seed);

/** target vs cpu on the same seeded inputs: relative error below `tol`. */
function againstCpu(fn, tol) {
  return async () => {
    const ref = await valuesOn('cpu', fn);
    const got = await valuesOn(results.backend, fn);
    const worst = relativeError(got, ref);
    return { ok: worst <= tol, worst, tol };
  };
}

const CONV_NAMES = ['conv_kernel', 'conv_bias', 'dense_kernel', 'dense_bias'];

function convNet(p, x) {
  const z = tf.add(conv2d(x, p.conv_kernel, 1, 1), p.conv_bias);
  return dense(globalAvgPool(tf.relu(z)), p.dense_kernel, p.dense_bias);
}

/** A golden conv SAM fixture through the models' conv path and optim's SAM, values read asynchronously. */
async function convSamFixture(file) {
  const fx = loadFixture(file);
  const hp = fx.hyperparameters;
  const tol = fx.tolerances.float32;
  const params = Object.fromEntries(CONV_NAMES.map((n) => [n, tf.variable(tf.tensor(fx.params_before[n]))]));
  const base = hp.momentum > 0 ? tf.train.momentum(hp.lr, hp.momentum) : tf.train.sgd(hp.lr);
  // checkFinite reads a flag synchronously each step, which webgpu cannot do in Node.
  const sam = new SAM(base, { rho: hp.rho, epsilon: hp.sam_stabilizer, weightDecay: hp.weight_decay, checkFinite: false });
  const before = tf.memory().numTensors;
  let worst = 0;
  const compare = async (t, expected) => {
    worst = Math.max(worst, worstViolation(await take(t), flat(expected), tol.atol, tol.rtol));
  };
  for (const step of fx.steps) {
    const x = tf.tensor4d(step.X);
    const labels = tf.tensor1d(step.labels, 'int32');
    const loss = () => softmaxCrossEntropy(convNet(params, x), labels);
    const g = valueAndGrads(params, loss);
    await compare(g.value, step.expected.loss_before);
    for (const n of CONV_NAMES) await compare(g.grads[n], step.expected.grad[n]);
    sam.minimize(
      loss,
      false,
      CONV_NAMES.map((n) => params[n]),
    );
    for (const n of CONV_NAMES) await compare(tf.clone(params[n]), step.expected.params_after[n]);
    await compare(tf.tidy(loss), step.expected.loss_after);
    tf.dispose([x, labels]);
  }
  const leaked = tf.memory().numTensors - before - (hp.momentum > 0 ? CONV_NAMES.length : 0);
  sam.dispose();
  tf.dispose(Object.values(params));
  return { ok: worst <= 1 && leaked <= 0, worst, leakedTensors: leaked };
}

/** Σ of the upper triangle of float32 block products, in float64, for the n × n ('examples') Gram. */
async function gramExamples(xc, block) {
  const [n, d] = xc.shape;
  const G = new Float64Array(n * n);
  for (let s = 0; s < d; s += block) {
    const size = Math.min(block, d - s);
    const prod = tf.tidy(() => {
      const cols = tf.slice(xc, [0, s], [n, size]);
      return tf.matMul(cols, tf.transpose(cols));
    });
    const v = await take(prod);
    for (let i = 0; i < n; i++) for (let j = i, o = i * n; j < n; j++) G[o + j] += v[o + j];
  }
  return G;
}

/** The d × d ('features') Gram, blocks of rows. */
async function gramFeatures(xc, block) {
  const [n, d] = xc.shape;
  const G = new Float64Array(d * d);
  for (let s = 0; s < n; s += block) {
    const size = Math.min(block, n - s);
    const prod = tf.tidy(() => {
      const rows = tf.slice(xc, [s, 0], [size, d]);
      return tf.matMul(tf.transpose(rows), rows);
    });
    const v = await take(prod);
    for (let i = 0; i < d; i++) for (let j = i, o = i * d; j < d; j++) G[o + j] += v[o + j];
  }
  return G;
}

function spectrumOf(eigen, keep, meta) {
  const squared = new Float64Array(keep);
  for (let i = 0; i < keep && i < eigen.length; i++) squared[i] = Math.max(0, eigen[i]);
  let total = 0;
  for (const v of squared) total += v;
  let cumulative = null;
  if (total > 0) {
    cumulative = new Float64Array(keep);
    let acc = 0;
    for (let i = 0; i < keep; i++) {
      acc += squared[i];
      cumulative[i] = acc / total;
    }
  }
  return { squared, cumulative, total, ...meta };
}

/**
 * @samrank/rank/tfjs's route (centre on the backend, float32 Gram blocks on the backend summed in float64, float64
 * eigenvalues on the CPU) with asynchronous reads; its featureRankTf reads with dataSync, which webgpu cannot do here.
 */
async function spectrumOnBackend(x, center, block = 1024) {
  const [n, d] = x.shape;
  const side = n > d ? 'features' : 'examples';
  const xc = tf.tidy(() => (center === 'none' ? tf.clone(x) : tf.sub(x, tf.mean(x, center === 'feature' ? 0 : 1, true))));
  const t0 = performance.now();
  const G = side === 'features' ? await gramFeatures(xc, block) : await gramExamples(xc, block);
  const gramMs = performance.now() - t0;
  xc.dispose();
  const m = side === 'features' ? d : n;
  const t1 = performance.now();
  const eigen = symmetricEigenvalues(G, m);
  const eigenMs = performance.now() - t1;
  return {
    spectrum: spectrumOf(eigen, Math.min(n, d), { rows: n, cols: d, center, method: `gram-${side}` }),
    gramMs,
    eigenMs,
    side,
    size: m,
  };
}

async function rankFixture() {
  const fx = loadFixture('feature_rank.json');
  let worst = 0;
  const wrong = [];
  for (const c of fx.cases) {
    const x = tf.tensor2d(c.H);
    const { spectrum } = await spectrumOnBackend(x, 'feature');
    x.dispose();
    for (const t of c.thresholds) {
      const r = rankFromSpectrum(spectrum, { threshold: t });
      if (r !== c.expected.ranks[String(t)]) wrong.push(`${c.name}@${t}: ${r} ≠ ${c.expected.ranks[String(t)]}`);
    }
    // All-constant and single-example matrices have no variance: their σ² must come out (almost) exactly 0.
    const atol = 1e-5 * c.expected.total_variance || 1e-6;
    worst = Math.max(worst, worstViolation(spectrum.squared, c.expected.squared_singular_values, atol, 0));
  }
  return { ok: wrong.length === 0 && worst <= 1, worst, ...(wrong.length ? { wrongRanks: wrong } : {}) };
}

/** A tiny PreAct ResNet-18's loss and every gradient (first-order fused BatchNorm) against cpu. */
function resnetGrads() {
  const model = createModel('preact-resnet18', { width: 4 });
  const { params, state } = model.init(0);
  const store = new BatchNormStateStore(state);
  const x = normal([4, 32, 32, 3], 7);
  const y = tf.tensor1d([1, 3, 5, 7], 'int32');
  const { value, grads } = valueAndGrads(params, classificationLoss(model, params, store, x, y, 'train'));
  const out = [
    value,
    ...Object.keys(grads)
      .sort()
      .map((k) => grads[k]),
  ];
  // Variables outlive tidy: release them here; the returned tensors are kept by tidy.
  store.dispose();
  disposeState(params);
  return out;
}

/** SGD and SAM steps of a small ResNet leave the tensor count unchanged once the momentum slots exist. */
async function resnetNoLeaks() {
  const model = createModel('preact-resnet18', { width: 8 });
  const { params, state } = model.init(1);
  const store = new BatchNormStateStore(state);
  const vars = Object.values(params);
  const x = normal([8, 32, 32, 3], 3);
  const y = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32');
  const sam = new SAM(tf.train.momentum(0.05, 0.9), { rho: 0.1, weightDecay: 5e-4, checkFinite: false });
  const step = () => sam.minimize(classificationLoss(model, params, store, x, y, 'train'), false, vars);
  step();
  await sync(vars[0]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step();
  await sync(vars[0]);
  const leaked = tf.memory().numTensors - before;
  sam.dispose();
  store.dispose();
  disposeState(params);
  tf.dispose([x, y]);
  return { ok: leaked === 0, leakedTensors: leaked };
}

async function runChecks() {
  const backend = results.backend;
  await check('none of the kernels of @samrank/backend is registered for this backend', async () => {
    if (backend === 'wasm' || backend === 'cpu') return { ok: true, skipped: `the kernels belong on ${backend}` };
    // The package's own kernel names; its replacements of stock names are covered by the unit tests.
    const own = [...new Set([...TRAINING_KERNELS.wasm, ...TRAINING_KERNELS.cpu])].filter(
      (k) => k.startsWith('Samrank') && tf.getKernel(k, backend) !== undefined,
    );
    const installed = registerTrainingKernels(backend);
    return {
      ok: own.length === 0 && installed.length === 0 && tf.getKernel(SCALE_SHIFT_KERNEL, backend) === undefined,
      ...(own.length ? { own } : {}),
    };
  });
  await check(
    'matMul with both transposes',
    againstCpu(() => tf.matMul(normal([96, 80], 1), normal([64, 96], 2), true, true), 1e-5),
  );
  await check(
    'conv2d 3×3 stride 1 and 2, 1×1 stride 2: forward, input and filter gradients',
    againstCpu(() => {
      const out = [];
      for (const [k, s] of [
        [3, 1],
        [3, 2],
        [1, 2],
      ]) {
        const x = normal([4, 12, 12, 8], 10 + k + s);
        const w = normal([k, k, 8, 16], 20 + k + s, 0.2);
        const f = (a, b) => tf.sum(tf.square(tf.conv2d(a, b, s, 'same')));
        out.push(tf.conv2d(x, w, s, 'same'), ...tf.grads(f)([x, w]));
      }
      return out;
    }, 1e-4),
  );
  await check(
    'gradient of a gradient norm through conv, tanh, sigmoid, mean (double backprop)',
    againstCpu(() => {
      const x = normal([2, 6, 6, 3], 21);
      const loss = (w) => tf.sum(tf.sigmoid(tf.mean(tf.tanh(tf.conv2d(x, w, 2, 'same')), [1, 2])));
      return tf.grad((w) => tf.sum(tf.square(tf.grad(loss)(w))))(normal([3, 3, 3, 4], 22, 0.4));
    }, 1e-4),
  );
  await check(
    'scaleShift (plain ops without the fused kernel) and its gradient',
    againstCpu(() => {
      const x = normal([2, 5, 5, 6], 31);
      const f = (s, b) => tf.sum(tf.square(scaleShift(x, s, b, true)));
      return tf.grads(f)([normal([6], 32), normal([6], 33)]);
    }, 1e-5),
  );
  await check(
    'PreAct ResNet-18 (width 4) loss and all gradients: fused BatchNorm falls back to composite ops',
    againstCpu(resnetGrads, 2e-3),
  );
  await check('conv_sam_step.json through models + SAM', () => convSamFixture('conv_sam_step.json'));
  await check('conv_sam_momentum_wd.json through models + SAM (momentum, weight decay)', () => convSamFixture('conv_sam_momentum_wd.json'));
  await check('feature_rank.json: Gram on the backend, eigenvalues in float64 (ranks exact, σ² within tolerance)', rankFixture);
  await check('SAM steps of a ResNet leave no tensors behind', resnetNoLeaks);
  if (backend === 'webgpu' && !args.fakeWebgpu) {
    await check('a synchronous read of a GPU tensor says what to do instead', async () => {
      const t = tf.add(normal([4], 1), 1);
      try {
        t.dataSync();
        return { ok: true, note: 'dataSync worked here' };
      } catch (error) {
        return { ok: error instanceof SyncReadUnavailableError, note: String(error?.message).slice(0, 120) };
      } finally {
        t.dispose();
      }
    });
  }
  writeResults();
}

// ---------------------------------------------------------------------------------------------- 3. timings

/** Medians of functions timed in alternation, each followed by a wait for the queue. */
async function timeInterleaved(fns, repeats, warmup, syncOn) {
  for (let i = 0; i < warmup; i++)
    for (const fn of fns) {
      fn();
      await sync(syncOn);
    }
  const times = fns.map(() => []);
  for (let i = 0; i < repeats; i++) {
    for (const [k, fn] of fns.entries()) {
      const t0 = performance.now();
      fn();
      await sync(syncOn);
      times[k].push(performance.now() - t0);
    }
  }
  return times.map(median);
}

function torchTimes(width, batch, from = results.torch) {
  const section = from?.results?.[`preact_resnet18_w${width}_b${batch}`];
  return section ? { sgd: section.sgd.median_ms, sam: section.sam.median_ms } : null;
}

async function runResnet() {
  const cases = args.dry
    ? [[4, 4]]
    : [
        [16, 128],
        [16, 256],
        [64, 128],
        [64, 256],
      ];
  const repeats = args.dry ? 1 : 5;
  for (const [width, batch] of cases) {
    const entry = { width, batch };
    try {
      const model = createModel('preact-resnet18', { width });
      const { params, state } = model.init(0);
      const store = new BatchNormStateStore(state);
      const vars = Object.values(params);
      const x = tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', 1);
      const y = tf.randomUniform([batch], 0, 10, 'int32', 2);
      const sgd = tf.train.momentum(0.05, 0.9);
      const sgdStep = () => {
        const { value, grads } = valueAndGrads(params, classificationLoss(model, params, store, x, y, 'train'));
        // Coupled weight decay, as torch.optim.SGD(weight_decay=5e-4).
        const named = tf.tidy(() => Object.entries(params).map(([n, v]) => ({ name: v.name, tensor: tf.add(grads[n], tf.mul(v, 5e-4)) })));
        sgd.applyGradients(named);
        tf.dispose([value, ...Object.values(grads), ...named.map((g) => g.tensor)]);
      };
      // One batch, one perturbation: GPU memory holds the paper's batch (no micro-batches).
      const sam = new SAM(tf.train.momentum(0.05, 0.9), { rho: 0.1, weightDecay: 5e-4, checkFinite: false });
      const samStep = () => sam.minimize(classificationLoss(model, params, store, x, y, 'train'), false, vars);
      const t0 = performance.now();
      sgdStep();
      samStep();
      await sync(vars[0]);
      entry.firstStepsMs = Math.round(performance.now() - t0);
      const before = tf.memory().numTensors;
      const [sgdMs, samMs] = await timeInterleaved([sgdStep, samStep], repeats, 1, vars[0]);
      Object.assign(entry, { sgdMs, samMs, repeats, leakedTensors: tf.memory().numTensors - before });
      entry.torch = torchTimes(width, batch);
      entry.torchFp32 = torchTimes(width, batch, results.torchFp32);
      sgd.dispose();
      sam.dispose();
      store.dispose();
      disposeState(params);
      tf.dispose([x, y]);
    } catch (error) {
      entry.error = `${error?.name ?? 'Error'}: ${String(error?.message ?? error).split('\n')[0]}`;
    }
    results.resnet.push(entry);
    log(`resnet w${width} b${batch}: ${entry.error ?? `SGD ${ms(entry.sgdMs)}, SAM ${ms(entry.samMs)}`}`);
    writeResults();
  }
}

async function runTeacherStudent() {
  const paperIterations = 19_953;
  const iterations = args.dry ? 200 : Number(process.env.SAMRANK_GPU_TS_ITERATIONS ?? 2_000);
  try {
    const { runSweep } = await import('@samrank/experiments');
    const { resolveTeacherStudentConfig, teacherStudentDefinition } = await import('@samrank/experiments/teacher-student');
    const config = {
      ...resolveTeacherStudentConfig({ seeds: 1, iterations }),
      evaluations: Math.max(1, Math.round((70 * iterations) / paperIterations)),
    };
    const t0 = performance.now();
    const { prepared } = await teacherStudentDefinition.prepare(config, () => {}, {});
    const out = await runSweep({ definition: teacherStudentDefinition, config, prepared });
    const elapsed = performance.now() - t0;
    if (!out.completed) throw new Error('the sweep did not complete');
    results.teacherStudent = { iterations, paperIterations, ms: elapsed, fullGridEstimateMs: (elapsed * paperIterations) / iterations };
  } catch (error) {
    results.teacherStudent = { iterations, error: `${error?.name ?? 'Error'}: ${String(error?.message ?? error).split('\n')[0]}` };
  }
  log(`teacher-student: ${results.teacherStudent.error ?? ms(results.teacherStudent.ms)}`);
  writeResults();
}

async function runRank() {
  const [n, d] = args.dry ? [256, 384] : [10_240, 16_384];
  try {
    // Stand-in block-3 features: ReLU of a random projection of 64-dim data plus noise, made on the backend.
    const x = tf.tidy(() => tf.add(tf.relu(tf.matMul(normal([n, 64], 1), normal([64, d], 2))), normal([n, d], 3, 0.01)));
    await sync(x);
    const t0 = performance.now();
    const { spectrum, gramMs, eigenMs, side, size } = await spectrumOnBackend(x, 'sample', 2048);
    const totalMs = performance.now() - t0;
    x.dispose();
    results.rank = {
      rows: n,
      cols: d,
      center: 'sample',
      gramSide: side === 'examples' ? 'n×n' : 'd×d',
      size,
      gramMs,
      eigenMs,
      totalMs,
      rank99: rankFromSpectrum(spectrum, { threshold: 0.99 }),
    };
  } catch (error) {
    results.rank = { rows: n, cols: d, error: `${error?.name ?? 'Error'}: ${String(error?.message ?? error).split('\n')[0]}` };
  }
  log(
    `rank ${n}×${d}: ${results.rank.error ?? `${ms(results.rank.totalMs)} (Gram ${ms(results.rank.gramMs)}, eigenvalues ${ms(results.rank.eigenMs)})`}`,
  );
  writeResults();
}

// ---------------------------------------------------------------------------------------------- main

// An uncaught error in the minified bundle would print a screenful of one source line: one line instead.
process.on('uncaughtException', (error) => {
  process.stderr.write(`gpu-check: ${error?.name ?? 'Error'}: ${String(error?.message ?? error).split('\n')[0]}\n`);
  process.exit(1);
});
process.on('unhandledRejection', (error) => {
  process.stderr.write(`gpu-check: ${error?.name ?? 'Error'}: ${String(error?.message ?? error).split('\n')[0]}\n`);
  process.exit(1);
});

for (const [key, file] of [
  ['torch', args.torch],
  ['torchFp32', args.torchFp32],
]) {
  if (!file) continue;
  if (existsSync(file)) results[key] = JSON.parse(readFileSync(file, 'utf8').trim().split('\n').pop());
  else results.errors.push(`no PyTorch results at ${file}`);
}
await setup();
if (args.adapterOnly) process.exit(0);
writeResults();
const sections = { checks: runChecks, resnet: runResnet, 'teacher-student': runTeacherStudent, rank: runRank };
for (const name of SECTIONS) {
  if (!sections[name]) throw new Error(`unknown section ${name} (${Object.keys(sections).join(', ')})`);
  try {
    await sections[name]();
  } catch (error) {
    results.errors.push(`${name}: ${error?.name ?? 'Error'}: ${String(error?.message ?? error).split('\n')[0]}`);
    writeResults();
  }
}
writeResults();
const failed = results.checks.filter((c) => !c.ok).length;
process.stdout.write(`${markdown(results)}\nwrote ${join(outDir, 'gpu.json')} and gpu.md\n`);
// Dawn's instance keeps the event loop alive while navigator.gpu holds it.
process.exit(failed > 0 ? 1 : 0);
