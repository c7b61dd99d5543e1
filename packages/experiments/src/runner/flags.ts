/**
 * Flags declared once: each is a commander option string, a help text and a zod schema that turns the raw
 * string into the value (or a one-line reason, which the CLI prints with exit code 2). The same record gives
 * the commander options, the type of the parsed values and their validation.
 */
import { InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';

/** A flag with a value: `--name <value>`, parsed by `schema`. */
export interface ValueFlag<T> {
  /** Commander's option syntax, e.g. `--activation <name>`. */
  flag: string;
  help: string;
  /** Parses the raw string. */
  schema: z.ZodType<T, string>;
}

/** A boolean switch: `--name`. */
export interface Toggle {
  flag: string;
  help: string;
  schema: null;
}

/** One flag. */
// biome-ignore lint/suspicious/noExplicitAny: a flag of any value type
export type FlagSpec = ValueFlag<any> | Toggle;

/** Flags of one experiment, keyed by the camelCase name commander gives them. */
export type FlagSpecs = Record<string, FlagSpec>;

/** The parsed values: each key present only when the flag was given. */
export type FlagValues<F extends FlagSpecs> = { [K in keyof F]?: F[K] extends ValueFlag<infer T> ? T : boolean };

/** A value flag. */
export function flag<T>(syntax: string, help: string, schema: z.ZodType<T, string>): ValueFlag<T> {
  return { flag: syntax, help, schema };
}

/** A boolean switch. */
export function toggle(syntax: string, help: string): Toggle {
  return { flag: syntax, help, schema: null };
}

/** The first issue of a failed parse as one sentence. */
function reason(error: z.ZodError): string {
  const message = error.issues[0]?.message ?? 'invalid value';
  return message.endsWith('.') ? message : `${message}.`;
}

/** A commander option whose parser runs the flag's schema. */
export function toOption(spec: FlagSpec): Option {
  const option = new Option(spec.flag, spec.help);
  const schema = spec.schema;
  if (schema) {
    option.argParser((raw: string) => {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) throw new InvalidArgumentError(reason(parsed.error));
      return parsed.data;
    });
  }
  return option;
}

// ---- schemas for raw flag strings ----

/** A whole number ≥ `min`. */
export function wholeNumber(min = 1, max = Number.MAX_SAFE_INTEGER): z.ZodType<number, string> {
  const message = `expected a whole number ≥ ${min}${max < Number.MAX_SAFE_INTEGER ? ` and ≤ ${max}` : ''}`;
  return z
    .string()
    .trim()
    .regex(/^[+]?\d+$/, message)
    .transform(Number)
    .pipe(z.number().int(message).min(min, message).max(max, message));
}

/** One of `choices`. */
export function choice<const T extends string>(choices: readonly T[]): z.ZodType<T, string> {
  return z
    .string()
    .refine((s): s is T => (choices as readonly string[]).includes(s), `expected one of ${choices.join(', ')}`) as unknown as z.ZodType<
    T,
    string
  >;
}

const DECIMAL = /^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A comma-separated list of distinct finite numbers ≥ 0, e.g. `0,0.1,0.2`. */
export function numberList(): z.ZodType<number[], string> {
  return z.string().transform((raw, ctx) => {
    const parts = raw.split(',').map((s) => s.trim());
    if (parts.some((p) => p === '')) {
      ctx.addIssue({ code: 'custom', message: 'expected comma-separated numbers, e.g. 0,0.1,0.2' });
      return z.NEVER;
    }
    const bad = parts.find((p) => !DECIMAL.test(p) || !Number.isFinite(Number(p)));
    if (bad !== undefined) {
      ctx.addIssue({ code: 'custom', message: `'${bad}' is not a finite number ≥ 0` });
      return z.NEVER;
    }
    const values = parts.map(Number);
    if (new Set(values).size !== values.length) {
      ctx.addIssue({ code: 'custom', message: 'values must be distinct' });
      return z.NEVER;
    }
    return values;
  });
}

/** A comma-separated list of distinct whole numbers ≥ `min`, e.g. `1,2,3`. */
export function integerList(min = 0): z.ZodType<number[], string> {
  return z.string().transform((raw, ctx) => {
    const parts = raw.split(',').map((s) => s.trim());
    const bad = parts.find((p) => !/^[+]?\d+$/.test(p) || !Number.isSafeInteger(Number(p)) || Number(p) < min);
    if (bad !== undefined) {
      ctx.addIssue({ code: 'custom', message: `'${bad}' is not a whole number ≥ ${min}` });
      return z.NEVER;
    }
    const values = parts.map(Number);
    if (new Set(values).size !== values.length) {
      ctx.addIssue({ code: 'custom', message: 'values must be distinct' });
      return z.NEVER;
    }
    return values;
  });
}

/** Any non-empty string (a path); checked where it is used. */
export function text(): z.ZodType<string, string> {
  return z.string().min(1, 'expected a non-empty value');
}
