import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchNormStateStore } from './bn-state.js';
import { ModelConfigError } from './errors.js';
import { disposeState } from './init.js';
import { Mlp, mlp } from './mlp.js';
import type { Model, ModelOutput } from './model.js';
import { createModel, modelNames, registerModel } from './registry.js';
import { ResNet18 } from './resnet.js';
import { valueAndGrads } from './training.js';
import { TwoLayerModel } from './two-layer.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

/** A small instance of every built-in model and an input batch it takes. */
const SMALL: Record<string, { options: unknown; x: () => tf.Tensor }> = {
  'preact-resnet18': { options: { width: 2, numClasses: 3 }, x: () => tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 1) },
  resnet18: { options: { width: 2, numClasses: 3 }, x: () => tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 1) },
  'two-layer': { options: { inputDim: 3, hiddenUnits: 5, runs: 4 }, x: () => tf.randomNormal([4, 3], 0, 1, 'float32', 1) },
  mlp: { options: { inputDim: 3, hiddenDims: [5, 4], outputDim: 2 }, x: () => tf.randomNormal([6, 3], 0, 1, 'float32', 1) },
};

describe('registry', () => {
  it('has the built-ins, typed by name', () => {
    expect(modelNames().slice(0, 4)).toEqual(['preact-resnet18', 'resnet18', 'two-layer', 'mlp']);
    const pre: ResNet18 = createModel('preact-resnet18', { width: 2 });
    expect(pre).toBeInstanceOf(ResNet18);
    expect(pre.config.variant).toBe('preact');
    expect(createModel('resnet18').config.variant).toBe('postact');
    expect(createModel('two-layer', { inputDim: 3, hiddenUnits: 4 })).toBeInstanceOf(TwoLayerModel);
    expect(createModel('mlp', { inputDim: 3, hiddenDims: [], outputDim: 1 })).toBeInstanceOf(Mlp);
    for (const name of modelNames().slice(0, 4)) expect(createModel(name, SMALL[name]!.options).name).toBe(name);
  });

  it('an unknown name throws ModelConfigError listing the registered names; bad options reach the model', () => {
    expect(() => createModel('vit-huge')).toThrow(ModelConfigError);
    expect(() => createModel('vit-huge')).toThrow(
      /unknown model 'vit-huge' \(registered: preact-resnet18, resnet18, two-layer, mlp, vit, mlp-mixer, bert/,
    );
    expect(() => createModel('mlp', { inputDim: 3, hiddenDims: [4], outputDim: 2, activation: 'bogus' as never })).toThrow(
      ModelConfigError,
    );
    expect(() => createModel('two-layer')).toThrow(ModelConfigError);
    expect(() => createModel('preact-resnet18', { width: 0 })).toThrow(ModelConfigError);
  });

  it('adding a model is one registerModel call; names are unique and well formed', () => {
    registerModel('tiny-mlp', (options?: { width?: number }) => mlp({ inputDim: 2, hiddenDims: [options?.width ?? 3], outputDim: 1 }));
    expect(modelNames()).toContain('tiny-mlp');
    expect(createModel('tiny-mlp', { width: 5 }).numParams).toBe(2 * 5 + 5 + 5 + 1);
    expect(() => registerModel('tiny-mlp', () => mlp({ inputDim: 1, hiddenDims: [], outputDim: 1 }))).toThrow(/already registered/);
    expect(() => registerModel('Bad Name', () => mlp({ inputDim: 1, hiddenDims: [], outputDim: 1 }))).toThrow(ModelConfigError);
    expect(() => registerModel('no-factory', 3 as never)).toThrow(ModelConfigError);
  });
});

describe.each(Object.keys(SMALL))('the Model contract: %s', (name) => {
  it('init, apply with every tap in both modes, and a training step that leaves numTensors unchanged', () => {
    const model: Model = createModel(name, SMALL[name]!.options);
    const { params, state } = model.init(0);
    expect(Object.keys(params)).toEqual(model.paramSpecs.map((s) => s.name));
    expect(Object.keys(state)).toEqual(model.stateSpecs.map((s) => s.name));
    expect(Object.values(params).reduce((n, p) => n + p.size, 0)).toBe(model.numParams);
    const x = SMALL[name]!.x();
    const before = tf.memory().numTensors;
    for (const training of [true, false]) {
      const out: ModelOutput = model.apply(params, state, x, { training, taps: model.tapNames });
      expect(Object.keys(out.taps)).toEqual(model.tapNames);
      for (const t of Object.values(out.taps)) expect(t.shape[0]).toBe(x.shape[0]);
      expect(out.output!.shape[0]).toBe(x.shape[0]);
      if (training) expect(Object.keys(out.state!)).toEqual(model.stateSpecs.map((s) => s.name));
      else expect(out.state).toBeUndefined();
      tf.dispose([out.output!, ...Object.values(out.taps)]);
      disposeState(null, out.state);
    }
    expect(tf.memory().numTensors).toBe(before);
    // A training step: gradient of a loss on the output, SGD update, running statistics replaced.
    const sgd = tf.train.sgd(0.01);
    const store = new BatchNormStateStore(state);
    const step = () => {
      const { value, grads } = valueAndGrads(params, () => {
        const out = model.apply(params, store.state, x, { training: true });
        store.update(out.state);
        return tf.mean(tf.square(out.output!));
      });
      sgd.applyGradients(Object.entries(params).map(([n, v]) => ({ name: v.name, tensor: grads[n]! })));
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const settled = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(settled);
    sgd.dispose();
    store.dispose();
    disposeState(params);
    x.dispose();
  });
});
