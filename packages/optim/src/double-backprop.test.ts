/**
 * The Appendix C double-backprop fixes: the gradient of φ(w) = ‖∇L(w)‖² by double backprop against
 * closed forms and central finite differences (directional, float32), before and after registration.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useCpu } from '../test/helpers.js';
import { registerDoubleBackpropGradients } from './double-backprop.js';

beforeAll(useCpu);

/** ∇φ by double backprop, with φ(w) = Σ (∂L/∂w)². */
function gradPhi(L: (w: tf.Tensor) => tf.Scalar, w: tf.Tensor): number[] {
  return tf.tidy(() => {
    const phi = (x: tf.Tensor) => tf.sum(tf.square(tf.grad(L)(x))) as tf.Scalar;
    return Array.from(tf.grad(phi)(w).dataSync());
  });
}

function phiValue(L: (w: tf.Tensor) => tf.Scalar, w: tf.Tensor): number {
  return tf.tidy(() => tf.sum(tf.square(tf.grad(L)(w))).dataSync()[0]!);
}

/** Central finite difference of φ along v, against ⟨∇φ, v⟩; returns the relative error. */
function directionalError(L: (w: tf.Tensor) => tf.Scalar, w0: number[], v: number[], h: number): number {
  const w = tf.tensor1d(w0);
  const g = gradPhi(L, w);
  const dot = g.reduce((s, x, i) => s + x * v[i]!, 0);
  const plus = tf.tensor1d(w0.map((x, i) => x + h * v[i]!));
  const minus = tf.tensor1d(w0.map((x, i) => x - h * v[i]!));
  const fd = (phiValue(L, plus) - phiValue(L, minus)) / (2 * h);
  tf.dispose([w, plus, minus]);
  return Math.abs(dot - fd) / Math.max(Math.abs(fd), 1e-3);
}

const w0 = [0.3, -0.5, 0.8, 0.1];
const closedForms: Array<[string, (w: tf.Tensor) => tf.Scalar, (w: number) => number]> = [
  // L = Σ exp(w): g = e^w, φ = Σ e^{2w}, ∂φ/∂w = 2e^{2w}
  ['Exp', (w) => tf.sum(tf.exp(w)) as tf.Scalar, (x) => 2 * Math.exp(2 * x)],
  // L = Σ σ(w): g = s(1 − s), ∂φ/∂w = 2 g · s(1 − s)(1 − 2s)
  [
    'Sigmoid',
    (w) => tf.sum(tf.sigmoid(w)) as tf.Scalar,
    (x) => {
      const s = 1 / (1 + Math.exp(-x));
      const g = s * (1 - s);
      return 2 * g * g * (1 - 2 * s);
    },
  ],
  // L = Σ tanh(w): g = 1 − t², ∂φ/∂w = 2 g · (−2t g)
  [
    'Tanh',
    (w) => tf.sum(tf.tanh(w)) as tf.Scalar,
    (x) => {
      const t = Math.tanh(x);
      const g = 1 - t * t;
      return 2 * g * (-2 * t * g);
    },
  ],
];

function closedFormMismatch(L: (w: tf.Tensor) => tf.Scalar, d: (x: number) => number): number {
  const w = tf.tensor1d(w0);
  try {
    const g = gradPhi(L, w);
    return Math.max(...g.map((x, i) => Math.abs(x - d(w0[i]!)) / (1e-6 + Math.abs(d(w0[i]!)))));
  } catch {
    return Infinity; // stock gradients may also throw ("Cannot compute gradient of y=f(x)…")
  } finally {
    w.dispose();
  }
}

describe('registerDoubleBackpropGradients', () => {
  it('stock tfjs gradients of Exp/Sigmoid/Tanh are wrong for double backprop', () => {
    for (const [name, L, d] of closedForms) {
      expect(closedFormMismatch(L, d), name).toBeGreaterThan(1e-2);
    }
  });

  it('registers every fix once (idempotent), and again after the stock ones are restored', () => {
    const first = registerDoubleBackpropGradients();
    expect(first).toEqual(
      expect.arrayContaining(['Exp', 'Sigmoid', 'Tanh', 'Softmax', 'Equal', 'Greater', 'Conv2DBackpropFilter']),
    );
    expect(registerDoubleBackpropGradients()).toEqual([]);
    // Simulate tfjs-layers re-registering a stock gradient after us.
    tf.registerGradient({ ...tf.getGradient('Tanh')! });
    expect(registerDoubleBackpropGradients()).toEqual(['Tanh']);
  });

  it('after registration: Exp/Sigmoid/Tanh match their closed forms', () => {
    registerDoubleBackpropGradients();
    for (const [name, L, d] of closedForms) {
      expect(closedFormMismatch(L, d), name).toBeLessThan(1e-4);
    }
  });

  it('softmax cross-entropy (log ∘ softmax) and logSumExp cross-entropy (Max → Equal) match finite differences', () => {
    registerDoubleBackpropGradients();
    const X = tf.tensor2d([
      [0.5, -1, 0.3, 0.8],
      [1.2, 0.4, -0.7, 0.1],
      [-0.3, 0.9, 0.6, -1.1],
    ]);
    const Y = tf.tensor2d([
      [1, 0],
      [0, 1],
      [1, 0],
    ]);
    const logits = (w: tf.Tensor) => tf.matMul(X, tf.reshape(w, [4, 2]));
    const viaSoftmax = (w: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(Y, tf.log(tf.softmax(logits(w)))), 1))) as tf.Scalar;
    const viaLse = (w: tf.Tensor) => {
      const l = logits(w);
      return tf.mean(tf.sub(tf.logSumExp(l, 1), tf.sum(tf.mul(Y, l), 1))) as tf.Scalar;
    };
    const w = [0.2, -0.4, 0.7, 0.1, -0.3, 0.5, 0.25, -0.6];
    const v = [0.3, -0.1, 0.5, 0.2, -0.4, 0.1, -0.2, 0.35];
    expect(directionalError(viaSoftmax, w, v, 1e-2)).toBeLessThan(2e-2);
    expect(directionalError(viaLse, w, v, 1e-2)).toBeLessThan(2e-2);
    tf.dispose([X, Y]);
  });

  it('conv2d (stride 1 and 2, same padding) + activation + mean pool + logSumExp CE matches finite differences (cpu)', () => {
    registerDoubleBackpropGradients();
    const X = tf.randomNormal([2, 5, 4, 2], 0, 1, 'float32', 7) as tf.Tensor4D;
    const Y = tf.tensor2d([
      [1, 0, 0],
      [0, 0, 1],
    ]);
    const D = tf.randomNormal([3, 3], 0, 0.5, 'float32', 8) as tf.Tensor2D;
    // (stride 2 with tanh is also right, but its directional derivative here is ~1e-4, below float32 FD noise)
    for (const [stride, act] of [
      [1, 'square'],
      [2, 'square'],
      [1, 'tanh'],
    ] as const) {
      const L = (w: tf.Tensor) => {
        const k = tf.reshape(w, [3, 3, 2, 3]) as tf.Tensor4D;
        const c = tf.conv2d(X, k, stride, 'same');
        const h = act === 'tanh' ? tf.tanh(c) : tf.square(c);
        const l = tf.matMul(tf.mean(h, [1, 2]), D);
        return tf.mean(tf.sub(tf.logSumExp(l, 1), tf.sum(tf.mul(Y, l), 1))) as tf.Scalar;
      };
      const w = Array.from(tf.randomNormal([54], 0, 0.4, 'float32', 9).dataSync());
      const v = Array.from(tf.randomNormal([54], 0, 1, 'float32', 10).dataSync());
      expect(directionalError(L, w, v, 3e-3), `stride ${stride}, ${act}`).toBeLessThan(2e-2);
    }
    tf.dispose([X, Y, D]);
  });
});
