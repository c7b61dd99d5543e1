/** The seeded validation split of docs/paper-notes.md §8.2: 0.1 % of the training set is set aside once per run. */
import { createRng } from '@samrank/core';

/** Indices of the validation examples and of the remaining training examples (ascending order). */
export interface ValidationSplit {
  validation: Int32Array;
  train: Int32Array;
}

/**
 * Draws `round(fraction · n)` validation indices with `seed` and keeps the rest, in their original
 * order, for training (CIFAR: 50 of 50,000 → 49,950; Tiny ImageNet: 100 → 99,900).
 */
export function validationSplit(n: number, fraction: number, seed: number): ValidationSplit {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`validationSplit needs a positive count, got ${n}`);
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`validation fraction must be in [0, 1), got ${fraction}`);
  const nVal = Math.round(fraction * n);
  const perm = createRng(seed).fork('validation-split').permutation(n);
  const isVal = new Uint8Array(n);
  for (let i = 0; i < nVal; i++) isVal[perm[i]!] = 1;
  const validation = new Int32Array(nVal);
  const train = new Int32Array(n - nVal);
  let v = 0;
  let t = 0;
  for (let i = 0; i < n; i++) {
    if (isVal[i]) validation[v++] = i;
    else train[t++] = i;
  }
  return { validation, train };
}
