import { describe, expect, it } from 'vitest';
import { testModule } from '../test/test-module.js';
import * as browser from './threads-browser.js';
import type * as node from './threads.js';
import { createMemory, createSharedMemory, ensureMemory, instantiateWithMemory, isSharedMemory } from './wasm-runtime.js';

// The exports map gives bundlers this module in place of threads.ts outside Node, under threads.d.ts's types:
// it must offer the same API (checked here by the type checker) and never start a worker.
type Public<T> = { [K in keyof T]: T[K] };
const sameApi: Omit<typeof node, 'HelperThread'> & {
  HelperThread: new (...args: ConstructorParameters<typeof node.HelperThread>) => Public<node.HelperThread>;
} = browser;

describe('@samrank/core/threads outside Node (threads-browser.ts)', () => {
  it('has the API of the Node build', () => {
    expect(Object.keys(browser).sort()).toEqual(Object.keys(sameApi).sort());
  });

  it('never starts a helper: kernels see ready() === false and run their whole task themselves', async () => {
    expect(browser.helperThreadsAvailable()).toBe(false);
    expect(browser.availableCores()).toBe(1);
    const module = await testModule();
    const memory = createSharedMemory(1);
    const helper = new browser.HelperThread(module, memory, { label: 'test kernel' });
    expect(helper.ready()).toBe(false);
    expect(helper.usable).toBe(false);
    expect(helper.failure).toMatch(/Node.js/);
    expect(() => helper.run([], () => {})).toThrow(browser.HelperThreadError);
    expect(() => helper.run([], () => {})).toThrow(/test kernel/);
    const exports = instantiateWithMemory<object>(module, memory);
    browser.runTask(exports, [{ fn: 'fill', args: [0, 7, 0, 0], loop: { at: 2, from: 0, to: 10, block: 4 } }]);
    expect(Array.from(new Int32Array(memory.buffer, 0, 10))).toEqual(Array.from({ length: 10 }, (_, i) => 7 + i));
    expect(browser.helperTasksRun()).toBe(0);
    await helper.terminate();
  });
});

describe('createMemory', () => {
  it('is an unshared memory that grows like the shared one (what kernels use where no helper can start)', () => {
    const memory = createMemory(1);
    expect(isSharedMemory(memory)).toBe(false);
    expect(memory.buffer.byteLength).toBe(65536);
    ensureMemory(memory, 3 * 65536 + 1);
    expect(memory.buffer.byteLength).toBe(4 * 65536);
  });
});
