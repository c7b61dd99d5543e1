import { describe, expect, it } from 'vitest';
import {
  EmptyVariableListError,
  InvalidOptionError,
  InvalidRhoError,
  NonFiniteGradientError,
  NonScalarLossError,
  OptimError,
} from './errors.js';

describe('typed errors', () => {
  it('carry their class name, a message naming the problem and their data', () => {
    const e = new InvalidRhoError(-1, 'rho[2]');
    expect(e).toBeInstanceOf(OptimError);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('InvalidRhoError');
    expect(e.message).toBe('rho must be a finite number >= 0, got -1 (rho[2])');
    expect(new NonScalarLossError([3, 1]).message).toContain('got shape [3, 1]');
    expect(new NonFiniteGradientError('dense/kernel', 'x').variableName).toBe('dense/kernel');
    expect(new InvalidOptionError('eta', 'bad').option).toBe('eta');
    expect(new EmptyVariableListError().message).toContain('empty variable list');
  });
});
