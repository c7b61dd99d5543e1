import { expect } from 'vitest';

/** Waits up to 5 s until `ready()` says a kernel's helper thread is up, then asserts that it is. */
export async function waitForHelper(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !ready(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(ready()).toBe(true);
}
