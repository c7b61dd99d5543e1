import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ThreadedWasmError } from './errors.js';
import { initThreadedWasm } from './threaded-wasm.js';
import { relativeError } from '../test/backend-support.js';

const run = promisify(execFile);
const child = fileURLToPath(new URL('../test/threaded-wasm.child.ts', import.meta.url));

interface ChildResult {
  threads: number;
  backend: string;
  leakedGlobals: boolean;
  results: number[][];
  /** sha256 of the float32 bytes. */
  filterGradBits: string;
  dxBits: string;
  /** Winograd forward, filter and input gradient. */
  winogradBits: string;
  helperTasks: number;
}

async function runChild(threads: number): Promise<ChildResult> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', child, String(threads)], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult;
}

describe('multi-threaded wasm (opt-in)', () => {
  it('runs with 2 XNNPACK threads, restores globals, exits on its own, and equals single-threaded results', async () => {
    const [single, threaded] = await Promise.all([runChild(1), runChild(2)]);
    expect(single).toMatchObject({ threads: 1, backend: 'wasm' });
    expect(threaded).toMatchObject({ threads: 2, backend: 'wasm', leakedGlobals: false });
    expect(threaded.results).toHaveLength(4);
    for (let i = 0; i < single.results.length; i++) {
      expect(relativeError(threaded.results[i]!, single.results[i]!)).toBeLessThan(1e-5);
    }
    // The direct gradients split their tiles with a helper thread: same tiles, same bits.
    expect(single.helperTasks).toBe(0);
    expect(threaded.helperTasks).toBeGreaterThan(0);
    expect(threaded.filterGradBits).toBe(single.filterGradBits);
    expect(threaded.dxBits).toBe(single.dxBits);
    expect(threaded.winogradBits).toBe(single.winogradBits);
  }, 90_000);

  it('refuses a wasm package other than 4.22.0 with ThreadedWasmError', async () => {
    const fake = { version_wasm: '4.21.0', setThreadsCount: () => {}, getThreadsCount: () => 1 };
    await expect(initThreadedWasm(fake, 2)).rejects.toThrow(ThreadedWasmError);
    await expect(initThreadedWasm(fake, 2)).rejects.toThrow(/4\.22\.0 only, found 4\.21\.0/);
    await expect(initThreadedWasm({ version_wasm: '4.22.0' }, 2)).rejects.toThrow(/setThreadsCount/);
  });
});
