/** @samrank/models' two-layer net trained one step by @samrank/optim's SAM against the float64 golden fixture. */
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { squaredLoss, twoLayerNet, type Params } from '@samrank/models';
import { SAM } from '@samrank/optim';
import { beforeAll, describe, expect, it } from 'vitest';
import { flat, loadFixture, worstViolation } from '../../../../test-utils/fixtures.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

describe('two-layer net under SAM', () => {
  it('two_layer_sam_step.json: one SAM step (no biases, squared loss without ½)', () => {
    const fx = loadFixture('two_layer_sam_step.json');
    const { d, m } = fx.shapes;
    const net = twoLayerNet({ inputDim: d, hiddenUnits: m, biases: false });
    const params: Params = {
      W: tf.variable(tf.tensor2d(fx.params_before.W)),
      a: tf.variable(tf.tensor1d(fx.params_before.a)),
    };
    const tol = fx.tolerances.float32;
    const step = fx.steps[0];
    const x = tf.tensor2d(step.X);
    const y = tf.tensor1d(step.y);
    const loss = () => squaredLoss(net.apply(params, x), y);
    const sam = new SAM(tf.train.sgd(fx.hyperparameters.lr), { rho: fx.hyperparameters.rho, epsilon: 1e-12 });
    sam.minimize(loss, false, [params['W']!, params['a']!]);
    for (const k of ['W', 'a']) {
      expect(worstViolation(params[k]!.dataSync(), flat(step.expected.params_after[k]), tol.atol, tol.rtol)).toBeLessThanOrEqual(1);
    }
    sam.dispose();
    tf.dispose([x, y, ...Object.values(params)]);
  });
});
