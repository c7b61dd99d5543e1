/**
 * Flag parsers for commander: each turns the raw string into a value or throws commander's
 * InvalidArgumentError with a one-line reason (the CLI then exits with code 2).
 */
import { InvalidArgumentError } from 'commander';

/** A whole number ≥ `min` (default 1). */
export function parseInteger(min = 1): (raw: string) => number {
  return (raw) => {
    const v = Number(raw);
    if (!/^[+-]?\d+$/.test(raw.trim()) || !Number.isSafeInteger(v) || v < min) {
      throw new InvalidArgumentError(`expected a whole number ≥ ${min}.`);
    }
    return v;
  };
}

/** A comma-separated list of distinct finite numbers ≥ 0, e.g. `0,0.1,0.2`. */
export function parseNumberList(raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    throw new InvalidArgumentError('expected comma-separated numbers, e.g. 0,0.1,0.2.');
  }
  const values = parts.map(Number);
  const bad = parts.find((p, i) => !Number.isFinite(values[i]) || values[i]! < 0 || !/^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(p));
  if (bad !== undefined) throw new InvalidArgumentError(`'${bad}' is not a finite number ≥ 0.`);
  if (new Set(values).size !== values.length) throw new InvalidArgumentError('values must be distinct.');
  return values;
}

/** One of `choices`. */
export function parseChoice<T extends string>(choices: readonly T[]): (raw: string) => T {
  return (raw) => {
    if (!(choices as readonly string[]).includes(raw)) {
      throw new InvalidArgumentError(`expected one of ${choices.join(', ')}.`);
    }
    return raw as T;
  };
}
