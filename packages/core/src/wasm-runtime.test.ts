import { describe, expect, it } from 'vitest';
import { createSharedMemory, ensureMemory } from './wasm-runtime.js';

describe('wasm-runtime', () => {
  it('creates shared memory and grows it by whole pages only when needed', () => {
    const memory = createSharedMemory(1);
    expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    ensureMemory(memory, 1000);
    expect(memory.buffer.byteLength).toBe(65536);
    ensureMemory(memory, 65536 * 3 + 1);
    expect(memory.buffer.byteLength).toBe(65536 * 4);
  });
});
