import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchNormStateStore, cloneBnState } from './bn-state.js';
import { ParamsMismatchError } from './errors.js';
import { createBnState } from './init.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

describe('BatchNormStateStore', () => {
  it('keeps updates made inside tf.tidy and disposes what they replace', () => {
    const store = new BatchNormStateStore(
      createBnState([
        { name: 'a', channels: 2 },
        { name: 'b', channels: 3 },
      ]),
    );
    const old = store.state['a']!;
    const before = tf.memory().numTensors;
    tf.tidy(() => store.update({ a: { mean: tf.tensor1d([1, 2]), variance: tf.tensor1d([3, 4]) } }));
    expect(tf.memory().numTensors).toBe(before);
    expect(old.mean.isDisposed).toBe(true);
    expect(Array.from(store.state['a']!.variance.dataSync())).toEqual([3, 4]);
    expect(Array.from(store.state['b']!.variance.dataSync())).toEqual([1, 1, 1]);
    expect(() => store.update({ c: { mean: tf.zeros([1]), variance: tf.ones([1]) } })).toThrow(ParamsMismatchError);
    const snap = store.snapshot();
    store.replace(cloneBnState(snap));
    expect(Array.from(store.state['a']!.mean.dataSync())).toEqual([1, 2]);
    store.dispose();
    expect(snap['a']!.mean.isDisposed).toBe(false);
    expect(Object.keys(store.state)).toEqual([]);
  });
});

describe('accumulated BatchNorm statistics', () => {
  it("commit updates once with the mean and unbiased variance of all the parts' values together", () => {
    // Two channels; parts of 3 and 5 values per channel, given as their mean, biased variance and count.
    const parts = [
      [
        [1, 2, 6],
        [0.5, -1, 2],
      ],
      [
        [4, 4, 3, 0, 1],
        [3, 3, -2, 0, 1],
      ],
    ];
    const stats = parts.map((part) => {
      const mean = part.map((c) => c.reduce((a, b) => a + b, 0) / c.length);
      const variance = part.map((c, i) => c.reduce((a, b) => a + (b - mean[i]!) ** 2, 0) / c.length);
      return { mean: tf.tensor1d(mean), variance: tf.tensor1d(variance), count: part[0]!.length };
    });
    const store = new BatchNormStateStore({ bn: { mean: tf.tensor1d([0.2, -0.1]), variance: tf.tensor1d([1, 2]) } });
    for (const s of stats) store.accumulate({ bn: s });
    store.commit(0.1);
    for (let c = 0; c < 2; c++) {
      const all = [...parts[0]![c]!, ...parts[1]![c]!];
      const mean = all.reduce((a, b) => a + b, 0) / all.length;
      const unbiased = all.reduce((a, b) => a + (b - mean) ** 2, 0) / (all.length - 1);
      expect(store.state['bn']!.mean.dataSync()[c]).toBeCloseTo(0.9 * [0.2, -0.1][c]! + 0.1 * mean, 6);
      expect(store.state['bn']!.variance.dataSync()[c]).toBeCloseTo(0.9 * [1, 2][c]! + 0.1 * unbiased, 6);
    }
    const before = tf.memory().numTensors;
    store.commit(0.1); // nothing pending: a no-op
    expect(tf.memory().numTensors).toBe(before);
    expect(() => store.accumulate({ nope: stats[0]! })).toThrow(ParamsMismatchError);
    store.dispose();
  });

  it("a ResNet's micro-batches, accumulated and committed, move its first BatchNorm as the whole batch does", async () => {
    // Deeper layers see inputs normalised with each micro-batch's own statistics (ghost batches), so only the
    // first BatchNorm, whose input does not depend on any normalisation, must match the whole batch.
    const { preActResNet18 } = await import('./resnet.js');
    const m = preActResNet18({ width: 4 });
    const { params, state } = m.init(3);
    const x = tf.randomNormal([8, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const whole = new BatchNormStateStore(cloneBnState(state));
    tf.tidy(() => whole.update(m.apply(params, whole.state, x, { training: true }).state));
    const split = new BatchNormStateStore(cloneBnState(state));
    const before = tf.memory().numTensors;
    for (const [start, size] of [
      [0, 3],
      [3, 5],
    ] as const) {
      tf.tidy(() =>
        split.accumulate(
          m.apply(params, split.state, tf.slice(x, [start, 0, 0, 0], [size, 32, 32, 3]), { training: true, batchStatistics: true })
            .batchStatistics,
        ),
      );
    }
    // Nothing moves until the commit.
    for (const [name, s] of Object.entries(split.state))
      expect(Array.from(s.mean.dataSync())).toEqual(Array.from(state[name]!.mean.dataSync()));
    split.commit(0.1);
    expect(tf.memory().numTensors).toBe(before);
    const first = 'layer1.0.bn1';
    const close = (a: tf.Tensor, b: tf.Tensor) => Array.from(a.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(b.dataSync()[i]!, 6));
    close(split.state[first]!.mean, whole.state[first]!.mean);
    close(split.state[first]!.variance, whole.state[first]!.variance);
    tf.dispose([x, ...Object.values(params)]);
    whole.dispose();
    split.dispose();
  });
});
