import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { countParams, createParams, initialValues } from './init.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

describe('initialisers', () => {
  it('depend only on (seed, name, shape) and are backend-independent arrays', () => {
    const spec = { name: 'w', shape: [3, 3, 8, 16], init: { kind: 'kaimingNormalFanOut' } } as const;
    expect(Array.from(initialValues(spec, 5))).toEqual(Array.from(initialValues(spec, 5)));
    expect(Array.from(initialValues({ ...spec, name: 'v' }, 5))).not.toEqual(Array.from(initialValues(spec, 5)));
    const big = initialValues({ name: 'k', shape: [3, 3, 64, 64], init: { kind: 'kaimingNormalFanOut' } }, 1);
    const std = Math.sqrt(big.reduce((s, v) => s + v * v, 0) / big.length);
    expect(std / Math.sqrt(2 / (9 * 64))).toBeCloseTo(1, 1);
    const u = initialValues({ name: 'u', shape: [10000], init: { kind: 'uniform', bound: 0.25 } }, 1);
    expect(Math.max(...u)).toBeLessThanOrEqual(0.25);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-0.25);
    expect(Array.from(initialValues({ name: 'o', shape: [2], init: { kind: 'ones' } }, 0))).toEqual([1, 1]);
  });

  it('creates distinct trainable variables so two models coexist', () => {
    const specs = [{ name: 'a', shape: [2], init: { kind: 'zeros' } }] as const;
    const p = createParams(specs, 0),
      q = createParams(specs, 0);
    expect(p['a']!.name).not.toBe(q['a']!.name);
    expect(p['a']!.trainable).toBe(true);
    expect(countParams([{ name: 'x', shape: [3, 4], init: { kind: 'zeros' } }, ...specs])).toBe(14);
  });
});
