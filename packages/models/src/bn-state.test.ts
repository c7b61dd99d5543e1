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
    const store = new BatchNormStateStore(createBnState([{ name: 'a', channels: 2 }, { name: 'b', channels: 3 }]));
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
