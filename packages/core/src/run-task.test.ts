import { describe, expect, it } from 'vitest';
import { decodeTask, encodedLength, encodeTask, runTask, type KernelTask } from './run-task.js';

/** Exports that record their calls. */
function recorder() {
  const calls: [string, number[]][] = [];
  const exports = {
    a: (...args: number[]) => calls.push(['a', args]),
    b: (...args: number[]) => calls.push(['b', args]),
  };
  return { calls, exports };
}

describe('runTask', () => {
  it('calls each export once, or once per block of its loop with (i, min(to, i + block)) at args[at]', () => {
    const { calls, exports } = recorder();
    runTask(exports, [
      { fn: 'a', args: [7, 8] },
      { fn: 'b', args: [1, 0, 0, 9], loop: { at: 1, from: 3, to: 10, block: 3 } },
    ]);
    expect(calls).toEqual([
      ['a', [7, 8]],
      ['b', [1, 3, 6, 9]],
      ['b', [1, 6, 9, 9]],
      ['b', [1, 9, 10, 9]],
    ]);
  });

  it('runs no call for an empty range and names a missing export', () => {
    const { calls, exports } = recorder();
    runTask(exports, [{ fn: 'a', args: [0, 0], loop: { at: 0, from: 5, to: 5, block: 2 } }]);
    expect(calls).toEqual([]);
    expect(() => runTask(exports, [{ fn: 'c', args: [] }])).toThrow(/no function 'c'/);
  });
});

describe('the task encoding', () => {
  it('round-trips calls, loops and byte offsets past 2^31 exactly', () => {
    const names = ['a', 'b'];
    const task: KernelTask = [
      { fn: 'b', args: [3_500_000_000, 4, 0, 0], loop: { at: 2, from: 0, to: 17, block: 4 } },
      { fn: 'a', args: [] },
    ];
    const out = new Float64Array(encodedLength(task));
    expect(encodeTask(task, (n) => names.indexOf(n), out)).toBe(out.length);
    expect(decodeTask(names, out, out.length)).toEqual(task);
  });

  it('refuses unknown functions and loops that do not fit the arguments', () => {
    const out = new Float64Array(64);
    expect(() => encodeTask([{ fn: 'x', args: [] }], () => -1, out)).toThrow(/no function 'x'/);
    expect(() => encodeTask([{ fn: 'a', args: [1, 2], loop: { at: 1, from: 0, to: 4, block: 1 } }], () => 0, out)).toThrow(RangeError);
    expect(() => encodeTask([{ fn: 'a', args: [1, 2], loop: { at: 0, from: 0, to: 4, block: 0 } }], () => 0, out)).toThrow(RangeError);
  });
});
