/**
 * @samrank/models' two-layer net trained one step by @samrank/optim's SAM against the float64 golden fixture. The
 * model sees one example per run, so the fixture's batch of n examples is n micro-batches of one (SAM's
 * `microBatches`: gradients averaged over them, ONE perturbation from the whole batch's gradient — exactly
 * full-batch SAM), with the fixture's W, a (no biases) packed into `theta` for 1 or 3 runs.
 */
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import type { TwoLayerParams } from '@samrank/core';
import { batchedSquaredLoss, disposeState, fusedSquaredLoss, readTwoLayerParams, twoLayer } from '@samrank/models';
import { SAM, chunkRange } from '@samrank/optim';
import { beforeAll, describe, expect, it } from 'vitest';
import { flat, loadFixture, worstViolation } from '../../../../test-utils/fixtures.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

describe('two-layer net under SAM', () => {
  for (const runs of [1, 3]) {
    for (const loss of ['fused', 'tfjs-op'] as const) {
      it(`two_layer_sam_step.json: one SAM step (no biases, squared loss without ½), ${runs} run(s), ${loss} loss`, () => {
        const fx = loadFixture('two_layer_sam_step.json');
        const { n, d, m } = fx.shapes;
        const step = fx.steps[0];
        const tol = fx.tolerances.float32;
        const net = twoLayer({ inputDim: d, hiddenUnits: m, biases: false, runs });
        const init: TwoLayerParams = {
          W: Float64Array.from(flat(fx.params_before.W)),
          b: new Float64Array(m),
          a: Float64Array.from(fx.params_before.a),
          c: 0,
        };
        const params = net.createParams(Array.from({ length: runs }, () => init));
        const X: number[][] = step.X;
        const y: number[] = step.y;
        const sam = new SAM(tf.train.sgd(fx.hyperparameters.lr), { rho: fx.hyperparameters.rho, epsilon: 1e-12, runs, microBatches: n });
        // Micro-batch c is example c, fed to every run.
        sam.minimize(
          (ctx) => {
            const { start } = chunkRange(n, ctx);
            const xs = Float32Array.from(Array.from({ length: runs }, () => X[start]!).flat());
            const ys = new Float32Array(runs).fill(y[start]!);
            return loss === 'fused'
              ? fusedSquaredLoss(net, params, xs, ys)
              : batchedSquaredLoss(net, params, tf.tensor2d(xs, [runs, d]), tf.tensor1d(ys));
          },
          false,
          Object.values(params) as tf.Variable[],
        );
        const want = [...flat(step.expected.params_after.W), ...flat(step.expected.params_after.a)];
        for (const p of readTwoLayerParams(net, params)) {
          expect(worstViolation([...p.W, ...p.a], want, tol.atol, tol.rtol)).toBeLessThanOrEqual(1);
        }
        sam.dispose();
        disposeState(params);
      });
    }
  }
});
