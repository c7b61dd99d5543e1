import { describe, expect, it } from 'vitest';
import { activationSlope, activationValue, twoLayerForward, twoLayerHidden } from './two-layer.js';

describe('two-layer float64 math', () => {
  const params = { W: Float64Array.of(0.2, -0.1, 0.4, -0.3, 0.5, 0.1), b: Float64Array.of(0.1, -0.2), a: Float64Array.of(1.5, -2), c: 0.3 };
  const x = Float64Array.of(0.5, -1, 2, 1, 0, -0.5);
  const acts = { relu: (v: number) => Math.max(0, v), tanh: Math.tanh, abs: Math.abs };

  it.each(['relu', 'tanh', 'abs'] as const)('%s: f(x) = Σ a_j act(w_j·x + b_j) + c and the hidden features', (activation) => {
    const f = twoLayerForward(params, activation, x, 3);
    const phi = twoLayerHidden(params, activation, x, 3);
    expect(phi).toHaveLength(4);
    for (let i = 0; i < 2; i++) {
      let want = params.c;
      for (let j = 0; j < 2; j++) {
        let h = params.b[j]!;
        for (let k = 0; k < 3; k++) h += params.W[3 * j + k]! * x[3 * i + k]!;
        expect(phi[2 * i + j]).toBe(acts[activation](h));
        want += params.a[j]! * acts[activation](h);
      }
      expect(f[i]).toBeCloseTo(want, 14);
    }
  });

  it('activation derivatives follow tfjs at the kinks', () => {
    expect([activationSlope('relu', 0, 0), activationSlope('relu', 2, 2), activationSlope('relu', -1, 0)]).toEqual([0, 1, 0]);
    expect([activationSlope('abs', 0, 0), activationSlope('abs', 3, 3), activationSlope('abs', -3, 3)]).toEqual([-1, 1, -1]);
    const t = activationValue('tanh', 0.7);
    expect(activationSlope('tanh', 0.7, t)).toBeCloseTo(1 - Math.tanh(0.7) ** 2, 15);
    expect([activationValue('relu', -2), activationValue('abs', -2)]).toEqual([0, 2]);
  });
});
