/**
 * Independent runs (`runs: R`): a batched run of R models equals R separate single-model runs, and the
 * batched run reproduces the teacher-student trajectory fixture.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bits,
  expectClose,
  expectSinglesMatchRuns,
  f32Tol,
  loadFixture,
  twoLayerLoss,
  twoLayerRunLosses,
  useCpu,
} from '../test/helpers.js';
import { sliceChunk } from './chunks.js';
import { RunsMismatchError } from './errors.js';
import { SAM, type SAMOptions } from './sam.js';
import { windowSchedule } from './schedules.js';

beforeAll(useCpu);

const fx = loadFixture('two_layer_sam_trajectory.json');
const hp = fx.hyperparameters;
const idx: number[] = fx.inputs.batch_indices;
const schedule = windowSchedule(hp.n_steps, { end: hp.regularized_steps / hp.n_steps, includeEnd: false });

let id = 0;
/** Trains R separate models (one SAM each) and one batched model (one SAM with runs) on the fixture data. */
function trainBoth(rhos: number[], options: Omit<SAMOptions, 'rho' | 'runs'>, base: () => tf.Optimizer) {
  const R = rhos.length;
  const X = tf.tensor(fx.inputs.X as number[][]);
  const y = tf.tensor(fx.inputs.y as number[]);
  const W0 = tf.tensor(fx.params_before.W as number[][]);
  const a0 = tf.tensor(fx.params_before.a as number[]);
  // Run r starts from a different init (scaled) so the runs really differ.
  const inits = rhos.map((_, r) => ({ W: tf.mul(W0, 1 + 0.1 * r), a: tf.mul(a0, 1 - 0.05 * r) }));
  id++;
  const singles = inits.map((p, r) => ({
    W: tf.variable(p.W, true, `sW${id}_${r}`),
    a: tf.variable(p.a, true, `sa${id}_${r}`),
    opt: new SAM(base(), { ...options, rho: rhos[r]! }),
  }));
  const bW = tf.variable(tf.stack(inits.map((p) => p.W)), true, `bW${id}`);
  const ba = tf.variable(tf.stack(inits.map((p) => p.a)), true, `ba${id}`);
  const batched = new SAM(base(), { ...options, rho: rhos, runs: R });
  const batchedLoss: number[][] = [];
  for (const i of idx) {
    const xb = tf.slice(X, [i, 0], [1, -1]);
    const yb = tf.slice(y, [i], [1]);
    for (const s of singles) s.opt.minimize(() => twoLayerLoss(s.W, s.a, xb, yb), false, [s.W, s.a]);
    const l = batched.minimize(() => tf.sum(twoLayerRunLosses(bW, ba, xb, yb)) as tf.Scalar, true, [bW, ba])!;
    batchedLoss.push([l.dataSync()[0]!]);
    tf.dispose([xb, yb, l]);
  }
  return {
    singles,
    bW,
    ba,
    batched,
    dispose() {
      for (const s of singles) {
        s.opt.dispose();
        tf.dispose([s.W, s.a]);
      }
      batched.dispose();
      tf.dispose([bW, ba, X, y, W0, a0, ...inits.flatMap((p) => [p.W, p.a])]);
    },
  };
}

/** Max |batched − single| over runs, and whether every value is bit-identical. */
function compare(res: ReturnType<typeof trainBoth>) {
  let maxDiff = 0;
  let identical = true;
  res.singles.forEach((s, r) => {
    const bw = tf.gather(res.bW, r);
    const bA = tf.gather(res.ba, r);
    for (const [x, ref] of [
      [bw, s.W],
      [bA, s.a],
    ] as const) {
      const d = tf.max(tf.abs(tf.sub(x, ref))).dataSync()[0]!;
      maxDiff = Math.max(maxDiff, d);
      if (bits(x).join() !== bits(ref).join()) identical = false;
    }
    tf.dispose([bw, bA]);
  });
  return { maxDiff, identical };
}

describe('SAM runs: batched R models == R separate models', () => {
  it('per-run rho [0, 0.1, 0.2, 0.4] with the SAM window, plain SGD (60 steps)', () => {
    const res = trainBoth([0, 0.1, 0.2, 0.4], { rhoSchedule: schedule }, () => tf.train.sgd(hp.lr));
    const { maxDiff, identical } = compare(res);
    // On the cpu backend the batched kernels visit each run's elements in the same order as the
    // single-model ones, so the results are bit-identical (not merely within float32 rounding).
    console.log(`runs vs separate (sgd): max |diff| ${maxDiff}, bit-identical: ${identical}`);
    expect(identical).toBe(true);
    res.dispose();
  });

  it('epsilon 0, momentum + weight decay, ASAM, unnormalized: runs == separate', () => {
    for (const options of [{ epsilon: 0, weightDecay: 5e-4 }, { adaptive: true, eta: 0.01 }, { normalize: false }] satisfies Array<
      Omit<SAMOptions, 'rho' | 'runs'>
    >) {
      const res = trainBoth([0.05, 0.2, 0], options, () => tf.train.momentum(0.02, 0.5));
      const { maxDiff } = compare(res);
      expect(maxDiff, JSON.stringify(options)).toBeLessThan(1e-5);
      res.dispose();
    }
  });
});

describe('SAM runs with m-sharpness', () => {
  it('runs 3 × mSharpness 2 == 3 separate models with mSharpness 2', () => {
    const X = tf.tensor(fx.inputs.X as number[][]);
    const y = tf.tensor(fx.inputs.y as number[]);
    const rhos = [0.05, 0.1, 0.2];
    const W = tf.variable(tf.stack(rhos.map(() => tf.tensor(fx.params_before.W as number[][]))), true, 'msW');
    const a = tf.variable(tf.stack(rhos.map(() => tf.tensor(fx.params_before.a as number[]))), true, 'msa');
    const batched = new SAM(tf.train.sgd(0.05), { rho: rhos, runs: 3, mSharpness: 2 });
    const singles = rhos.map((rho, r) => ({
      W: tf.variable(tf.tensor(fx.params_before.W as number[][]), true, `msW${r}`),
      a: tf.variable(tf.tensor(fx.params_before.a as number[]), true, `msa${r}`),
      opt: new SAM(tf.train.sgd(0.05), { rho, mSharpness: 2 }),
    }));
    for (let step = 0; step < 5; step++) {
      const start = (step * 4) % 20;
      const xb = tf.slice(X, [start, 0], [4, -1]);
      const yb = tf.slice(y, [start], [4]);
      batched.minimize((ctx) => tf.sum(twoLayerRunLosses(W, a, sliceChunk(xb, ctx), sliceChunk(yb, ctx))) as tf.Scalar, false, [W, a]);
      for (const s of singles) {
        s.opt.minimize((ctx) => twoLayerLoss(s.W, s.a, sliceChunk(xb, ctx), sliceChunk(yb, ctx)), false, [s.W, s.a]);
      }
      tf.dispose([xb, yb]);
    }
    expectSinglesMatchRuns(W, singles, 1e-6);
    batched.dispose();
    tf.dispose([W, a, X, y]);
  });
});

describe('SAM runs against the trajectory fixture', () => {
  it('two_layer_sam_trajectory.json: run 1 of runs [rho 0, 0.1, 0.3] follows the fixture', () => {
    const tol = f32Tol(fx);
    const R = 3;
    const X = tf.tensor(fx.inputs.X as number[][]);
    const y = tf.tensor(fx.inputs.y as number[]);
    const W = tf.variable(tf.stack([0, 1, 2].map(() => tf.tensor(fx.params_before.W as number[][]))), true, 'trajW');
    const a = tf.variable(tf.stack([0, 1, 2].map(() => tf.tensor(fx.params_before.a as number[]))), true, 'traja');
    const sam = new SAM(tf.train.sgd(hp.lr), { rho: [0, hp.rho, 0.3], runs: R, rhoSchedule: schedule });
    const batchLoss: number[] = [];
    idx.forEach((i, t) => {
      const xb = tf.slice(X, [i, 0], [1, -1]);
      const yb = tf.slice(y, [i], [1]);
      let perRun: number[] = [];
      tf.dispose(
        sam.minimize(
          ({ pass }) => {
            const l = twoLayerRunLosses(W, a, xb, yb);
            if (pass === 'first') perRun = Array.from(l.dataSync());
            return tf.sum(l) as tf.Scalar;
          },
          true,
          [W, a],
        )!,
      );
      batchLoss.push(perRun[1]!);
      if (t === hp.regularized_steps - 1) {
        const w1 = tf.gather(W, 1);
        expectClose(w1, fx.expected.params_at_switch.W, tol, 'runs params_at_switch.W');
        w1.dispose();
      }
      tf.dispose([xb, yb]);
    });
    expectClose(batchLoss, fx.expected.batch_loss, tol, 'runs batch_loss (run 1)');
    const w1 = tf.gather(W, 1);
    const a1 = tf.gather(a, 1);
    expectClose(w1, fx.expected.final.params.W, tol, 'runs final.params.W (run 1)');
    expectClose(a1, fx.expected.final.params.a, tol, 'runs final.params.a (run 1)');
    // Run 0 (rho 0) is plain SGD: it must differ from the SAM run.
    const w0 = tf.gather(W, 0);
    expect(tf.max(tf.abs(tf.sub(w0, w1))).dataSync()[0]).toBeGreaterThan(1e-3);
    sam.dispose();
    tf.dispose([w0, w1, a1, W, a, X, y]);
  });
});

describe('SAM runs: validation and setRho', () => {
  it('rejects a rho array whose length is not runs, and variables whose axis 0 is not runs', () => {
    expect(() => new SAM(tf.train.sgd(0.1), { rho: [0.1, 0.2], runs: 3 })).toThrow(RunsMismatchError);
    expect(() => new SAM(tf.train.sgd(0.1), { rho: [0.1, 0.2] })).toThrow(RunsMismatchError);
    const sam = new SAM(tf.train.sgd(0.1), { rho: 0.1, runs: 3 });
    expect(() => sam.setRho([0.1])).toThrow(RunsMismatchError);
    const v = tf.variable(tf.zeros([2, 4]), true, 'wrongRuns');
    expect(() => sam.minimize(() => tf.sum(v) as tf.Scalar, false, [v])).toThrow(RunsMismatchError);
    sam.dispose();
    v.dispose();
  });

  it('setRho changes rho per run between steps', () => {
    const sam = new SAM(tf.train.sgd(0.1), { rho: 0.1, runs: 2 });
    expect(sam.rho).toEqual([0.1, 0.1]);
    sam.setRho([0, 0.3]);
    expect(sam.rho).toEqual([0, 0.3]);
    expect(sam.rhoAt()).toEqual([0, 0.3]);
    sam.setRho(0.2);
    expect(sam.rho).toEqual([0.2, 0.2]);
    sam.dispose();
  });
});
