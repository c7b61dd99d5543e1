import { ModelConfigError } from './errors.js';

/**
 * Throws `ModelConfigError` naming the first option of `values` that is not a whole number ≥ 1 (≥ 0 for the keys in
 * `zeroAllowed`): the size checks every model's options share (widths, depths, heads, vocabularies, classes).
 */
export function checkCounts(model: string, values: Readonly<Record<string, unknown>>, zeroAllowed: readonly string[] = []): void {
  for (const [key, v] of Object.entries(values)) {
    const min = zeroAllowed.includes(key) ? 0 : 1;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new ModelConfigError(`${model} ${key} must be ${min === 0 ? 'an integer ≥ 0' : 'a positive integer'}, got ${String(v)}`);
    }
  }
}
