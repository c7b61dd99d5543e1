/**
 * SAM against the golden fixtures of the independent float64 PyTorch reference (float32 tolerances of
 * each file). Each test is named after its fixture file.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  convKeys,
  convLoss,
  convSamFixture,
  expectClose,
  f32Tol,
  loadFixture,
  expectParamsAndMomentumAfter,
  twoLayerLoss,
  twoLayerSamFixture,
  twoLayerVars,
  useCpu,
} from '../test/helpers.js';
import { jointNormPerRun, samPerturbation } from './perturbation.js';
import { SAM } from './sam.js';
import { windowSchedule } from './schedules.js';

beforeAll(useCpu);

/** Runs every step of a two-layer step fixture through SAM and checks every intermediate it exposes. */
function runTwoLayerStepFixture(file: string): void {
  const { fx, hp, tol, W, a, base, sam } = twoLayerSamFixture(file);
  fx.steps.forEach((step: any, s: number) => {
    const ex = step.expected;
    const X = tf.tensor(step.X as number[][]);
    const y = tf.tensor(step.y as number[]);
    const label = (k: string) => `${file} step ${s} ${k}`;
    // The model itself against the reference (localizes a failure to the model, not SAM).
    const ref = tf.variableGrads(() => twoLayerLoss(W, a, X, y), [W, a]);
    expectClose(ref.value, ex.loss_before, tol, label('loss_before'));
    expectClose(ref.grads[W.name]!, ex.grad.W, tol, label('grad.W'));
    expectClose(ref.grads[a.name]!, ex.grad.a, tol, label('grad.a'));
    const norm = jointNormPerRun([ref.grads[W.name]!, ref.grads[a.name]!], undefined);
    expectClose(norm, ex.grad_norm, tol, label('grad_norm'));
    tf.dispose([ref.value, norm, ...Object.values(ref.grads)]);

    const passes: string[] = [];
    let perturbedW: number[] = [];
    let perturbedA: number[] = [];
    let lossAtPerturbed = NaN;
    const value = sam.minimize(
      ({ pass }) => {
        passes.push(pass);
        const l = twoLayerLoss(W, a, X, y);
        if (pass === 'second') {
          perturbedW = Array.from(W.dataSync());
          perturbedA = Array.from(a.dataSync());
          lossAtPerturbed = l.dataSync()[0]!;
        }
        return l;
      },
      true,
      [W, a],
    )!;
    expectClose(value, ex.loss_before, tol, label('loss returned by minimize'));
    value.dispose();
    if (hp.rho === 0) {
      expect(passes, label('passes')).toEqual(['first']);
    } else {
      expect(passes, label('passes')).toEqual(['first', 'second']);
      expectClose(perturbedW, ex.perturbed_params.W, tol, label('perturbed_params.W'));
      expectClose(perturbedA, ex.perturbed_params.a, tol, label('perturbed_params.a'));
      expectClose(lossAtPerturbed, ex.loss_at_perturbed, tol, label('loss_at_perturbed'));
    }
    expectParamsAndMomentumAfter(ex, { W, a }, base, tol, label);
    const after = twoLayerLoss(W, a, X, y);
    expectClose(after, ex.loss_after, tol, label('loss_after'));
    after.dispose();
    tf.dispose([X, y]);
  });
  sam.dispose();
  tf.dispose([W, a]);
}

describe('two-layer step fixtures', () => {
  it('two_layer_sam_step.json', () => runTwoLayerStepFixture('two_layer_sam_step.json'));
  it('two_layer_usam_step.json', () => runTwoLayerStepFixture('two_layer_usam_step.json'));
  it('two_layer_sgd_step.json (rho = 0)', () => runTwoLayerStepFixture('two_layer_sgd_step.json'));
  it('two_layer_sam_momentum_wd.json', () => runTwoLayerStepFixture('two_layer_sam_momentum_wd.json'));

  it('two_layer_sam_step.json: samPerturbation gives the fixture eps from the fixture grad', () => {
    for (const file of ['two_layer_sam_step.json', 'two_layer_usam_step.json']) {
      const fx = loadFixture(file);
      const ex = fx.steps[0].expected;
      const hp = fx.hyperparameters;
      const g = [tf.tensor(ex.grad.W as number[][]), tf.tensor(ex.grad.a as number[])];
      const w = [tf.tensor(fx.params_before.W as number[][]), tf.tensor(fx.params_before.a as number[])];
      const eps = tf.tidy(
        () =>
          samPerturbation(g, w, {
            rho: tf.scalar(hp.rho),
            normalize: hp.sam_normalized,
            epsilon: tf.scalar(1e-12),
            epsilonIsZero: false,
            adaptiveEta: null,
            runs: undefined,
          }) as tf.Tensor[],
      );
      expectClose(eps[0]!, ex.eps.W, f32Tol(fx), `${file} eps.W`);
      expectClose(eps[1]!, ex.eps.a, f32Tol(fx), `${file} eps.a`);
      tf.dispose([...g, ...w, ...eps]);
    }
  });
});

describe('teacher-student trajectory fixture', () => {
  it('two_layer_sam_trajectory.json', () => {
    const file = 'two_layer_sam_trajectory.json';
    const fx = loadFixture(file);
    const hp = fx.hyperparameters;
    const tol = f32Tol(fx);
    const { W, a } = twoLayerVars(fx.params_before);
    const X = tf.tensor(fx.inputs.X as number[][]);
    const y = tf.tensor(fx.inputs.y as number[]);
    const sam = new SAM(tf.train.sgd(hp.lr), {
      rho: hp.rho,
      // SAM for steps t < regularized_steps (the fixture's window excludes its end point).
      rhoSchedule: windowSchedule(hp.n_steps, { end: hp.regularized_steps / hp.n_steps, includeEnd: false }),
    });
    const batchLoss: number[] = [];
    const trainLoss: number[] = [];
    const idx: number[] = fx.inputs.batch_indices;
    idx.forEach((i, t) => {
      const xb = tf.slice(X, [i, 0], [1, -1]);
      const yb = tf.slice(y, [i], [1]);
      const l = sam.minimize(() => twoLayerLoss(W, a, xb, yb), true, [W, a])!;
      batchLoss.push(l.dataSync()[0]!);
      l.dispose();
      const tl = twoLayerLoss(W, a, X, y);
      trainLoss.push(tl.dataSync()[0]!);
      tf.dispose([xb, yb, tl]);
      if (t === hp.regularized_steps - 1) {
        expectClose(W, fx.expected.params_at_switch.W, tol, `${file} params_at_switch.W`);
        expectClose(a, fx.expected.params_at_switch.a, tol, `${file} params_at_switch.a`);
      }
      if (t === 0) {
        expectClose(W, fx.expected.first_step.params_after.W, tol, `${file} first_step.params_after.W`);
        expectClose(a, fx.expected.first_step.params_after.a, tol, `${file} first_step.params_after.a`);
      }
    });
    expectClose(batchLoss, fx.expected.batch_loss, tol, `${file} batch_loss`);
    expectClose(trainLoss, fx.expected.train_loss, tol, `${file} train_loss`);
    expectClose(W, fx.expected.final.params.W, tol, `${file} final.params.W`);
    expectClose(a, fx.expected.final.params.a, tol, `${file} final.params.a`);
    const features = tf.relu(tf.matMul(X, W, false, true));
    expectClose(features, fx.expected.final.features, tol, `${file} final.features`);
    // Active ReLUs are an integer output: exact.
    const active = tf.sum(tf.cast(tf.any(tf.greater(features, 0), 0), 'int32'));
    expect(active.dataSync()[0], `${file} final.active_relus`).toBe(fx.expected.final.active_relus);
    tf.dispose([features, active, X, y, W, a]);
    sam.dispose();
  });
});

function runConvFixture(file: string): void {
  const { fx, tol, v, vars, base, sam } = convSamFixture(file);
  fx.steps.forEach((step: any, s: number) => {
    const ex = step.expected;
    const X = tf.tensor(step.X) as tf.Tensor4D;
    const Y = tf.tensor(step.labels_one_hot) as tf.Tensor2D;
    const label = (k: string) => `${file} step ${s} ${k}`;
    const z = tf.add(tf.conv2d(X, v.conv_kernel as tf.Tensor4D, 1, 'same'), v.conv_bias);
    expectClose(z, ex.preactivations, tol, label('preactivations'));
    z.dispose();
    const ref = tf.variableGrads(() => convLoss(v, X, Y), vars);
    for (const k of convKeys) expectClose(ref.grads[v[k].name]!, ex.grad[k], tol, label(`grad.${k}`));
    tf.dispose([ref.value, ...Object.values(ref.grads)]);

    let lossAtPerturbed = NaN;
    const perturbed: Record<string, number[]> = {};
    const value = sam.minimize(
      ({ pass }) => {
        const l = convLoss(v, X, Y);
        if (pass === 'second') {
          lossAtPerturbed = l.dataSync()[0]!;
          for (const k of convKeys) perturbed[k] = Array.from(v[k].dataSync());
        }
        return l;
      },
      true,
      vars,
    )!;
    expectClose(value, ex.loss_before, tol, label('loss_before'));
    value.dispose();
    expectClose(lossAtPerturbed, ex.loss_at_perturbed, tol, label('loss_at_perturbed'));
    const before = fx.steps[s - 1]?.expected.params_after ?? fx.params_before;
    for (const k of convKeys) {
      const eps = flatDiff(perturbed[k]!, before[k]);
      expectClose(eps, ex.eps[k], { atol: tol.atol, rtol: tol.rtol }, label(`eps.${k}`));
    }
    expectParamsAndMomentumAfter(ex, Object.fromEntries(convKeys.map((k) => [k, v[k]])), base, tol, label);
    const after = convLoss(v, X, Y);
    expectClose(after, ex.loss_after, tol, label('loss_after'));
    after.dispose();
    tf.dispose([X, Y]);
  });
  sam.dispose();
  tf.dispose(vars);
}

/** perturbed − before, elementwise (before given as nested fixture lists). */
function flatDiff(perturbed: number[], before: unknown): number[] {
  const b = (before as unknown[]).flat(Infinity) as number[];
  return perturbed.map((p, i) => p - Math.fround(b[i]!));
}

describe('conv fixtures (cpu backend, tf.conv2d)', () => {
  it('conv_sam_step.json', () => runConvFixture('conv_sam_step.json'));
  it('conv_sam_momentum_wd.json', () => runConvFixture('conv_sam_momentum_wd.json'));
});
