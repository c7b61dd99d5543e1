/**
 * WebGPU in Node through Dawn's binding (the `webgpu` package): finding an adapter, saying in one line why there is
 * none, handing `navigator.gpu` to `@tensorflow/tfjs-backend-webgpu`, and turning its synchronous read (which needs
 * the browser's OffscreenCanvas) into a typed error that says what to do instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { SyncReadUnavailableError } from './errors.js';

/** The command that installs the webgpu backend and Dawn's Node binding (both optional peers, any 4.x / any). */
export const WEBGPU_INSTALL_COMMAND = 'npm install @tensorflow/tfjs-backend-webgpu webgpu';

/** The part of the `webgpu` package this module uses. */
export interface DawnModule {
  create: (options: string[]) => GpuLike;
  globals?: Record<string, unknown>;
}

/** `navigator.gpu` as Dawn hands it out. */
export interface GpuLike {
  requestAdapter: (options?: unknown) => Promise<unknown>;
}

/** The adapter's self-description (WebGPU `GPUAdapterInfo`). */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}

interface AdapterLike {
  info?: AdapterInfoLike;
  requestAdapterInfo?: () => Promise<AdapterInfoLike>;
}

/** What {@link findAdapter} found. */
export interface AdapterFound {
  gpu: GpuLike;
  /** vendor, architecture, device and description, as one line. */
  label: string;
}

/** What the Vulkan loader probe saw; injectable so tests can play the machines they do not run on. */
export interface VulkanProbe {
  platform: string;
  /** null when libvulkan.so.1 loads, else the loader's error. */
  loaderError: () => string | null;
  /** Driver manifests (ICD json files) the loader would read. */
  drivers: () => string[];
  /**
   * Asks Dawn in a child process whether it finds an adapter, and what it printed: with a Vulkan loader present
   * Dawn and the drivers write native warnings to stderr while refusing a device, which must not reach the
   * user's terminal. Absent: ask in this process.
   */
  adapterInChild?: () => { found: boolean; dawn: string[] } | null;
}

/** The first line of each native "Warning: …" Dawn printed, without Dawn's source locations. */
export function dawnWarnings(stderr: string): string[] {
  const out: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^Warning: (.+)$/.exec(line.trim());
    if (m && !out.includes(m[1]!)) out.push(m[1]!.replace(/\.$/, ''));
  }
  return out;
}

const CHILD_PROBE = `
const { create } = await import(process.argv[1]);
const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
process.stdout.write(JSON.stringify({ found: adapter !== null }));
process.exit(0);
`;

const ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

/** The real machine: dlopen of libvulkan.so.1 and the usual driver-manifest folders (or VK_DRIVER_FILES). */
export const systemVulkan: VulkanProbe = {
  platform: process.platform,
  loaderError: () => {
    try {
      // Not an addon, so Node refuses it after dlopen succeeded; only a failed dlopen names the library.
      process.dlopen({ exports: {} }, 'libvulkan.so.1');
      return null;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return /did not self-register|Module did not/i.test(message) ? null : message.split('\n')[0]!;
    }
  },
  drivers: () => {
    const listed = process.env['VK_DRIVER_FILES'] ?? process.env['VK_ICD_FILENAMES'];
    if (listed) return listed.split(':').filter((f) => f && existsSync(f));
    const found: string[] = [];
    for (const dir of ICD_DIRS) {
      try {
        for (const name of readdirSync(dir)) if (name.endsWith('.json')) found.push(`${dir}/${name}`);
      } catch {
        // A missing folder is the common case.
      }
    }
    return found;
  },
  adapterInChild: () => {
    let entry: string;
    try {
      entry = import.meta.resolve('webgpu');
    } catch {
      return null;
    }
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD_PROBE, entry], { encoding: 'utf8', timeout: 60_000 });
    try {
      const { found } = JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as { found: boolean };
      return { found, dawn: dawnWarnings(run.stderr ?? '') };
    } catch {
      return null;
    }
  },
};

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Why Dawn will find no adapter before it is asked, or null when it may find one. On Linux Dawn needs the Vulkan
 * loader: without it, asking prints a multi-line native warning and returns null, so the loader is probed first.
 */
export function vulkanProblem(probe: VulkanProbe = systemVulkan): string | null {
  if (probe.platform !== 'linux') return null;
  const error = probe.loaderError();
  if (error !== null) return `no WebGPU adapter: Dawn found no Vulkan loader (${error}); install libvulkan1 and the GPU's Vulkan driver`;
  return null;
}

/** The reason when Dawn's requestAdapter() returned null; `dawn`: what Dawn printed while refusing devices. */
export function noAdapterReason(probe: VulkanProbe = systemVulkan, dawn: string[] = []): string {
  if (probe.platform !== 'linux') return 'no WebGPU adapter: requestAdapter() returned null (Dawn found no Metal, D3D12 or Vulkan device)';
  const drivers = probe.drivers();
  if (drivers.length === 0) {
    return `no WebGPU adapter: Dawn found no Vulkan device (no Vulkan driver manifest in ${ICD_DIRS.join(', ')} or VK_DRIVER_FILES); install the GPU's Vulkan driver`;
  }
  const said = dawn.length ? `Dawn: ${dawn.join('; ')}` : "Dawn refuses CPU drivers such as Mesa's llvmpipe";
  return `no WebGPU adapter: Dawn found no Vulkan device it accepts (drivers: ${drivers.map(basename).join(', ')}; ${said})`;
}

/** Thrown (as its message) when the webgpu path fails for a reason that installing packages does not fix. */
export class NoAdapter extends Error {}

/**
 * Asks Dawn for an adapter. Throws {@link NoAdapter} with one line when there is none, or when the one offered is
 * Dawn's null backend (it computes nothing: tfjs "works" on it and returns garbage).
 */
export async function findAdapter(dawn: DawnModule, probe: VulkanProbe = systemVulkan, options: string[] = []): Promise<AdapterFound> {
  const early = vulkanProblem(probe);
  if (early) throw new NoAdapter(early);
  const child = options.length === 0 && probe.platform === 'linux' ? probe.adapterInChild?.() : null;
  if (child && !child.found) throw new NoAdapter(noAdapterReason(probe, child.dawn));
  const gpu = dawn.create(options);
  const adapter = (await gpu.requestAdapter({ powerPreference: 'high-performance' })) as AdapterLike | null;
  if (!adapter) throw new NoAdapter(noAdapterReason(probe));
  const info = adapter.info ?? (adapter.requestAdapterInfo ? await adapter.requestAdapterInfo() : {});
  const label = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
  if (/null/i.test(label)) throw new NoAdapter(`refusing the WebGPU null-backend adapter (${label}): it computes nothing`);
  return { gpu, label: label || 'unnamed adapter' };
}

/**
 * Publishes Dawn's globals (GPUBufferUsage, …) and `navigator.gpu`, which `@tensorflow/tfjs-backend-webgpu` reads
 * when it is imported (it registers its backend only if `navigator.gpu` exists then). Node 21+ has a `navigator`
 * of its own: `gpu` is added to it rather than replacing it.
 */
export function publishGpu(dawn: DawnModule, gpu: GpuLike): void {
  const g = globalThis as Record<string, unknown>;
  if (dawn.globals) Object.assign(g, dawn.globals);
  const nav = g['navigator'];
  if (nav !== null && typeof nav === 'object' && Object.isExtensible(nav)) {
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true, enumerable: true });
  } else {
    Object.defineProperty(g, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
}

const SYNC_GUARD = Symbol.for('samrank.webgpuSyncReadGuard');

interface ReadSyncBackend {
  readSync: (dataId: object) => unknown;
  [SYNC_GUARD]?: true;
}

/**
 * tfjs-backend-webgpu reads a GPU tensor synchronously (dataSync, arraySync) through OffscreenCanvas, which Node
 * lacks, and Dawn's Node binding has no blocking buffer map, so such a read cannot work in Node. The stock failure
 * is "OffscreenCanvas is not defined" from deep inside tfjs; this turns it into {@link SyncReadUnavailableError}.
 * Reads of values already on the CPU still succeed. Idempotent.
 */
export function guardSyncReads(backend: object): void {
  const b = backend as ReadSyncBackend;
  if (b[SYNC_GUARD]) return;
  const original = b.readSync.bind(backend);
  b.readSync = (dataId: object) => {
    try {
      return original(dataId);
    } catch (err) {
      if (err instanceof ReferenceError && /OffscreenCanvas/.test(err.message)) {
        throw new SyncReadUnavailableError(
          'dataSync()/arraySync() cannot read a GPU tensor on the webgpu backend in Node (tfjs-backend-webgpu reads synchronously through the browser-only OffscreenCanvas, and Dawn has no blocking map): read with await tensor.data(); @samrank/optim steps without reads when checkFinite is false',
          { cause: err },
        );
      }
      throw err;
    }
  };
  b[SYNC_GUARD] = true;
}
