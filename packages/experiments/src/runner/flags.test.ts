import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { choice, flag, integerList, numberList, text, toOption, toggle, wholeNumber } from './flags.js';

const parse = <T>(
  schema: { safeParse(raw: string): { success: boolean; data?: T; error?: { issues: { message: string }[] } } },
  raw: string,
) => {
  const r = schema.safeParse(raw);
  return r.success ? r.data : `error: ${r.error!.issues[0]!.message}`;
};

describe('flag schemas', () => {
  it('wholeNumber', () => {
    expect(parse(wholeNumber(1), '12')).toBe(12);
    expect(parse(wholeNumber(1), ' +7 ')).toBe(7);
    for (const bad of ['0', '2.5', '-1', 'abc', '', '1e3', '99999999999999999999'])
      expect(parse(wholeNumber(1), bad)).toBe('error: expected a whole number ≥ 1');
    expect(parse(wholeNumber(1, 64), '65')).toBe('error: expected a whole number ≥ 1 and ≤ 64');
  });

  it('numberList', () => {
    expect(parse(numberList(), '0, 0.1,.2,1e-3')).toEqual([0, 0.1, 0.2, 0.001]);
    expect(parse(numberList(), '0,abc')).toBe("error: 'abc' is not a finite number ≥ 0");
    expect(parse(numberList(), '0,-0.1')).toBe("error: '-0.1' is not a finite number ≥ 0");
    expect(parse(numberList(), '0,1e999')).toBe("error: '1e999' is not a finite number ≥ 0");
    expect(parse(numberList(), '0.1,0.1')).toBe('error: values must be distinct');
    expect(parse(numberList(), '0,,1')).toBe('error: expected comma-separated numbers, e.g. 0,0.1,0.2');
  });

  it('integerList, choice, text', () => {
    expect(parse(integerList(0), '1,2,3')).toEqual([1, 2, 3]);
    expect(parse(integerList(1), '0,1')).toBe("error: '0' is not a whole number ≥ 1");
    expect(parse(choice(['relu', 'tanh'] as const), 'tanh')).toBe('tanh');
    expect(parse(choice(['relu', 'tanh'] as const), 'gelu')).toBe('error: expected one of relu, tanh');
    expect(parse(text(), '')).toBe('error: expected a non-empty value');
  });

  it("toOption turns a schema failure into commander's one-line invalid-argument error", () => {
    const out: string[] = [];
    const cmd = new Command('x')
      .exitOverride()
      .configureOutput({ writeErr: (s) => out.push(s) })
      .addOption(toOption(flag('--width <n>', 'a width', wholeNumber(1))))
      .addOption(toOption(toggle('--fast', 'go fast')));
    cmd.parse(['--width', '8', '--fast'], { from: 'user' });
    expect(cmd.opts()).toEqual({ width: 8, fast: true });
    expect(() => cmd.parse(['--width', '0'], { from: 'user' })).toThrow();
    expect(out.join('')).toBe("error: option '--width <n>' argument '0' is invalid. expected a whole number ≥ 1.\n");
  });
});
