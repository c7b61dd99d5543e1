import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignCheckpoint, checkpointFromJSON, checkpointToJSON, restoreCheckpoint, saveCheckpoint } from './checkpoint.js';
import { CheckpointFormatError, ParamsMismatchError } from './errors.js';
import { disposeState } from './init.js';
import { preActResNet18, resNet18 } from './resnet.js';
import { createModel } from './registry.js';

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

describe('checkpoints', () => {
  it('round-trips parameters and BatchNorm state through JSON, bit for bit', async () => {
    const m = preActResNet18({ width: 4 });
    const { params, state } = m.init(7);
    state['bn']!.mean.dispose();
    state['bn']!.mean = tf.tensor1d(Array.from({ length: 32 }, (_, i) => i / 7 - 2));
    const ckpt = await saveCheckpoint(params, state);
    const text = JSON.stringify(checkpointToJSON(ckpt));
    const back = restoreCheckpoint(checkpointFromJSON(JSON.parse(text)), m);
    expect(Object.keys(back.params)).toEqual(m.paramSpecs.map((s) => s.name));
    for (const name of Object.keys(params)) {
      expect(back.params[name]!.shape).toEqual(params[name]!.shape);
      expect(Array.from(back.params[name]!.dataSync())).toEqual(Array.from(params[name]!.dataSync()));
      expect(back.params[name]!.trainable).toBe(true);
    }
    expect(Array.from(back.state['bn']!.mean.dataSync())).toEqual(Array.from(state['bn']!.mean.dataSync()));
    disposeState(back.params, back.state);
    disposeState(params, state);
  });

  it('round-trips every registered model, stateless ones with an empty state', async () => {
    const models = [
      createModel('resnet18', { width: 2 }),
      createModel('two-layer', { inputDim: 3, hiddenUnits: 5, runs: 2 }),
      createModel('mlp', { inputDim: 3, hiddenDims: [4], outputDim: 2 }),
    ];
    for (const m of models) {
      const { params, state } = m.init(3);
      const back = restoreCheckpoint(
        checkpointFromJSON(JSON.parse(JSON.stringify(checkpointToJSON(await saveCheckpoint(params, state))))),
        m,
      );
      expect(Object.keys(back.state), m.name).toEqual(m.stateSpecs.map((s) => s.name));
      for (const spec of m.paramSpecs)
        expect(Array.from(back.params[spec.name]!.dataSync()), m.name).toEqual(Array.from(params[spec.name]!.dataSync()));
      disposeState(back.params, back.state);
      disposeState(params, state);
    }
  });

  it('assigns a checkpoint into existing variables', async () => {
    const m = preActResNet18({ width: 4 });
    const a = m.initParams(1);
    const b = m.initParams(2);
    assignCheckpoint(b, await saveCheckpoint(a));
    expect(Array.from(b['linear.weight']!.dataSync())).toEqual(Array.from(a['linear.weight']!.dataSync()));
    disposeState(a);
    disposeState(b);
  });

  it('rejects another model, bad tags, broken payloads and non-finite values', async () => {
    const m = preActResNet18({ width: 4 });
    const { params, state } = m.init(0);
    const ckpt = await saveCheckpoint(params, state);
    expect(() => restoreCheckpoint(ckpt, resNet18({ width: 4 }))).toThrow(ParamsMismatchError);
    expect(() => restoreCheckpoint(ckpt, preActResNet18({ width: 8 }))).toThrow(ParamsMismatchError);
    expect(() => checkpointFromJSON({ format: 'other', version: 1 })).toThrow(CheckpointFormatError);
    const json = checkpointToJSON(ckpt);
    const broken = structuredClone(json);
    broken.params['linear.bias']!.base64 = 'not base64!';
    expect(() => checkpointFromJSON(broken)).toThrow(CheckpointFormatError);
    const short = structuredClone(json);
    short.params['linear.bias']!.shape = [11];
    expect(() => checkpointFromJSON(short)).toThrow(/needs 11 values/);
    ckpt.params['linear.bias']!.values[3] = Number.NaN;
    expect(() => restoreCheckpoint(ckpt, m)).toThrow(CheckpointFormatError);
  });
});
