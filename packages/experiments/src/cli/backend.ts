/**
 * Backend selection for the experiments: one place that turns `--backend NAME` into an initialised tfjs
 * backend (with gradients registered and the training kernels installed) via @samrank/models.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@samrank/backend';
import { BackendSelectionError } from '../errors.js';

/** Backends the CLI accepts; `auto` lets @samrank/models pick the fastest installed one. */
export const CLI_BACKENDS = ['wasm', 'cpu', 'auto', 'tensorflow', 'tensorflow-gpu', 'webgpu'] as const;
/** A backend name accepted by {@link selectBackend}. */
export type CliBackend = (typeof CLI_BACKENDS)[number];

/**
 * The experiments' default: wasm measured fastest for the teacher-student net's tiny per-step tensors
 * (bench/index.ts: about 3× faster per batched SAM step than cpu) and ships with the package.
 */
export const DEFAULT_BACKEND: CliBackend = 'wasm';

/** Initialises `name` (wasm with `threads` threads, default 1) and returns the active tfjs backend's name. */
export async function selectBackend(name: CliBackend, options: { quiet?: boolean; threads?: number } = {}): Promise<string> {
  if (!CLI_BACKENDS.includes(name)) {
    throw new BackendSelectionError(`unknown backend '${String(name)}'; expected one of ${CLI_BACKENDS.join(', ')}`);
  }
  const threads = options.threads ?? 1;
  if (threads > 1 && name !== 'wasm' && name !== 'auto') {
    throw new BackendSelectionError(`--threads ${threads} applies to the wasm backend only, not '${name}'`);
  }
  try {
    // Before the backend starts: silences the cpu backend's "install tfjs-node" banner on stderr.
    tf.enableProdMode();
    const setup = await setupBackend({ backend: name, quiet: options.quiet ?? true, threads });
    return setup.backend;
  } catch (error) {
    // BackendUnavailableError's message starts by naming the backend again: keep only its reason and hint.
    const message = (error as Error).message.split('\n')[0]!.replace(/^backend '[^']*' is unavailable: /, '');
    throw new BackendSelectionError(`backend '${name}' is not available: ${message}`);
  }
}
