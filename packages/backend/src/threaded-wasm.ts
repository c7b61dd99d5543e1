/**
 * Multi-threaded wasm in Node (docs/backend-notes.md §5). Stock 4.22 hard-codes
 * WASM_HAS_MULTITHREAD_SUPPORT=false in Node because emscripten hands `blob:` URLs to worker_threads, and the
 * C++ side caps the pool at half the logical cores. During backend initialisation only, this module:
 * records Blob sources and turns their object URLs into temp files; re-creates the bundle-scope names the
 * threaded factory's source refers to; intercepts `mainScriptUrlOrBlob` (set on a plain object, hence the
 * Object.prototype setter) so workers get a file path; reports twice the requested threads as cores. Every
 * patched global is restored afterwards. The workers are unref'ed so they do not keep the process alive.
 * It depends on private names of the 4.22.0 bundle and checks each of them, failing with ThreadedWasmError.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ThreadedWasmError } from './errors.js';

/** The only @tensorflow/tfjs-backend-wasm version whose private names this module knows. */
export const THREADED_WASM_VERSION = '4.22.0';

/** Result of {@link initThreadedWasm}. */
export interface ThreadedWasmResult {
  /** Threads XNNPACK actually uses (`getThreadsCount()`). */
  threads: number;
}

const require = createRequire(import.meta.url);
const FACTORY_PREFIX = 'var WasmBackendModuleThreadedSimd = ';
/** Names the threaded factory's source uses from the bundle scope; workers evaluate it without that scope. */
const BUNDLE_NAMES = ['require$$0', 'require$$1', 'require$$3', 'require$$4', '_scriptDir'];

interface WasmPackage {
  setThreadsCount?: (n: number) => void;
  getThreadsCount?: () => number;
  version_wasm?: string;
  BackendWasm?: unknown;
}

interface WorkerLike {
  unref?: () => void;
}

interface PThreadLike {
  unusedWorkers?: WorkerLike[];
  runningWorkers?: WorkerLike[];
}

function bundleScopePrelude(bundlePath: string): string {
  return (
    `var require$$0=require('fs'),require$$1=require('path'),require$$3=require('perf_hooks'),require$$4=require('os');` +
    `var commonjsGlobal=globalThis;var _scriptDir=${JSON.stringify(bundlePath)};\n`
  );
}

/** Checks that the installed bundle still has the private names the patches rely on. */
function checkBundle(wasmPackage: WasmPackage): string {
  if (wasmPackage.version_wasm !== THREADED_WASM_VERSION) {
    throw new ThreadedWasmError(
      `multi-threaded wasm supports @tensorflow/tfjs-backend-wasm ${THREADED_WASM_VERSION} only, found ${String(wasmPackage.version_wasm)}`,
    );
  }
  if (typeof wasmPackage.setThreadsCount !== 'function' || typeof wasmPackage.getThreadsCount !== 'function') {
    throw new ThreadedWasmError('@tensorflow/tfjs-backend-wasm lacks setThreadsCount/getThreadsCount');
  }
  const bundlePath = require.resolve('@tensorflow/tfjs-backend-wasm');
  const source = require('node:fs').readFileSync(bundlePath, 'utf8') as string;
  for (const marker of [
    'WASM_HAS_MULTITHREAD_SUPPORT',
    'mainScriptUrlOrBlob',
    'wasmWorkerContents',
    'require$$4.cpus()',
    ...BUNDLE_NAMES,
  ]) {
    if (!source.includes(marker)) {
      throw new ThreadedWasmError(
        `the @tensorflow/tfjs-backend-wasm bundle no longer contains '${marker}'; multi-threaded wasm cannot be enabled`,
      );
    }
  }
  return bundlePath;
}

function wasmModuleOf(backend: unknown): { PThread?: PThreadLike } | undefined {
  return (backend as { wasm?: { PThread?: PThreadLike } } | undefined)?.wasm;
}

/**
 * Re-initialises the wasm backend with `threads` XNNPACK threads. Call before `tf.setBackend('wasm')`; it
 * replaces an already initialised wasm backend (whose tensors are lost). Throws ThreadedWasmError when the
 * bundle is not the known one or the pool did not get the requested size.
 */
export async function initThreadedWasm(wasmPackage: unknown, threads: number): Promise<ThreadedWasmResult> {
  const pkg = wasmPackage as WasmPackage;
  const bundlePath = checkBundle(pkg);
  const engine = tf.engine();
  const entry = engine.registryFactory['wasm'];
  if (!entry) throw new ThreadedWasmError("no 'wasm' backend factory is registered");
  const current = engine.registry['wasm'];
  if (current && tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') && pkg.getThreadsCount!() === threads) {
    return { threads };
  }
  if (current) {
    // A backend instance is bound to its module; a threaded module needs a fresh instance.
    tf.removeBackend('wasm');
    tf.registerBackend('wasm', entry.factory, entry.priority);
  }

  const dir = mkdtempSync(join(tmpdir(), 'samrank-wasm-'));
  // Workers read these files while they start, after this function returns; remove them at exit.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  const g = globalThis as unknown as { Blob: typeof Blob; URL: typeof URL };
  const OriginalBlob = g.Blob;
  const originalCreateObjectURL = g.URL.createObjectURL;
  const os = require('node:os') as { cpus: () => unknown[] };
  const originalCpus = os.cpus;
  const sources = new WeakMap<object, string>();
  const prelude = bundleScopePrelude(bundlePath);
  let sawFactory = false;
  let sawWorker = false;

  const writeSource = (text: string): string => {
    const file = join(dir, `part-${files++}.js`);
    writeFileSync(file, text);
    return file;
  };
  class RecordingBlob extends OriginalBlob {
    constructor(parts?: ConstructorParameters<typeof Blob>[0], options?: ConstructorParameters<typeof Blob>[1]) {
      super(parts ?? [], options);
      if (parts?.every((p) => typeof p === 'string')) sources.set(this, (parts as string[]).join(''));
    }
  }
  const mainScriptKey = 'mainScriptUrlOrBlob';
  const hadKey = Object.hasOwn(Object.prototype, mainScriptKey);
  try {
    g.Blob = RecordingBlob as typeof Blob;
    g.URL.createObjectURL = (obj: Blob): string => {
      const text = sources.get(obj);
      if (text === undefined) return originalCreateObjectURL.call(g.URL, obj);
      sawWorker = true;
      return writeSource(text);
    };
    Object.defineProperty(Object.prototype, mainScriptKey, {
      configurable: true,
      set(this: Record<string, unknown>, value: unknown) {
        let stored = value;
        const text = value && typeof value === 'object' ? sources.get(value) : undefined;
        if (text?.startsWith(FACTORY_PREFIX)) {
          sawFactory = true;
          stored = writeSource(prelude + text);
        }
        Object.defineProperty(this, mainScriptKey, { value: stored, writable: true, enumerable: true, configurable: true });
      },
    });
    os.cpus = () => Array.from({ length: 2 * threads }, () => originalCpus()[0]);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    pkg.setThreadsCount!(threads);
    let ok: boolean;
    try {
      ok = await tf.setBackend('wasm');
    } catch (err) {
      throw new ThreadedWasmError(`threaded wasm initialisation threw: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!ok) throw new ThreadedWasmError("threaded wasm initialisation failed (tf.setBackend('wasm') returned false)");
  } finally {
    g.Blob = OriginalBlob;
    g.URL.createObjectURL = originalCreateObjectURL;
    if (!hadKey) delete (Object.prototype as Record<string, unknown>)[mainScriptKey];
    os.cpus = originalCpus;
  }
  if (!sawFactory || !sawWorker) {
    throw new ThreadedWasmError(
      `the wasm loader did not take the threaded path (factory script ${sawFactory ? 'seen' : 'missing'}, worker script ${sawWorker ? 'seen' : 'missing'})`,
    );
  }
  const got = pkg.getThreadsCount!();
  if (got !== threads) throw new ThreadedWasmError(`asked for ${threads} wasm threads, XNNPACK created ${got}`);
  const pthread = wasmModuleOf(engine.registry['wasm'])?.PThread;
  if (!pthread) throw new ThreadedWasmError('the threaded wasm module exposes no PThread pool');
  for (const w of [...(pthread.unusedWorkers ?? []), ...(pthread.runningWorkers ?? [])]) w.unref?.();
  return { threads: got };
}
