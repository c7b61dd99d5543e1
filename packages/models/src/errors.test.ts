import { describe, expect, it } from 'vitest';
import * as models from './index.js';

const errorClasses = [
  'ModelConfigError',
  'InputShapeError',
  'ParamsMismatchError',
  'CheckpointFormatError',
  'SecondOrderGradientError',
] as const;

describe('typed errors', () => {
  it.each(errorClasses)('%s is a ModelsError whose name and message name the problem', (name) => {
    const Cls = (models as unknown as Record<string, new (message: string) => Error>)[name]!;
    const error = new Cls('bad thing');
    expect(error).toBeInstanceOf(models.ModelsError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    expect(String(error)).toBe(`${name}: bad thing`);
  });
});
