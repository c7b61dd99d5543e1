/**
 * Compiles and instantiates the packages' embedded wasm kernels (base64 modules generated from wasm/*.wat).
 * Browser-safe. The tsconfig has no DOM lib, so the few WebAssembly members used are typed here instead of
 * relying on ambient declarations.
 */

/** The part of `WebAssembly.Memory` the kernels' callers use. */
export interface WasmMemory {
  /** The memory's bytes (a SharedArrayBuffer for a shared memory); replaced whenever the memory grows. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Grows the memory by `pages` 64 KiB pages; returns the previous size in pages. */
  grow(pages: number): number;
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}

const api = (): WasmApi => (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** True when `memory` is shared (its buffer a SharedArrayBuffer), i.e. a helper thread can work on it. */
export function isSharedMemory(memory: WasmMemory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/** Compiles a base64-encoded module synchronously (the kernels are ~1 KiB). */
export function compileBase64(base64: string): object {
  return new (api().Module)(Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0)));
}

/** Instantiates a compiled module against an imported memory (`env.memory`). */
export function instantiateWithMemory<T>(module: object, memory: WasmMemory): T {
  return new (api().Instance)(module, { env: { memory } }).exports as T;
}

/** A shared memory that can grow to 4 GiB (wasm32's limit). */
export function createSharedMemory(initialPages: number): WasmMemory {
  return new (api().Memory)({ initial: initialPages, maximum: 65536, shared: true });
}

/**
 * A plain (unshared) memory that can grow to 4 GiB, for kernels that run on the calling thread only. Browsers
 * refuse shared memory on pages that are not cross-origin isolated; an unshared memory works everywhere.
 */
export function createMemory(initialPages: number): WasmMemory {
  return new (api().Memory)({ initial: initialPages, maximum: 65536 });
}

/** Grows `memory` (64 KiB pages) until it holds at least `bytes`. */
export function ensureMemory(memory: WasmMemory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / 65536));
}
