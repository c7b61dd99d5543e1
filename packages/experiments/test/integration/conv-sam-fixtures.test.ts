/**
 * The golden conv-net SAM fixtures (float64 PyTorch reference) through @samrank/models' conv path: the tiny
 * net conv3×3 (+bias) → ReLU → global average pool → dense, built from `conv2d`/`avgPool`/`dense`, its
 * cross-entropy, and SAM from @samrank/optim — on cpu and on wasm with @samrank/backend's training kernels. A third run pads the
 * conv's 4 output channels with 4 zero channels, so the filter gradient takes the direct wasm kernel (it tiles 8
 * output channels): zero channels have zero pre-activations, ReLU'(0) = 0, so their gradients and SAM
 * perturbations are exactly 0 and every original value must still match the fixture.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@samrank/backend';
import { conv2d, dense, globalAvgPool, softmaxCrossEntropy, valueAndGrads, type ParamValues, type Params } from '@samrank/models';
import { SAM } from '@samrank/optim';
import { describe, expect, it } from 'vitest';
import { flat, loadFixture, worstViolation } from '../../../../test-utils/fixtures.js';

const NAMES = ['conv_kernel', 'conv_bias', 'dense_kernel', 'dense_bias'] as const;

function model(p: ParamValues, x: tf.Tensor4D) {
  const z = tf.add(conv2d(x, p['conv_kernel'] as tf.Tensor4D, 1, 1), p['conv_bias']!) as tf.Tensor4D;
  const pooled = globalAvgPool(tf.relu(z));
  return { z, pooled, logits: dense(pooled, p['dense_kernel'] as tf.Tensor2D, p['dense_bias'] as tf.Tensor1D) };
}

interface Step {
  X: number[][][][];
  labels: number[];
  expected: Record<string, unknown>;
}

function check(what: string, actual: ArrayLike<number>, expected: unknown, tol: { atol: number; rtol: number }) {
  const v = worstViolation(actual, flat(expected), tol.atol, tol.rtol);
  expect(v, `${what}: worst violation ${v}`).toBeLessThanOrEqual(1);
}

/** Zero channels appended to the conv output (and zero rows of the dense kernel). */
function padParam(name: string, t: tf.Tensor, extra: number): tf.Tensor {
  if (extra === 0) return t;
  if (name === 'conv_kernel')
    return tf.pad(t, [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, extra],
    ]);
  if (name === 'conv_bias') return tf.pad(t, [[0, extra]]);
  if (name === 'dense_kernel')
    return tf.pad(t, [
      [0, extra],
      [0, 0],
    ]);
  return t;
}

/** The original (unpadded) part of a parameter, gradient or activation with channels last or (dense) first. */
function original(name: string, t: tf.Tensor, channels: number): tf.Tensor {
  if (name === 'dense_kernel') return tf.slice(t, [0, 0], [channels, -1]);
  if (name === 'dense_bias' || name === 'logits') return t;
  const begin = t.shape.map(() => 0);
  const size = t.shape.map((d, i) => (i === t.rank - 1 ? channels : d));
  return tf.slice(t, begin, size);
}

for (const [backend, extra] of [
  ['cpu', 0],
  ['wasm', 0],
  ['wasm', 4],
] as const) {
  describe(`conv SAM fixtures through the models' conv path (${backend}${extra ? `, ${extra} zero channels: direct filter gradient` : ''})`, () => {
    for (const name of ['conv_sam_step.json', 'conv_sam_momentum_wd.json']) {
      it(name, async () => {
        const setup = await setupBackend({ backend, quiet: true });
        expect(setup.backend).toBe(backend);
        const fx = loadFixture(name);
        const hp = fx.hyperparameters;
        const tol = fx.tolerances.float32;
        const params: Params = {};
        const channels = fx.shapes.C_out as number;
        for (const n of NAMES) {
          const t = tf.tensor(fx.params_before[n]);
          const padded = padParam(n, t, extra);
          params[n] = tf.variable(padded);
          tf.dispose([t, padded]);
        }
        const orig = (n: string, t: tf.Tensor) => tf.tidy(() => original(n, t, channels).dataSync());
        const base = hp.momentum > 0 ? tf.train.momentum(hp.lr, hp.momentum) : tf.train.sgd(hp.lr);
        const sam = new SAM(base, { rho: hp.rho, epsilon: hp.sam_stabilizer, weightDecay: hp.weight_decay });
        const before = tf.memory().numTensors;
        for (const step of fx.steps as Step[]) {
          const e = step.expected;
          const x = tf.tensor4d(step.X);
          const labels = tf.tensor1d(step.labels, 'int32');
          const loss = (p: ParamValues) => softmaxCrossEntropy(model(p, x).logits, labels);
          tf.tidy(() => {
            const out = model(params, x);
            check('preactivations', orig('z', out.z), e['preactivations'], tol);
            check('pooled', orig('pooled', out.pooled), e['pooled'], tol);
            check('logits', out.logits.dataSync(), e['logits'], tol);
          });
          const g = valueAndGrads(params, () => loss(params));
          check('loss_before', g.value.dataSync(), e['loss_before'], tol);
          for (const n of NAMES) check(`grad ${n}`, orig(n, g.grads[n]!), (e['grad'] as Record<string, unknown>)[n], tol);
          tf.dispose([g.value, ...Object.values(g.grads)]);
          // Gradient at the reference's perturbed point, through the same path.
          const eps = e['eps'] as Record<string, unknown>;
          const perturbed: ParamValues = {};
          for (const n of NAMES) {
            perturbed[n] = tf.tidy(() =>
              tf.add(params[n]!, padParam(n, tf.reshape(tf.tensor(flat(eps[n])), original(n, params[n]!, channels).shape), extra)),
            );
          }
          const names = [...NAMES];
          const gp = tf.grads((...ts: tf.Tensor[]) => loss(Object.fromEntries(names.map((n, i) => [n, ts[i]!]))))(
            names.map((n) => perturbed[n]!),
          );
          names.forEach((n, i) =>
            check(`grad_at_perturbed ${n}`, orig(n, gp[i]!), (e['grad_at_perturbed'] as Record<string, unknown>)[n], tol),
          );
          tf.dispose([...gp, ...Object.values(perturbed)]);
          // The SAM step itself (optim's SAM over this model).
          const value = sam.minimize(
            () => loss(params),
            true,
            NAMES.map((n) => params[n]!),
          );
          check('loss_before (SAM)', value!.dataSync(), e['loss_before'], tol);
          value!.dispose();
          for (const n of NAMES) check(`params_after ${n}`, orig(n, params[n]!), (e['params_after'] as Record<string, unknown>)[n], tol);
          if (extra) {
            // The zero channels got zero gradients and zero perturbations: still exactly zero.
            const padded = tf.tidy(
              () => tf.sum(tf.abs(tf.slice(params['conv_kernel']!, [0, 0, 0, channels], [-1, -1, -1, extra]))).dataSync()[0],
            );
            expect(padded).toBe(0);
          }
          const after = tf.tidy(() => loss(params));
          check('loss_after', after.dataSync(), e['loss_after'], tol);
          after.dispose();
          tf.dispose([x, labels]);
        }
        // One tensor per parameter of optimizer state (momentum accumulators) may remain.
        expect(tf.memory().numTensors - before).toBeLessThanOrEqual(hp.momentum > 0 ? NAMES.length : 0);
        sam.dispose();
        tf.dispose(Object.values(params));
      });
    }
  });
}
