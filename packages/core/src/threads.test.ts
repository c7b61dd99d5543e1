import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testModule, testModuleBase64 } from '../test/test-module.js';
import { HelperThread, HelperThreadError, helperTasksRun, runTask, type KernelTask } from './threads.js';
import { createSharedMemory, instantiateWithMemory } from './wasm-runtime.js';

let module: object;
const started: HelperThread[] = [];

async function readyHelper(memory = createSharedMemory(1), options = {}): Promise<HelperThread> {
  const helper = new HelperThread(module, memory, options);
  started.push(helper);
  for (let i = 0; i < 200 && !helper.ready(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(helper.ready()).toBe(true);
  return helper;
}

const fill = (dst: number, value: number, from: number, to: number, block = 1_000_000): KernelTask => [
  { fn: 'fill', args: [dst, value, 0, 0], loop: { at: 2, from, to, block } },
];

describe('HelperThread', () => {
  beforeAll(async () => {
    module = await testModule();
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((h) => h.terminate()));
  });

  it('runs its task on the other thread while the caller runs its share, then returns', async () => {
    const memory = createSharedMemory(1);
    const exports = instantiateWithMemory<object>(module, memory);
    const helper = await readyHelper(memory);
    const out = new Int32Array(memory.buffer, 0, 1000);
    const before = helperTasksRun();
    for (let t = 0; t < 20; t++) {
      helper.run(fill(0, 100 * t, 500, 1000, 64), () => runTask(exports, fill(0, 100 * t, 0, 500, 64)));
      expect(Array.from(out)).toEqual(Array.from({ length: 1000 }, (_, i) => 100 * t + i));
    }
    expect(helperTasksRun() - before).toBe(20);
  });

  it('takes tasks longer than its first buffer (a larger one travels with the task)', async () => {
    const memory = createSharedMemory(1);
    const helper = await readyHelper(memory);
    // 300 calls of 10 words each: past the first buffer's 256 words.
    const task: KernelTask = Array.from({ length: 300 }, (_, i) => ({ fn: 'fill', args: [4096, 7, i, i + 1] }));
    helper.run(task, () => {});
    expect(Array.from(new Int32Array(memory.buffer, 4096, 300))).toEqual(Array.from({ length: 300 }, (_, i) => 7 + i));
    helper.run(fill(0, 1, 0, 3), () => {});
    expect(Array.from(new Int32Array(memory.buffer, 0, 3))).toEqual([1, 2, 3]);
  });

  it("reports a failing helper share with a typed error naming the helper's error, and keeps working", async () => {
    const memory = createSharedMemory(1);
    const helper = await readyHelper(memory, { label: 'test kernels' });
    let own = 0;
    const err = (() => {
      try {
        helper.run([{ fn: 'oob', args: [] }], () => own++);
      } catch (e) {
        return e;
      }
    })();
    expect(own).toBe(1);
    expect(err).toBeInstanceOf(HelperThreadError);
    expect(String((err as Error).message)).toMatch(
      /^test kernels: the helper thread failed its share of the work \(RuntimeError: .*out of bounds/,
    );
    // The failure is not reported again by the next task.
    helper.run(fill(0, 5, 0, 2), () => {});
    expect(Array.from(new Int32Array(memory.buffer, 0, 2))).toEqual([5, 6]);
  });

  it("waits for the helper when the caller's share throws, then rethrows the caller's error", async () => {
    const memory = createSharedMemory(1);
    const helper = await readyHelper(memory);
    const out = new Int32Array(memory.buffer, 0, 2);
    out.fill(0);
    expect(() =>
      helper.run([{ fn: 'sleep', args: [50] }, ...fill(0, 9, 0, 2)], () => {
        throw new RangeError('mine');
      }),
    ).toThrow('mine');
    // The helper finished its share (after sleeping) before run() returned.
    expect(Array.from(out)).toEqual([9, 10]);
  });

  it('gives up on a helper that does not answer in time, and is not used again', async () => {
    const helper = await readyHelper(createSharedMemory(1), { timeoutMs: 100 });
    expect(() => helper.run([{ fn: 'sleep', args: [2000] }], () => {})).toThrow(/stopped responding \(no answer in 100 ms\)/);
    expect(helper.ready()).toBe(false);
    expect(helper.usable).toBe(false);
    expect(helper.failure).toBe('no answer in 100 ms');
  });

  it('refuses a task naming a function the module does not export, before posting it', async () => {
    const helper = await readyHelper();
    expect(() => helper.run([{ fn: 'nope', args: [] }], () => {})).toThrow(HelperThreadError);
    helper.run(fill(0, 1, 0, 1), () => {});
  });
});

const dist = fileURLToPath(new URL('../dist/', import.meta.url));

describe('the built package', () => {
  // The worker is a file beside the bundle: this is what a consumer's dist (not vitest's sources) loads.
  it.skipIf(!existsSync(`${dist}threads.js`))('starts its helper worker from dist/ and runs a task', async () => {
    const script = `
      const { HelperThread } = await import(${JSON.stringify(`${dist}threads.js`)});
      const { compileBase64, createSharedMemory } = await import(${JSON.stringify(`${dist}index.js`)});
      const memory = createSharedMemory(1);
      const helper = new HelperThread(compileBase64(process.argv[1]), memory);
      for (let i = 0; i < 200 && !helper.ready(); i++) await new Promise((r) => setTimeout(r, 25));
      helper.run([{ fn: 'fill', args: [0, 3, 0, 2] }], () => {});
      console.log(JSON.stringify(Array.from(new Int32Array(memory.buffer, 0, 2))));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, await testModuleBase64()], {
      timeout: 30_000,
    });
    expect(JSON.parse(stdout)).toEqual([3, 4]);
  });
});
