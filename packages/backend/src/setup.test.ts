import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BackendOptionError, BackendUnavailableError, GradientsUnavailableError } from './errors.js';
import { ensureGradients, setupBackend, wasmInstallCommand, type ModuleLoader } from './setup.js';

function notFound(specifier: string): Error {
  return Object.assign(new Error(`Cannot find package '${specifier}' imported from /x`), { code: 'ERR_MODULE_NOT_FOUND' });
}

/** The real loader, minus `absent` packages, plus `fakes` (specifier → module object). */
function loader(absent: string[], fakes: Record<string, unknown> = {}): ModuleLoader & { calls: string[] } {
  const calls: string[] = [];
  const load = async (specifier: string) => {
    calls.push(specifier);
    if (absent.includes(specifier)) throw notFound(specifier);
    if (specifier in fakes) return fakes[specifier];
    return import(specifier);
  };
  return Object.assign(load, { calls });
}

const NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', 'webgpu', '@tensorflow/tfjs-backend-webgpu'];

// Test order matters: this file starts without gradients (tfjs-core alone registers almost none).
describe('setupBackend', () => {
  it('fails with GradientsUnavailableError when gradients are missing and tfjs-layers cannot load', async () => {
    expect(tf.getGradient('Mean')).toBeUndefined();
    await expect(ensureGradients(loader(['@tensorflow/tfjs-layers']))).rejects.toThrow(GradientsUnavailableError);
    await expect(setupBackend({ quiet: true, loader: loader(['@tensorflow/tfjs-layers']) })).rejects.toThrow(/tfjs-layers/);
  });

  it('auto falls through absent optional backends with a reason each and picks wasm', async () => {
    const load = loader(NODE_PACKAGES);
    const result = await setupBackend({ quiet: true, loader: load });
    expect(result.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    // WebGPU is not in auto's order (no synchronous reads in Node): only asked-for backends try it.
    expect(result.tried.map((t) => [t.name, t.ok])).toEqual([
      ['tensorflow-gpu', false],
      ['tensorflow', false],
      ['wasm', true],
    ]);
    expect(result.tried[0]!.reason).toMatch(/@tensorflow\/tfjs-node-gpu is not installed/);
    expect(result.tried[1]!.reason).toMatch(/@tensorflow\/tfjs-node is not installed/);
    expect(result.message).toMatch(/using backend 'wasm'.*tensorflow-gpu: .*not installed/);
    expect(load.calls).not.toContain('webgpu');
    expect(result.kernels).toContain('Conv2DBackpropFilter');
    expect(result.threads).toBe(1);
    // Gradients were registered through tfjs-layers, and the wasm training kernels are in place.
    expect(tf.getGradient('Mean')).toBeDefined();
    expect(load.calls).toContain('@tensorflow/tfjs-layers');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('really tries the optional packages with the default loader and still lands on wasm here', async () => {
    const result = await setupBackend({ quiet: true });
    expect(result.backend).toBe('wasm');
    expect(result.tried.filter((t) => !t.ok).every((t) => typeof t.reason === 'string' && t.reason.length > 0)).toBe(true);
  });

  it('prints the summary line unless quiet', async () => {
    const lines: string[] = [];
    const original = console.info;
    console.info = (line: string) => lines.push(line);
    try {
      await setupBackend({ backend: 'wasm', loader: loader(NODE_PACKAGES) });
    } finally {
      console.info = original;
    }
    expect(lines).toEqual(["samrank: using backend 'wasm' (1 thread)"]);
  });

  it('an explicit unavailable backend fails with BackendUnavailableError naming the package', async () => {
    const error = await setupBackend({ backend: 'tensorflow', quiet: true, loader: loader(NODE_PACKAGES) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as BackendUnavailableError).packageName).toBe('@tensorflow/tfjs-node');
    expect((error as Error).message).toMatch(/install @tensorflow\/tfjs-node/);
    await expect(setupBackend({ backend: 'tensorflow-gpu', quiet: true, loader: loader(NODE_PACKAGES) })).rejects.toThrow(/tfjs-node-gpu/);
    await expect(setupBackend({ backend: 'webgpu', quiet: true, loader: loader(NODE_PACKAGES) })).rejects.toThrow(BackendUnavailableError);
    // The failed attempts did not change the active backend.
    expect(tf.getBackend()).toBe('wasm');
  });

  it('a tfjs-node package that registers no backend with this tfjs-core falls through with that reason', async () => {
    const result = await setupBackend({
      quiet: true,
      loader: loader(['webgpu'], { '@tensorflow/tfjs-node-gpu': {}, '@tensorflow/tfjs-node': {} }),
    });
    expect(result.backend).toBe('wasm');
    expect(result.tried[0]!.reason).toMatch(/registered no 'tensorflow' backend/);
  });

  it('rejects a null WebGPU adapter and the null-backend trap adapter', async () => {
    const webgpu = (adapter: unknown) => ({ create: () => ({ requestAdapter: async () => adapter }), globals: {} });
    const vulkan = { platform: 'linux', loaderError: () => null, drivers: () => ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'] };
    const nullAdapter = await setupBackend({
      backend: 'webgpu',
      quiet: true,
      vulkan,
      loader: loader(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'], { webgpu: webgpu(null) }),
    }).catch((e: unknown) => e);
    expect(nullAdapter).toBeInstanceOf(BackendUnavailableError);
    expect((nullAdapter as BackendUnavailableError).reason).toMatch(/^no WebGPU adapter: .*lvp_icd/);
    const trap = await setupBackend({
      backend: 'webgpu',
      quiet: true,
      vulkan,
      loader: loader(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'], {
        webgpu: webgpu({ info: { vendor: 'dawn', device: 'null-backend', description: '' } }),
      }),
    }).catch((e: unknown) => e);
    expect((trap as BackendUnavailableError).reason).toMatch(/null-backend/);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('switches to cpu with the fast filter gradient and back to wasm (idempotent)', async () => {
    const cpu = await setupBackend({ backend: 'cpu', quiet: true });
    expect(cpu).toMatchObject({ backend: 'cpu', kernels: ['Conv2DBackpropFilter', 'SamrankScaleShift'] });
    expect(tf.getBackend()).toBe('cpu');
    const again = await setupBackend({ backend: 'wasm', quiet: true });
    const twice = await setupBackend({ backend: 'wasm', quiet: true });
    expect([again.backend, twice.backend, tf.getBackend()]).toEqual(['wasm', 'wasm', 'wasm']);
  });

  it('auto without the wasm package lands on cpu and says what to install for the faster backend', async () => {
    const lines: string[] = [];
    const original = console.info;
    console.info = (line: string) => lines.push(line);
    let result: Awaited<ReturnType<typeof setupBackend>>;
    try {
      result = await setupBackend({ loader: loader([...NODE_PACKAGES, '@tensorflow/tfjs-backend-wasm']) });
    } finally {
      console.info = original;
    }
    expect(result.backend).toBe('cpu');
    expect(result.tried.at(-2)).toEqual({ name: 'wasm', ok: false, reason: '@tensorflow/tfjs-backend-wasm is not installed' });
    expect(result.hint).toBe(
      'Training on cpu is about 10× slower than on wasm; @tensorflow/tfjs-backend-wasm is not installed: npm install @tensorflow/tfjs-backend-wasm@4.22.0',
    );
    expect(result.message.endsWith(`. ${result.hint}`)).toBe(true);
    expect(lines).toEqual([result.message]);
    // A core of another version gets the matching core in the same command (tfjs backends pin their core).
    expect(wasmInstallCommand('4.21.0')).toBe('npm install @tensorflow/tfjs-backend-wasm@4.22.0 @tensorflow/tfjs-core@4.22.0');
    // An explicit cpu, or any other outcome, carries no hint.
    expect((await setupBackend({ backend: 'cpu', quiet: true })).hint).toBeUndefined();
    expect((await setupBackend({ quiet: true, loader: loader(NODE_PACKAGES) })).hint).toBeUndefined();
    expect(tf.getBackend()).toBe('wasm');
  });

  it('validates its options with BackendOptionError', async () => {
    await expect(setupBackend({ backend: 'webgl' as never, quiet: true })).rejects.toThrow(BackendOptionError);
    await expect(setupBackend({ threads: 0, quiet: true })).rejects.toThrow(/threads must be a positive integer/);
    await expect(setupBackend({ threads: 1.5, quiet: true })).rejects.toThrow(BackendOptionError);
    await expect(setupBackend({ backend: 'cpu', threads: 2, quiet: true })).rejects.toThrow(/wasm backend only/);
  });
});
