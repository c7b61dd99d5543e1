/**
 * Chooses and initialises a TensorFlow.js backend for training, installs the kernel and gradient fixes, and
 * reports why each better backend was not used.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerDoubleBackpropGradients } from './double-backprop.js';
import { BackendOptionError, BackendUnavailableError, GradientsUnavailableError } from './errors.js';
import { registerTrainingKernels, TRAINING_KERNELS } from './register-kernels.js';
import { initThreadedWasm, THREADED_WASM_VERSION, type ThreadedWasmResult } from './threaded-wasm.js';
import { findAdapter, guardSyncReads, NoAdapter, publishGpu, systemVulkan, type DawnModule, type VulkanProbe } from './webgpu.js';

/** Backends `setupBackend` knows. */
export const BACKEND_NAMES = ['webgpu', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
/** A backend `setupBackend` can select. */
export type BackendName = (typeof BACKEND_NAMES)[number];
/**
 * The order `auto` tries: tfjs-node with CUDA, tfjs-node on the CPU, wasm, cpu. WebGPU is only used when asked
 * for: in Node it cannot read a tensor synchronously (SyncReadUnavailableError), and SAM's finiteness check,
 * the rank's Gram blocks and the experiments' evaluations read synchronously, so picking it by default would
 * stop default users at their first step.
 */
export const AUTO_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** Loads a module by specifier (default: dynamic `import`). Injectable so tests can simulate absent packages. */
export type ModuleLoader = (specifier: string) => Promise<unknown>;

/** Options of {@link setupBackend}. */
export interface SetupBackendOptions {
  /** Which backend to use; `auto` (default) tries tensorflow-gpu, tensorflow, wasm, cpu in order ({@link AUTO_ORDER}). */
  backend?: 'auto' | BackendName;
  /**
   * wasm thread-pool size. Default 1. `2` or more (or `'auto'` = all logical cores) enables the experimental
   * multi-threaded wasm build (docs/backend-notes.md §5.1–5.2); its workers do not keep the process alive.
   */
  threads?: number | 'auto';
  /** Do not print the one-line summary (default false). */
  quiet?: boolean;
  /** Register the double-backprop gradient fixes (default true). */
  gradientFixes?: boolean;
  /** Module loader; tests inject one to simulate installed or missing optional packages. */
  loader?: ModuleLoader;
  /** How the Vulkan loader and drivers are probed before Dawn is asked for an adapter (tests inject one). */
  vulkan?: VulkanProbe;
}

/** One backend `setupBackend` tried. */
export interface BackendAttempt {
  /** The backend tried (a {@link BackendName}). */
  name: string;
  /** Whether it was chosen. */
  ok: boolean;
  /** Why it was not (package missing, initialisation failed, failed the arithmetic check, …). */
  reason?: string;
}

/** What {@link setupBackend} chose. */
export interface BackendSetup {
  /** The tfjs backend now active (`tensorflow`, `webgpu`, `wasm` or `cpu`). */
  backend: string;
  /** Every backend tried, in order, with the reason each failed. */
  tried: BackendAttempt[];
  /** One line saying what was chosen and why the others fell through. */
  message: string;
  /** wasm thread-pool size actually in use (1 unless threads were requested), undefined for other backends. */
  threads?: number;
  /** Kernels this package installed on the chosen backend (none on webgpu: it runs tfjs' own WGSL kernels). */
  kernels: string[];
  /** The GPU adapter (vendor, architecture, device, description) when the backend is webgpu. */
  adapter?: string;
  /**
   * Set when `auto` had to settle for cpu because wasm was missing or failed: what to install (package and
   * command) for the wasm backend, on which this package's kernels train about 10× faster. Also in `message`.
   */
  hint?: string;
}

const PACKAGES: Record<BackendName, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  webgpu: '@tensorflow/tfjs-backend-webgpu and webgpu',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

const defaultLoader: ModuleLoader = (specifier) => import(specifier);

/** A candidate cannot be used; `installed` when its packages are there and something else is missing. */
class Unavailable extends Error {
  constructor(
    message: string,
    readonly installed = false,
  ) {
    super(message);
  }
}

function describe(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const first = text.split('\n')[0] ?? text;
  return first.length > 200 ? `${first.slice(0, 200)}…` : first;
}

function isMissingModule(err: unknown, specifier: string): boolean {
  const e = err as { code?: string; message?: string } | null;
  const code = e?.code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String(e?.message ?? '').includes(specifier);
}

async function load(loader: ModuleLoader, specifier: string): Promise<unknown> {
  try {
    return await loader(specifier);
  } catch (err) {
    if (isMissingModule(err, specifier)) throw new Unavailable(`${specifier} is not installed`);
    throw new Unavailable(`${specifier} failed to load: ${describe(err)}`);
  }
}

/** Makes sure the stock gradients are registered, importing tfjs-layers (whose import registers them) if not. */
export async function ensureGradients(loader: ModuleLoader = defaultLoader): Promise<void> {
  if (tf.getGradient('Mean')) return;
  try {
    await loader('@tensorflow/tfjs-layers');
  } catch (err) {
    throw new GradientsUnavailableError(
      `gradients are not registered and @tensorflow/tfjs-layers cannot be loaded (${describe(err)}); install @tensorflow/tfjs-layers or import @tensorflow/tfjs`,
    );
  }
  if (!tf.getGradient('Mean')) {
    throw new GradientsUnavailableError(
      'importing @tensorflow/tfjs-layers did not register gradients: it resolved to a different copy of @tensorflow/tfjs-core; deduplicate tfjs-core',
    );
  }
}

/** Known-answer check: a backend that computes garbage (e.g. the webgpu null adapter) must never be chosen. */
async function checkArithmetic(name: string): Promise<void> {
  const result = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2])));
  const values = Array.from(await result.data());
  result.dispose();
  const expected = [19, 22, 43, 50];
  if (values.some((v, i) => Math.abs(v - expected[i]!) > 1e-4)) {
    throw new Unavailable(`backend '${name}' computed [1,2;3,4]·[5,6;7,8] = [${values.join(', ')}], not [19, 22, 43, 50]`);
  }
}

async function activate(name: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (err) {
    throw new Unavailable(`initialisation failed: ${describe(err)}`);
  }
  if (!ok) throw new Unavailable(`tf.setBackend('${name}') returned false (initialisation failed)`);
  await tf.ready();
  await checkArithmetic(name);
}

function registered(name: string): boolean {
  return tf.engine().registryFactory[name] !== undefined;
}

async function tryTensorflow(loader: ModuleLoader, gpu: boolean): Promise<void> {
  const specifier = gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  // tfjs-node-gpu falls back to the CPU build of libtensorflow when CUDA is missing; that backend is the same
  // 'tensorflow' backend tfjs-node would register, so a loaded GPU package also serves the CPU candidate.
  if (!(gpu === false && registered('tensorflow'))) await load(loader, specifier);
  if (!registered('tensorflow')) {
    throw new Unavailable(
      `${specifier} loaded but registered no 'tensorflow' backend with this @tensorflow/tfjs-core (duplicate tfjs-core copy?)`,
    );
  }
  await activate('tensorflow');
  if (gpu) {
    const usingGpu = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
    if (usingGpu === false) {
      throw new Unavailable(`${specifier} loaded but found no usable GPU (it needs CUDA 11.2 + cuDNN 8.1)`);
    }
  }
}

async function tryWebgpu(loader: ModuleLoader, vulkan: VulkanProbe): Promise<string> {
  const dawn = (await load(loader, 'webgpu')) as DawnModule;
  if (typeof dawn?.create !== 'function') throw new Unavailable('the webgpu package has no create()');
  let found: Awaited<ReturnType<typeof findAdapter>>;
  try {
    found = await findAdapter(dawn, vulkan);
  } catch (err) {
    if (err instanceof NoAdapter) throw new Unavailable(err.message, true);
    throw new Unavailable(`Dawn failed while looking for an adapter: ${describe(err)}`, true);
  }
  publishGpu(dawn, found.gpu);
  await load(loader, '@tensorflow/tfjs-backend-webgpu');
  if (!registered('webgpu')) {
    throw new Unavailable(
      "@tensorflow/tfjs-backend-webgpu registered no 'webgpu' backend with this tfjs-core (imported before navigator.gpu existed, or a second tfjs-core copy)",
    );
  }
  try {
    await activate('webgpu');
  } catch (err) {
    if (err instanceof Unavailable) throw new Unavailable(`${err.message} on ${found.label}`, true);
    throw err;
  }
  guardSyncReads(tf.backend());
  return found.label;
}

async function tryWasm(loader: ModuleLoader, threads: number): Promise<ThreadedWasmResult | undefined> {
  const wasm = (await load(loader, '@tensorflow/tfjs-backend-wasm')) as Record<string, unknown>;
  if (!registered('wasm')) throw new Unavailable("@tensorflow/tfjs-backend-wasm registered no 'wasm' backend with this tfjs-core");
  registerTrainingKernels('wasm');
  if (threads > 1) {
    // Throws ThreadedWasmError (not Unavailable): an explicit threads request must not silently fall through.
    const result = await initThreadedWasm(wasm, threads);
    await activate('wasm');
    return result;
  }
  await activate('wasm');
  return undefined;
}

async function tryCpu(loader: ModuleLoader): Promise<void> {
  await load(loader, '@tensorflow/tfjs-backend-cpu');
  if (!registered('cpu')) throw new Unavailable("@tensorflow/tfjs-backend-cpu registered no 'cpu' backend with this tfjs-core");
  registerTrainingKernels('cpu');
  await activate('cpu');
}

function resolveThreads(threads: SetupBackendOptions['threads'], cores: number): number {
  if (threads === undefined) return 1;
  if (threads === 'auto') return Math.max(1, cores);
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new BackendOptionError(`threads must be a positive integer up to 64 or 'auto', got ${String(threads)}`);
  }
  return threads;
}

function summary(chosen: string, tried: BackendAttempt[], threads: number | undefined, hint: string | undefined, adapter?: string): string {
  const failed = tried.filter((t) => !t.ok).map((t) => `${t.name}: ${t.reason}`);
  const note = threads !== undefined ? ` (${threads} thread${threads === 1 ? '' : 's'})` : adapter !== undefined ? ` (${adapter})` : '';
  return `samrank: using backend '${chosen}'${note}${failed.length ? `; skipped ${failed.join('; ')}` : ''}${hint ? `. ${hint}` : ''}`;
}

/**
 * The install command for the wasm backend this package's kernels are built for (its private names are those of
 * 4.22.0, and tfjs backends require the tfjs-core of their own version).
 */
export function wasmInstallCommand(coreVersion: string = tf.version_core): string {
  const wasm = `@tensorflow/tfjs-backend-wasm@${THREADED_WASM_VERSION}`;
  return coreVersion === THREADED_WASM_VERSION
    ? `npm install ${wasm}`
    : `npm install ${wasm} @tensorflow/tfjs-core@${THREADED_WASM_VERSION}`;
}

/** What to do when `auto` ended on cpu: wasm trains conv nets about 10× faster here (a ResNet SAM step 1.5 s, not 14 s). */
function cpuFallbackHint(tried: BackendAttempt[]): string | undefined {
  const wasm = tried.find((t) => t.name === 'wasm');
  if (!wasm || wasm.ok) return undefined;
  const why = /is not installed/.test(wasm.reason ?? '') ? '@tensorflow/tfjs-backend-wasm is not installed' : 'the wasm backend failed';
  return `Training on cpu is about 10× slower than on wasm; ${why}: ${wasmInstallCommand()}`;
}

/**
 * Sets up the best available backend for training and says which it chose.
 *
 * `auto` tries WebGPU (only with `@tensorflow/tfjs-backend-webgpu` + `webgpu` installed and a real adapter),
 * `@tensorflow/tfjs-node-gpu` (only if it is installed and finds a GPU), `@tensorflow/tfjs-node`, wasm, then cpu.
 * An explicit name selects exactly that backend or throws {@link BackendUnavailableError}. On webgpu no kernels of
 * this package are installed, and a synchronous read of a GPU tensor throws `SyncReadUnavailableError`
 * (Node cannot read WebGPU buffers synchronously). It also makes sure
 * gradients are registered (importing `@tensorflow/tfjs-layers` if needed), registers the double-backprop
 * gradient fixes, and installs the fast training kernels on wasm (and the fast filter gradient on cpu).
 * Idempotent; call again to switch backend. Call it before creating tensors.
 */
export async function setupBackend(options: SetupBackendOptions = {}): Promise<BackendSetup> {
  const requested = options.backend ?? 'auto';
  if (requested !== 'auto' && !(BACKEND_NAMES as readonly string[]).includes(requested)) {
    throw new BackendOptionError(`unknown backend '${String(requested)}'; expected 'auto' or one of ${BACKEND_NAMES.join(', ')}`);
  }
  const { availableParallelism, cpus } = await import('node:os');
  const cores = typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
  const threads = resolveThreads(options.threads, cores);
  if (threads > 1 && requested !== 'auto' && requested !== 'wasm') {
    throw new BackendOptionError(`threads=${threads} applies to the wasm backend only, not '${requested}'`);
  }
  const loader = options.loader ?? defaultLoader;
  const vulkan = options.vulkan ?? systemVulkan;
  await ensureGradients(loader);
  if (options.gradientFixes !== false) registerDoubleBackpropGradients();

  const candidates: BackendName[] = requested === 'auto' ? [...AUTO_ORDER] : [requested];
  const tried: BackendAttempt[] = [];
  for (const name of candidates) {
    try {
      let threadsUsed: number | undefined;
      let adapter: string | undefined;
      let tfName: string = name;
      if (name === 'tensorflow-gpu' || name === 'tensorflow') {
        await tryTensorflow(loader, name === 'tensorflow-gpu');
        tfName = 'tensorflow';
      } else if (name === 'webgpu') {
        adapter = await tryWebgpu(loader, vulkan);
      } else if (name === 'wasm') {
        const result = await tryWasm(loader, threads);
        threadsUsed = result?.threads ?? 1;
      } else {
        await tryCpu(loader);
      }
      tried.push({ name, ok: true });
      // Keep the cpu backend a usable correctness reference whenever it is loaded, whichever backend won.
      if (tfName !== 'cpu' && registered('cpu')) registerTrainingKernels('cpu');
      const kernels = tfName === 'wasm' || tfName === 'cpu' ? [...TRAINING_KERNELS[tfName]] : [];
      const hint = requested === 'auto' && tfName === 'cpu' ? cpuFallbackHint(tried) : undefined;
      const message = summary(tfName, tried, threadsUsed, hint, adapter);
      if (!options.quiet) console.info(message);
      const setup: BackendSetup = { backend: tfName, tried, message, kernels };
      if (threadsUsed !== undefined) setup.threads = threadsUsed;
      if (adapter !== undefined) setup.adapter = adapter;
      if (hint !== undefined) setup.hint = hint;
      return setup;
    } catch (err) {
      if (!(err instanceof Unavailable)) throw err;
      tried.push({ name, ok: false, reason: err.message });
      if (requested !== 'auto') throw new BackendUnavailableError(name, PACKAGES[name], err.message, err.installed);
    }
  }
  throw new BackendUnavailableError('auto', PACKAGES.cpu, tried.map((t) => `${t.name}: ${t.reason}`).join('; '));
}
