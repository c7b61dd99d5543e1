import { describe, expect, it } from 'vitest';
import * as backend from './index.js';

const errorClasses = ['BackendOptionError', 'GradientsUnavailableError', 'ThreadedWasmError', 'KernelArgumentError'] as const;

describe('typed errors', () => {
  it.each(errorClasses)('%s is a BackendError whose name and message name the problem', (name) => {
    const Cls = (backend as unknown as Record<string, new (message: string) => Error>)[name]!;
    const error = new Cls('bad thing');
    expect(error).toBeInstanceOf(backend.BackendError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    expect(String(error)).toBe(`${name}: bad thing`);
  });

  it('BackendUnavailableError names the package to install', () => {
    const error = new backend.BackendUnavailableError('wasm', '@tensorflow/tfjs-backend-wasm', 'not installed');
    expect(error).toBeInstanceOf(backend.BackendError);
    expect(error.name).toBe('BackendUnavailableError');
    expect(error.message).toContain('@tensorflow/tfjs-backend-wasm');
  });
});
