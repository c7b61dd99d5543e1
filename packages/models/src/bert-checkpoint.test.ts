import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { bert } from './bert.js';
import { bertCheckpoint } from './bert-checkpoint.js';
import { CheckpointFormatError } from './errors.js';
import { disposeState } from './init.js';
import { CheckpointKeysError } from './vision-checkpoint.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TINY = { vocabSize: 11, hiddenSize: 8, depth: 2, heads: 2, intermediateSize: 12, maxPositions: 6 } as const;

type Arrays = Record<string, { shape: number[]; data: Float32Array }>;

/**
 * The model's parameters under Hugging Face's PyTorch names, as `BertModel.state_dict()` has them: Linear weights
 * [out, in], `LayerNorm.weight`/`bias` (or the old `gamma`/`beta`), plus the pooler, `position_ids` and a
 * pre-training head that the encoder does not use.
 */
function huggingFaceArrays(params: Record<string, tf.Tensor>, prefix: string, oldNorms = false): Arrays {
  const out: Arrays = {};
  for (const [name, t] of Object.entries(params)) {
    let key = name
      .replace(/_embeddings\.embedding$/, '_embeddings.weight')
      .replace(/LayerNorm\.scale$/, oldNorms ? 'LayerNorm.gamma' : 'LayerNorm.weight')
      .replace(/\.kernel$/, '.weight');
    if (oldNorms) key = key.replace(/LayerNorm\.bias$/, 'LayerNorm.beta');
    const value = name.endsWith('.kernel') ? tf.transpose(t) : t;
    out[`${prefix}${key}`] = { shape: [...value.shape], data: value.dataSync() as Float32Array };
  }
  out[`${prefix}pooler.dense.weight`] = { shape: [8, 8], data: new Float32Array(64) };
  out[`${prefix}pooler.dense.bias`] = { shape: [8], data: new Float32Array(8) };
  out[`${prefix}embeddings.position_ids`] = { shape: [1, 6], data: new Float32Array(6) };
  out['cls.predictions.bias'] = { shape: [11], data: new Float32Array(11) };
  return out;
}

describe('bertCheckpoint', () => {
  it('reads Hugging Face names (bert. prefix or none, weight/bias or gamma/beta) into the same encoder', () => {
    const original = bert({ ...TINY, pooling: 'cls' });
    const { params } = original.init(5);
    // Away from the tiny initialisation, so a wrong transpose or name would show.
    for (const [name, v] of Object.entries(params))
      v.assign(tf.randomNormal(v.shape, name.endsWith('.scale') ? 1 : 0, 0.5, 'float32', name.length));
    const ids = tf.tensor2d(
      [
        [1, 4, 9, 0],
        [2, 3, 5, 10],
      ],
      undefined,
      'int32',
    );
    const want = original.apply(params, null, ids, { training: false }).output!.arraySync();
    for (const [prefix, oldNorms] of [
      ['bert.', false],
      ['', true],
    ] as const) {
      const loaded = bertCheckpoint(huggingFaceArrays(params, prefix, oldNorms), { pooling: 'cls', heads: 2 });
      expect(loaded.model.config).toMatchObject({ ...TINY, typeVocabSize: 2, pooling: 'cls' });
      expect(loaded.ignored.sort()).toEqual(
        [`${prefix}embeddings.position_ids`, `${prefix}pooler.dense.bias`, `${prefix}pooler.dense.weight`, 'cls.predictions.bias'].sort(),
      );
      expect(Object.values(loaded.params).every((v) => v.trainable)).toBe(true);
      const got = loaded.model.apply(loaded.params, null, ids, { training: false }).output!.arraySync();
      expect(got).toEqual(want);
      disposeState(loaded.params);
    }
    disposeState(params);
  });

  it('heads default to hidden size / 64; missing, unexpected and mis-shaped keys are one typed error naming each', () => {
    const m = bert({ ...TINY, hiddenSize: 128, heads: 2, depth: 1 });
    const { params } = m.init(1);
    const arrays = huggingFaceArrays(params, 'bert.');
    const loaded = bertCheckpoint(arrays);
    expect(loaded.model.config.heads).toBe(2);
    expect(bertCheckpoint(arrays, { heads: 4 }).model.config.heads).toBe(4);
    disposeState(loaded.params);

    const broken = { ...arrays };
    delete broken['bert.encoder.layer.0.output.dense.bias'];
    broken['bert.encoder.layer.0.attention.self.query.weight'] = { shape: [128, 64], data: new Float32Array(128 * 64) };
    broken['bert.encoder.layer.0.adapter.weight'] = { shape: [2], data: new Float32Array(2) };
    let caught: unknown;
    try {
      bertCheckpoint(broken);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CheckpointKeysError);
    const message = (caught as Error).message;
    expect(message).toMatch(/does not fit a BERT/);
    expect(message).toMatch(/missing key encoder\.layer\.0\.output\.dense\.bias/);
    expect(message).toMatch(/unexpected key bert\.encoder\.layer\.0\.adapter\.weight/);
    expect(message).toMatch(/bert\.encoder\.layer\.0\.attention\.self\.query\.weight is \[128,64\], expected \[128,128\]/);
    expect(() => bertCheckpoint({ 'vit.head.kernel': { shape: [2, 2], data: new Float32Array(4) } })).toThrow(CheckpointFormatError);
    expect(() => bertCheckpoint({ 'vit.head.kernel': { shape: [2, 2], data: new Float32Array(4) } })).toThrow(/not a BERT checkpoint/);
    disposeState(params);
  });
});
