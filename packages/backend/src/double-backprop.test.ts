/**
 * The double-backprop fixes of docs/backend-notes.md §4: the gradient of φ(w) = ‖∇L(w)‖² by double backprop against
 * closed forms and central finite differences (directional, float32), before and after registration.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { DOUBLE_BACKPROP_KERNELS, DOUBLE_BACKPROP_MARKER, registerDoubleBackpropGradients } from './double-backprop.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
  await tf.ready();
});

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
  // L = Σ log(1 + e^w) (softplus through Exp and Log): g = s, ∂φ/∂w = 2s · s(1 − s)
  [
    'softplus via log(1 + exp)',
    (w) => tf.sum(tf.log(tf.add(1, tf.exp(w)))) as tf.Scalar,
    (x) => {
      const s = 1 / (1 + Math.exp(-x));
      return 2 * s * s * (1 - s);
    },
  ],
];

/** Number of Identity kernels run by ∇ of `f` at x (tf.grad itself runs one), checking the gradient is all ones. */
async function identityKernels(f: (v: tf.Tensor) => tf.Scalar, x: tf.Tensor): Promise<number> {
  let g: tf.Tensor | undefined;
  const profile = await tf.profile(() => {
    g = tf.grad(f)(x);
  });
  expect(Array.from(g!.dataSync()).every((v) => v === 1)).toBe(true);
  g!.dispose();
  return profile.kernels.filter((k) => k.name === 'Identity').length;
}
const viaCast = (v: tf.Tensor) => tf.sum(tf.cast(v, 'float32')) as tf.Scalar;
const direct = (v: tf.Tensor) => tf.sum(v) as tf.Scalar;

/** A 2×2/2 avgPool inside a squared loss, whose ‖∇L‖² needs AvgPoolGrad's gradient. */
const pooled = (x: tf.Tensor) => tf.sum(tf.square(tf.avgPool(x as tf.Tensor4D, 2, 2, 'valid'))) as tf.Scalar;

/** Central finite differences of φ = ‖∇L‖² in every coordinate, in float64 on float32 gradient values. */
function fdGradPhi(L: (w: tf.Tensor) => tf.Scalar, x0: Float32Array, shape: number[], h: number): number[] {
  const at = (vals: Float32Array) => tf.tidy(() => phiValue(L, tf.tensor(vals, shape)));
  return Array.from(x0, (_, i) => {
    const plus = Float32Array.from(x0);
    const minus = Float32Array.from(x0);
    plus[i]! += h;
    minus[i]! -= h;
    return (at(plus) - at(minus)) / (2 * h);
  });
}

/** max |a − b| / max |b| (scale-free, robust to tiny entries). */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return a.length === b.length ? diff / scale : Infinity;
}

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
    // No gradient for AvgPoolGrad at all.
    const x = tf.randomNormal([1, 4, 4, 1], 0, 1, 'float32', 31);
    expect(() => gradPhi(pooled, x)).toThrow(/AvgPoolGrad/);
    x.dispose();
  });

  it('stock Cast gradient copies dy (an extra Identity kernel); ours does not', async () => {
    const x = tf.randomNormal([64, 16], 0, 1, 'float32', 41);
    const baseline = await identityKernels(direct, x);
    expect(await identityKernels(viaCast, x)).toBe(baseline + 1);
    registerDoubleBackpropGradients();
    expect(await identityKernels(viaCast, x)).toBe(baseline);
    x.dispose();
  });

  it('lists every kernel it registers', () => {
    expect([...DOUBLE_BACKPROP_KERNELS].sort()).toEqual(
      [
        'AvgPoolGrad',
        'Cast',
        'Conv2DBackpropFilter',
        'Equal',
        'Exp',
        'Greater',
        'GreaterEqual',
        'Less',
        'LessEqual',
        'LogicalAnd',
        'LogicalNot',
        'LogicalOr',
        'NotEqual',
        'Sigmoid',
        'Softmax',
        'Tanh',
      ].sort(),
    );
    // Re-registering everything after the stock gradients came back reports the whole list.
    for (const name of DOUBLE_BACKPROP_KERNELS) tf.registerGradient({ ...tf.getGradient(name)! });
    expect(registerDoubleBackpropGradients()).toEqual([...DOUBLE_BACKPROP_KERNELS]);
  });

  it('registers every fix once (idempotent), and again after the stock ones are restored', () => {
    registerDoubleBackpropGradients();
    expect(registerDoubleBackpropGradients()).toEqual([]);
    // Simulate tfjs-layers re-registering a stock gradient after us.
    tf.registerGradient({ ...tf.getGradient('Tanh')! });
    expect(registerDoubleBackpropGradients()).toEqual(['Tanh']);
  });

  it('marks what it registered for @samrank/optim: the kernel list on globalThis, a marker on each gradient', () => {
    registerDoubleBackpropGradients();
    const marked = (name: string) =>
      (tf.getGradient(name) as unknown as Record<symbol, unknown>)[Symbol.for('samrank.doubleBackpropGradients')];
    expect((globalThis as Record<symbol, unknown>)[DOUBLE_BACKPROP_MARKER]).toEqual(DOUBLE_BACKPROP_KERNELS);
    for (const name of DOUBLE_BACKPROP_KERNELS) expect(marked(name), name).toBe(true);
    // A stock gradient registered over ours (here a copy of ours) carries no marker.
    tf.registerGradient({ ...tf.getGradient('Exp')! });
    expect(marked('Exp')).toBeUndefined();
    registerDoubleBackpropGradients();
    expect(marked('Exp')).toBe(true);
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

  it("tfjs-layers' categoricalCrossentropy (ClipByValue: LogicalAnd of comparisons in its gradient) matches finite differences", async () => {
    const { metrics } = await import('@tensorflow/tfjs-layers');
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
    const L = (w: tf.Tensor) => tf.mean(metrics.categoricalCrossentropy(Y, tf.softmax(tf.matMul(X, tf.reshape(w, [4, 2]))))) as tf.Scalar;
    const w = [0.2, -0.4, 0.7, 0.1, -0.3, 0.5, 0.25, -0.6];
    const v = [0.3, -0.1, 0.5, 0.2, -0.4, 0.1, -0.2, 0.35];
    // Without the fixes tfjs has no gradient for LogicalAnd (nor for the saved-output Softmax).
    const missing = (kernelName: string): tf.GradConfig => ({
      kernelName,
      gradFunc: () => {
        throw new Error(`gradient function not found for ${kernelName}`);
      },
    });
    tf.registerGradient(missing('LogicalAnd'));
    expect(() => gradPhi(L, tf.tensor1d(w))).toThrow(/gradient function not found for LogicalAnd/);
    registerDoubleBackpropGradients();
    expect(directionalError(L, w, v, 1e-2)).toBeLessThan(2e-2);
    // A boolean op's gradient is a float32 zero of its input's shape (what tfjs' tape requires), broadcasting included.
    const a = tf.tensor2d([[0.1, 0.6]]);
    const g = tf.grad((x: tf.Tensor) =>
      tf.sum(tf.where(tf.logicalOr(tf.logicalNot(tf.less(x, tf.zeros([3, 2]))), tf.greater(x, 0.5)), x, tf.zerosLike(x))),
    )(a);
    expect(g.dtype).toBe('float32');
    expect(Array.from(g.dataSync())).toEqual([3, 3]);
    tf.dispose([X, Y, a, g]);
  });

  it('conv2d (stride 1 and 2, same and explicit padding) + activation + mean pool + logSumExp CE matches finite differences (cpu)', () => {
    registerDoubleBackpropGradients();
    const X = tf.randomNormal([2, 5, 4, 2], 0, 1, 'float32', 7) as tf.Tensor4D;
    const Y = tf.tensor2d([
      [1, 0, 0],
      [0, 0, 1],
    ]);
    const D = tf.randomNormal([3, 3], 0, 0.5, 'float32', 8) as tf.Tensor2D;
    // (stride 2 with tanh is also right, but its directional derivative here is ~1e-4, below float32 FD noise)
    // Explicit padding as PyTorch-style ResNets use it: [[0, 0], [top, bottom], [left, right], [0, 0]].
    const explicit: tf.backend_util.ExplicitPadding = [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ];
    for (const [stride, act, pad] of [
      [1, 'square', 'same'],
      [2, 'square', 'same'],
      [1, 'tanh', 'same'],
      [2, 'square', explicit],
    ] as const) {
      const L = (w: tf.Tensor) => {
        const k = tf.reshape(w, [3, 3, 2, 3]) as tf.Tensor4D;
        const c = tf.conv2d(X, k, stride, pad);
        const h = act === 'tanh' ? tf.tanh(c) : tf.square(c);
        const l = tf.matMul(tf.mean(h, [1, 2]), D);
        return tf.mean(tf.sub(tf.logSumExp(l, 1), tf.sum(tf.mul(Y, l), 1))) as tf.Scalar;
      };
      const w = Array.from(tf.randomNormal([54], 0, 0.4, 'float32', 9).dataSync());
      const v = Array.from(tf.randomNormal([54], 0, 1, 'float32', 10).dataSync());
      expect(directionalError(L, w, v, 3e-3), `stride ${stride}, ${act}, ${String(pad)}`).toBeLessThan(2e-2);
    }
    tf.dispose([X, Y, D]);
  });

  it('conv2d w.r.t. its input (stride 2, same padding, tanh) matches finite differences in every coordinate', () => {
    registerDoubleBackpropGradients();
    const filter = tf.randomNormal([3, 3, 2, 2], 0, 0.5, 'float32', 11) as tf.Tensor4D;
    const L = (x: tf.Tensor) => tf.sum(tf.tanh(tf.conv2d(x as tf.Tensor4D, filter, 2, 'same'))) as tf.Scalar;
    const x0 = tf.randomNormal([1, 3, 3, 2], 0, 1, 'float32', 12);
    const analytic = gradPhi(L, x0);
    const numeric = fdGradPhi(L, x0.dataSync() as Float32Array, [1, 3, 3, 2], 1e-2);
    expect(relativeError(analytic, numeric)).toBeLessThan(5e-3);
    tf.dispose([filter, x0]);
  });

  it('avgPool (valid) can be differentiated twice: matches finite differences in every coordinate', () => {
    registerDoubleBackpropGradients();
    const x0 = tf.randomNormal([1, 4, 4, 1], 0, 1, 'float32', 31);
    const numeric = fdGradPhi(pooled, x0.dataSync() as Float32Array, [1, 4, 4, 1], 1e-2);
    expect(relativeError(gradPhi(pooled, x0), numeric)).toBeLessThan(2e-3);
    x0.dispose();
  });

  it("AvgPoolGrad's gradient w.r.t. dy is the exact adjoint of the kernel, with and without padding", () => {
    registerDoubleBackpropGradients();
    const cases: Array<[[number, number, number, number], number, number, 'same' | 'valid' | tf.backend_util.ExplicitPadding]> = [
      [[1, 4, 4, 2], 3, 1, 'same'], // padded windows: avgPool would divide by the in-bounds count
      [
        [1, 4, 4, 1],
        3,
        2,
        [
          [0, 0],
          [1, 1],
          [1, 1],
          [0, 0],
        ],
      ], // explicit padding
      [[1, 5, 5, 1], 2, 2, 'same'], // padding on the bottom/right only
      [[1, 4, 6, 1], 2, 2, 'valid'], // no padding: the avgPool path
    ];
    for (const [shape, size, stride, pad] of cases) {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const x = tf.zeros(shape) as tf.Tensor4D;
        const outShape = tf.avgPool(x, size, stride, pad).shape;
        const n = outShape.reduce((a, b) => a * b, 1);
        const v = tf.randomNormal(shape, 0, 1, 'float32', 5);
        // G(u) = AvgPoolGrad(u), the gradient of Σ avgPool(x)·u w.r.t. x; h(u) = ⟨G(u), v⟩, so ∇h = Gᵀv.
        const G = (u: tf.Tensor) => tf.grad((z: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(z as tf.Tensor4D, size, stride, pad), u)))(x);
        const adjoint = tf
          .grad((u: tf.Tensor) => tf.sum(tf.mul(G(u), v)))(tf.zeros(outShape))
          .dataSync();
        // Gᵀv column by column: (Gᵀv)_j = ⟨G(e_j), v⟩.
        const explicit = Array.from({ length: n }, (_, j) =>
          tf.tidy(() => tf.sum(tf.mul(G(tf.reshape(tf.oneHot(j, n, 1, 0, 'float32'), outShape)), v)).dataSync()[0]!),
        );
        expect(relativeError(adjoint, explicit), `${size}x${size}/${stride} ${String(pad)}`).toBeLessThan(1e-5);
      });
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});
