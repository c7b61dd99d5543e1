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

/**
 * The smallest module using relaxed SIMD: one function returning `f32x4.relaxed_madd` of its three v128 arguments.
 * It validates exactly where the runtime implements the proposal (Node 22+, V8 ≥ 11.4; Node 20 only behind
 * `--experimental-wasm-relaxed-simd`).
 */
const RELAXED_SIMD_PROBE = [
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11,
];

let available: boolean | undefined;

/** `SAMRANK_RELAXED_SIMD`: '1' asks for the fused builds everywhere they exist, '0' for none, unset: each kernel's default. */
function preference(): 'on' | 'off' | 'auto' {
  const value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.['SAMRANK_RELAXED_SIMD'];
  return value === '1' ? 'on' : value === '0' ? 'off' : 'auto';
}

/** Whether the runtime implements relaxed SIMD (validates the probe module), whatever the preference. */
export function relaxedSimdAvailable(): boolean {
  available ??= (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly.validate(
    Uint8Array.from(RELAXED_SIMD_PROBE),
  );
  return available;
}

/**
 * Whether a kernel runs its relaxed-SIMD build: fused multiply-adds (`f32x4.relaxed_madd`) instead of a multiply then
 * an add. Only where the runtime has relaxed SIMD; then `SAMRANK_RELAXED_SIMD=1` or `0` decides, and without it the
 * kernel's own default (`fusedByDefault`: whether the fused build was measured faster for that kernel). The two
 * builds round differently, so results may differ in the last bits between them; each alone is deterministic.
 */
export function relaxedSimd(fusedByDefault = true): boolean {
  if (!relaxedSimdAvailable()) return false;
  const p = preference();
  return p === 'auto' ? fusedByDefault : p === 'on';
}

/** Which build of a kernel runs: fused multiply-adds (relaxed SIMD) or plain SIMD. */
export type KernelBuild = 'plain' | 'relaxed';

/** The build {@link relaxedSimd} selects for a kernel whose measured default is `fusedByDefault`. */
export function kernelBuild(fusedByDefault = true): KernelBuild {
  return relaxedSimd(fusedByDefault) ? 'relaxed' : 'plain';
}
