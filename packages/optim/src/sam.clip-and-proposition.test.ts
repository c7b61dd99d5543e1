/**
 * Two properties of SAM against hand-derived math: the clipped unnormalized perturbation of the paper's
 * classification code, and the paper's Proposition 1 — for small ρ, SAM's gradient is the gradient plus ρ times
 * the gradient of the gradient norm: (g_SAM − g)/ρ → ∇‖∇L‖, with an error of order ρ.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerDoubleBackpropGradients } from '@samrank/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { useCpu } from '../test/helpers.js';
import { GradientNormRegularizer } from './gradient-norm-regularizer.js';
import { SAM } from './sam.js';

beforeAll(async () => {
  await useCpu();
  registerDoubleBackpropGradients();
});

const X = tf.tensor2d([
  [0.2, 0.9, -0.4],
  [-0.6, 0.3, 0.7],
  [0.5, -0.5, 0.1],
]);
const y = tf.tensor1d([0.4, -0.3, 0.8]);

/** A smooth two-layer tanh net (twice differentiable everywhere, so the expansion behind Proposition 1 holds). */
function net(scale = 1) {
  const W = tf.variable(
    tf.mul(
      tf.tensor2d([
        [0.3, -0.2, 0.5],
        [-0.4, 0.1, 0.2],
        [0.25, 0.6, -0.3],
      ]),
      scale,
    ) as tf.Tensor2D,
  );
  const a = tf.variable(tf.mul(tf.tensor1d([0.5, -0.7, 0.9]), scale) as tf.Tensor1D);
  const loss = () => tf.mean(tf.square(tf.sub(tf.sum(tf.mul(tf.tanh(tf.matMul(X, W, false, true)), a), 1), y))) as tf.Scalar;
  return { W, a, vars: [W, a] as tf.Variable[], loss, dispose: () => tf.dispose([W, a]) };
}

const flatGrads = (grads: tf.NamedTensorMap, vars: tf.Variable[]) => tf.concat(vars.map((v) => tf.reshape(grads[v.name]!, [-1])));

describe("clipped unnormalized SAM (the classification code's --sam_no_grad_norm)", () => {
  it('ε = min(ρ, ρ‖g‖)·g/‖g‖: unnormalized below ‖g‖ = 1, projected onto the ρ-ball above', () => {
    for (const scale of [0.3, 4]) {
      const n = net(scale);
      const rho = 0.05;
      const plain = tf.variableGrads(n.loss, n.vars);
      const g = flatGrads(plain.grads, n.vars);
      const gNorm = tf.norm(g).dataSync()[0]!;
      // The SAM gradient of each variant, and the gradient at w + ε for the ε we expect.
      const gradAt = (eps: tf.Tensor) => {
        const saved = n.vars.map((v) => tf.clone(v));
        let offset = 0;
        for (const v of n.vars) {
          v.assign(tf.add(v, tf.reshape(tf.slice(eps, offset, v.size), v.shape)));
          offset += v.size;
        }
        const out = flatGrads(tf.variableGrads(n.loss, n.vars).grads, n.vars);
        n.vars.forEach((v, i) => (v as tf.Variable).assign(saved[i]!));
        return Array.from(out.dataSync());
      };
      const expected = gradAt(tf.mul(g, Math.min(rho, rho * gNorm) / gNorm));
      const clipped = new SAM(tf.train.sgd(0.1), { rho, normalize: false, clipToBall: true });
      const got = Array.from(flatGrads(clipped.computeGradients(n.loss, n.vars).grads, n.vars).dataSync());
      got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
      // Below the ball's edge it is plain unnormalized SAM; above, it is normalized SAM.
      const other = new SAM(tf.train.sgd(0.1), gNorm < 1 ? { rho, normalize: false } : { rho, normalize: true, epsilon: 0 });
      const same = Array.from(flatGrads(other.computeGradients(n.loss, n.vars).grads, n.vars).dataSync());
      got.forEach((v, i) => expect(v).toBeCloseTo(same[i]!, 6));
      expect(gNorm < 1).toBe(scale < 1);
      expect(clipped.getConfig()['clipToBall']).toBe(true);
      clipped.dispose();
      other.dispose();
      n.dispose();
    }
  });
});

describe('Proposition 1: (g_SAM − g)/ρ → ∇‖∇L‖ as ρ → 0', () => {
  it('the error falls linearly with ρ', () => {
    const n = net();
    const g = flatGrads(tf.variableGrads(n.loss, n.vars).grads, n.vars);
    // ∇‖∇L‖ by double backprop: the regularizer's gradient with λ = 1 minus ∇L.
    const reg = new GradientNormRegularizer(tf.train.sgd(0.1), { lambda: 1, mode: 'exact' });
    const target = tf.sub(flatGrads(reg.computeGradients(n.loss, n.vars).grads, n.vars), g);
    const targetNorm = tf.norm(target).dataSync()[0]!;
    const errors = [0.04, 0.02, 0.01].map((rho) => {
      const sam = new SAM(tf.train.sgd(0.1), { rho, epsilon: 0 });
      const gSam = flatGrads(sam.computeGradients(n.loss, n.vars).grads, n.vars);
      sam.dispose();
      return tf.norm(tf.sub(tf.div(tf.sub(gSam, g), rho), target)).dataSync()[0]! / targetNorm;
    });
    // Small, and halving ρ about halves it (first-order error), far from the O(1) of a wrong expansion.
    expect(errors[0]).toBeLessThan(0.1);
    expect(errors[0]! / errors[1]!).toBeGreaterThan(1.7);
    expect(errors[0]! / errors[1]!).toBeLessThan(2.3);
    expect(errors[1]! / errors[2]!).toBeGreaterThan(1.7);
    expect(errors[1]! / errors[2]!).toBeLessThan(2.3);
    reg.dispose();
    n.dispose();
  });
});
