import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, SyncReadUnavailableError } from './errors.js';
import { scaleShift, SCALE_SHIFT_KERNEL } from './fused-ops.js';
import { isOwn } from './kernel-calls.js';
import { registerTrainingKernels, TRAINING_KERNELS } from './register-kernels.js';
import { setupBackend, type ModuleLoader } from './setup.js';
import {
  dawnWarnings,
  findAdapter,
  guardSyncReads,
  NoAdapter,
  noAdapterReason,
  vulkanProblem,
  WEBGPU_INSTALL_COMMAND,
  type VulkanProbe,
} from './webgpu.js';
import { normal, relativeError, valuesOn } from '../test/backend-support.js';

const linux = (loaderError: string | null, drivers: string[]): VulkanProbe => ({
  platform: 'linux',
  loaderError: () => loaderError,
  drivers: () => drivers,
});
const OK_VULKAN = linux(null, ['/usr/share/vulkan/icd.d/nvidia_icd.json']);

/** Whether Dawn's binding is installed here (an optional peer: the tests below hold either way). */
async function dawnInstalled(): Promise<boolean> {
  try {
    await import('webgpu' as string);
    return true;
  } catch {
    return false;
  }
}

/**
 * A backend registered under the name 'webgpu' that computes with the cpu backend's kernels: what setupBackend and
 * the kernel registrations see of webgpu (a backend name, its kernel table), without a GPU.
 */
function registerFakeWebgpu(): void {
  if (tf.engine().registryFactory['webgpu']) return;
  for (const config of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...config, backendName: 'webgpu' });
  tf.registerBackend('webgpu', () => new MathBackendCPU());
}

function fakeDawn(info: Record<string, string> | null) {
  return { create: () => ({ requestAdapter: async () => (info ? { info } : null) }), globals: { GPUBufferUsage: { MAP_READ: 1 } } };
}

function notFound(specifier: string): Error {
  return Object.assign(new Error(`Cannot find package '${specifier}' imported from /x`), { code: 'ERR_MODULE_NOT_FOUND' });
}

describe('webgpu where no adapter exists (this machine)', () => {
  it('--backend webgpu fails with one line: the package to install, or why Dawn found no adapter', async () => {
    const installed = await dawnInstalled();
    const outcome = await setupBackend({ backend: 'webgpu', quiet: true }).then(
      (setup) => ({ setup }),
      (error: unknown) => ({ error }),
    );
    if ('setup' in outcome) {
      // A machine with a GPU Dawn accepts: then it is chosen, with its adapter named.
      expect(outcome.setup).toMatchObject({ backend: 'webgpu', kernels: [] });
      expect(outcome.setup.adapter).toBeTruthy();
      return;
    }
    const error = outcome.error as BackendUnavailableError;
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).not.toContain('\n');
    if (installed) {
      expect(error.reason).toMatch(/^no WebGPU adapter: Dawn found no Vulkan (loader|device)/);
      expect(error.installed).toBe(true);
      expect(error.message).not.toMatch(/\(install /);
    } else {
      expect(error.reason).toBe('webgpu is not installed');
      expect(error.message).toMatch(/\(install @tensorflow\/tfjs-backend-webgpu and webgpu\)$/);
    }
  });

  it('names the Vulkan problem before Dawn is asked, and after it returned no adapter', () => {
    expect(vulkanProblem(linux('libvulkan.so.1: cannot open shared object file: No such file or directory', []))).toBe(
      "no WebGPU adapter: Dawn found no Vulkan loader (libvulkan.so.1: cannot open shared object file: No such file or directory); install libvulkan1 and the GPU's Vulkan driver",
    );
    expect(vulkanProblem(OK_VULKAN)).toBeNull();
    expect(vulkanProblem({ ...OK_VULKAN, platform: 'darwin' })).toBeNull();
    expect(noAdapterReason(linux(null, []))).toMatch(/^no WebGPU adapter: Dawn found no Vulkan device \(no Vulkan driver manifest in/);
    expect(noAdapterReason(linux(null, ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json']))).toBe(
      "no WebGPU adapter: Dawn found no Vulkan device it accepts (drivers: lvp_icd.x86_64.json; Dawn refuses CPU drivers such as Mesa's llvmpipe)",
    );
    expect(noAdapterReason({ ...OK_VULKAN, platform: 'win32' })).toMatch(/^no WebGPU adapter: requestAdapter\(\) returned null/);
    // What Dawn printed while refusing Debian's lavapipe, as the child probe reads it from stderr.
    const stderr = [
      'error: XDG_RUNTIME_DIR is invalid or not set in the environment.',
      'Warning: Vulkan shaderUniform*ArrayDynamicIndexing required.',
      ' - While initializing adapter (backend=BackendType::Vulkan)',
      '    at InitializeImpl (/src/dawn/native/vulkan/PhysicalDeviceVk.cpp:257)',
    ].join('\n');
    expect(dawnWarnings(stderr)).toEqual(['Vulkan shaderUniform*ArrayDynamicIndexing required']);
    expect(noAdapterReason(linux(null, ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json']), dawnWarnings(stderr))).toBe(
      'no WebGPU adapter: Dawn found no Vulkan device it accepts (drivers: lvp_icd.x86_64.json; Dawn: Vulkan shaderUniform*ArrayDynamicIndexing required)',
    );
    expect(WEBGPU_INSTALL_COMMAND).toBe('npm install @tensorflow/tfjs-backend-webgpu webgpu');
  });

  it('findAdapter: no loader (Dawn not even created), null adapter, null-backend trap, a real one', async () => {
    let created = 0;
    const dawn = (info: Record<string, string> | null) => ({
      create: () => {
        created++;
        return fakeDawn(info).create();
      },
    });
    await expect(findAdapter(dawn(null), linux('libvulkan.so.1: cannot open shared object file', []))).rejects.toThrow(NoAdapter);
    expect(created).toBe(0);
    await expect(findAdapter(dawn(null), OK_VULKAN)).rejects.toThrow(/no Vulkan device it accepts \(drivers: nvidia_icd.json/);
    // With a loader present Dawn is first asked in a child process, so its native warnings stay off the terminal.
    const refused = { ...OK_VULKAN, adapterInChild: () => ({ found: false, dawn: ['Vulkan 1.1 required'] }) };
    const before = created;
    await expect(findAdapter(dawn({ vendor: 'x' }), refused)).rejects.toThrow(/\(drivers: nvidia_icd.json; Dawn: Vulkan 1.1 required\)$/);
    expect(created).toBe(before);
    await expect(findAdapter(dawn({ vendor: 'dawn', device: 'null-backend' }), OK_VULKAN)).rejects.toThrow(
      /refusing the WebGPU null-backend/,
    );
    const found = await findAdapter(dawn({ vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H100' }), OK_VULKAN);
    expect(found.label).toBe('nvidia hopper NVIDIA H100');
  });

  it('an explicit webgpu without an adapter does not tell the user to install what is installed', async () => {
    const load: ModuleLoader = async (s) => (s === 'webgpu' ? fakeDawn(null) : import(s));
    const error = (await setupBackend({ backend: 'webgpu', quiet: true, loader: load, vulkan: linux(null, []) }).catch(
      (e: unknown) => e,
    )) as BackendUnavailableError;
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toMatch(/^backend 'webgpu' is unavailable: no WebGPU adapter: Dawn found no Vulkan device \(/);
    expect(error.message).not.toMatch(/\(install /);
  });
});

describe('on a backend named webgpu (the cpu kernels under that name)', () => {
  it('webgpu when asked for and an adapter exists: names it, installs none of the wasm kernels; auto never tries it', async () => {
    const load: ModuleLoader = async (s) => {
      if (s === 'webgpu') return fakeDawn({ vendor: 'acme', architecture: 'test', device: 'Fake GPU' });
      if (s === '@tensorflow/tfjs-backend-webgpu') {
        // Importing the real package registers its backend as a side effect.
        registerFakeWebgpu();
        return {};
      }
      if (s.startsWith('@tensorflow/tfjs-node')) throw notFound(s);
      return import(s);
    };
    const setup = await setupBackend({ backend: 'webgpu', quiet: true, loader: load, vulkan: OK_VULKAN });
    expect(setup).toMatchObject({ backend: 'webgpu', kernels: [], adapter: 'acme test Fake GPU', tried: [{ name: 'webgpu', ok: true }] });
    expect(setup.message).toBe("samrank: using backend 'webgpu' (acme test Fake GPU)");
    expect(tf.getBackend()).toBe('webgpu');
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeDefined();
    expect(registerTrainingKernels('webgpu')).toEqual([]);
    for (const name of new Set([...TRAINING_KERNELS.wasm, ...TRAINING_KERNELS.cpu])) {
      const kernel = tf.getKernel(name, 'webgpu');
      expect(kernel === undefined || !isOwn(kernel), `${name} on webgpu`).toBe(true);
    }
    expect(tf.getKernel(SCALE_SHIFT_KERNEL, 'webgpu')).toBeUndefined();
    const auto = await setupBackend({ quiet: true, loader: load, vulkan: OK_VULKAN });
    expect(auto.tried.map((t) => t.name)).not.toContain('webgpu');
    await setupBackend({ backend: 'webgpu', quiet: true, loader: load, vulkan: OK_VULKAN });
  });

  it('the fused op falls back to plain ops there, and gradients of gradients still match cpu', async () => {
    registerFakeWebgpu();
    await setupBackend({ backend: 'cpu', quiet: true });
    const affine = () => {
      const x = normal([2, 3, 3, 5], 1);
      return tf.grad((s: tf.Tensor) => tf.sum(tf.square(scaleShift(x, s as tf.Tensor1D, normal([5], 3) as tf.Tensor1D, true))))(
        normal([5], 2),
      );
    };
    const gradNorm = () => {
      const x = normal([2, 6, 6, 3], 21) as tf.Tensor4D;
      const loss = (w: tf.Tensor) => tf.sum(tf.sigmoid(tf.mean(tf.tanh(tf.conv2d(x, w as tf.Tensor4D, 2, 'same')), [1, 2])));
      return tf.grad((w: tf.Tensor) => tf.sum(tf.square(tf.grad(loss)(w))) as tf.Scalar)(normal([3, 3, 3, 4], 22, 0.4));
    };
    for (const run of [affine, gradNorm]) {
      const cpu = await valuesOn('cpu', run);
      expect(relativeError(await valuesOn('webgpu', run), cpu)).toBeLessThan(1e-6);
    }
  });

  it('a synchronous read that Node cannot make becomes SyncReadUnavailableError; CPU-resident values still read', () => {
    const values = new Float32Array([1, 2]);
    const backend = {
      readSync: (id: object) => {
        if ((id as { onCpu?: boolean }).onCpu) return values;
        if ((id as { other?: boolean }).other) throw new Error('something else');
        throw new ReferenceError('OffscreenCanvas is not defined');
      },
    };
    guardSyncReads(backend);
    guardSyncReads(backend);
    expect(backend.readSync({ onCpu: true })).toBe(values);
    expect(() => backend.readSync({})).toThrow(SyncReadUnavailableError);
    expect(() => backend.readSync({})).toThrow(/await tensor\.data\(\)/);
    expect(() => backend.readSync({ other: true })).toThrow('something else');
  });
});
