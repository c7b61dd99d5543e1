import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { symmetricInfoNce } from './contrastive.js';
import { dualEncoder } from './dual-encoder.js';
import { ModelConfigError, ParamsMismatchError } from './errors.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const IMAGE = { imageSize: 8, patchSize: 4, hiddenSize: 8, depth: 2, heads: 2, mlpDim: 16, inChannels: 1 } as const;
const TEXT = { vocabSize: 11, hiddenSize: 12, depth: 1, heads: 2, intermediateSize: 16, maxPositions: 6 } as const;

function batch(n: number): { images: tf.Tensor4D; tokens: tf.Tensor2D } {
  const pixels = Array.from({ length: n * 64 }, (_, i) => ((i * 37) % 101) / 100);
  const ids = Array.from({ length: n * 6 }, (_, i) => (i % 6 > 3 ? 0 : 1 + ((i * 7) % 10)));
  return { images: tf.tensor4d(pixels, [n, 8, 8, 1]), tokens: tf.tensor2d(ids, [n, 6], 'int32') };
}

describe('dualEncoder', () => {
  it('embeds both towers through their heads into unit vectors, the heads as Flax Dense layers', () => {
    const model = dualEncoder({ image: IMAGE, text: TEXT, embedDim: 5 });
    const params = model.init(3);
    const { images, tokens } = batch(4);
    const out = model.embed(params, images, tokens, { preHead: true });
    expect(out.image.shape).toEqual([4, 5]);
    expect(out.text.shape).toEqual([4, 5]);
    expect(out.preHead!.image.shape).toEqual([4, 8]);
    expect(out.preHead!.text.shape).toEqual([4, 12]);
    const norms = (t: tf.Tensor2D) => Array.from(tf.tidy(() => tf.norm(t, 'euclidean', 1)).dataSync());
    for (const v of [...norms(out.image), ...norms(out.text)]) expect(v).toBeCloseTo(1, 5);
    // The image embedding is the normalised head of the tower's class token: recompute it by hand.
    const manual = tf.tidy(() => {
      const rep = out.preHead!.image;
      const z = tf.add(tf.matMul(rep, params['image_head.kernel']!), params['image_head.bias']!);
      return tf.div(z, tf.norm(z, 'euclidean', 1, true));
    });
    const a = out.image.arraySync().flat();
    const b = (manual.arraySync() as number[][]).flat();
    a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 5));
    // LeCun-normal kernels (std 1/√fan-in) and zero biases.
    const kernel = Array.from(params['text_head.kernel']!.dataSync());
    const std = Math.sqrt(kernel.reduce((s, v) => s + v * v, 0) / kernel.length);
    expect(std).toBeGreaterThan(0.5 / Math.sqrt(12));
    expect(std).toBeLessThan(1.5 / Math.sqrt(12));
    expect(Array.from(params['text_head.bias']!.dataSync()).every((v) => v === 0)).toBe(true);
    tf.dispose([out.image, out.text, out.preHead!.image, out.preHead!.text, manual, images, tokens, ...Object.values(params)]);
  });

  it('the bottleneck head has rank at most h, and parameters split by tower', () => {
    const model = dualEncoder({ image: IMAGE, text: TEXT, embedDim: 6, bottleneck: 2 });
    expect(model.paramSpecs.find((s) => s.name === 'image_head.bottleneck.kernel')!.shape).toEqual([8, 2]);
    expect(model.paramSpecs.find((s) => s.name === 'text_head.kernel')!.shape).toEqual([2, 6]);
    const image = model.partNames('image');
    const text = model.partNames('text');
    expect(image.length + text.length).toBe(model.paramSpecs.length);
    expect(image.every((n) => n.startsWith('image'))).toBe(true);
    expect(text).toContain('text_head.bottleneck.bias');
    const params = model.init(0);
    const { images, tokens } = batch(7);
    const out = model.embed(params, images, tokens);
    // Unnormalised outputs of a width-2 bottleneck span an affine plane: the centred rows have rank ≤ 2.
    const s = tf.tidy(() => {
      const z = tf.add(
        tf.matMul(
          tf.add(
            tf.matMul(model.embed(params, images, tokens, { preHead: true }).preHead!.image, params['image_head.bottleneck.kernel']!),
            params['image_head.bottleneck.bias']!,
          ),
          params['image_head.kernel']!,
        ),
        params['image_head.bias']!,
      );
      const c = tf.sub(z, tf.mean(z, 0, true));
      return tf.linalg.qr(tf.transpose(c))[1];
    });
    const r = s.arraySync() as number[][];
    const diag = r.map((row, i) => Math.abs(row[i] ?? 0));
    expect(diag.filter((d) => d > 1e-4).length).toBeLessThanOrEqual(2);
    tf.dispose([out.image, out.text, s, images, tokens, ...Object.values(params)]);
  });

  it('trains both towers with the InfoNCE loss without leaking tensors', () => {
    const model = dualEncoder({ image: IMAGE, text: TEXT, embedDim: 4 });
    const params = model.init(1);
    const { images, tokens } = batch(5);
    const optimizer = tf.train.adam(1e-2);
    const vars = Object.values(params);
    const lossOf = () => {
      const e = model.embed(params, images, tokens);
      return symmetricInfoNce(e.image, e.text);
    };
    const first = tf.tidy(() => lossOf().dataSync()[0]!);
    const grads = tf.variableGrads(lossOf as () => tf.Scalar, vars);
    for (const name of ['image.embedding.kernel', 'text.embeddings.word_embeddings.embedding', 'image_head.kernel', 'text_head.bias']) {
      expect(tf.tidy(() => tf.sum(tf.abs(grads.grads[params[name]!.name]!)).dataSync()[0]!)).toBeGreaterThan(0);
    }
    tf.dispose([grads.value, ...Object.values(grads.grads)]);
    optimizer.minimize(lossOf as () => tf.Scalar, false, vars);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) optimizer.minimize(lossOf as () => tf.Scalar, false, vars);
    expect(tf.memory().numTensors).toBe(before);
    const last = tf.tidy(() => lossOf().dataSync()[0]!);
    expect(last).toBeLessThan(first);
    optimizer.dispose();
    tf.dispose([images, tokens, ...vars]);
  });

  it('rejects bad options and missing parameters', () => {
    expect(() => dualEncoder({ image: IMAGE, text: TEXT, bottleneck: 0 })).toThrow(ModelConfigError);
    expect(() => dualEncoder({ image: IMAGE, text: TEXT, embedDim: 2.5 })).toThrow(/embedDim/);
    const model = dualEncoder({ image: IMAGE, text: TEXT, embedDim: 3 });
    const params = model.init(0);
    const { images, tokens } = batch(2);
    const partial = { ...params };
    delete (partial as Record<string, unknown>)['text_head.kernel'];
    expect(() => model.embed(partial, images, tokens)).toThrow(ParamsMismatchError);
    tf.dispose([images, tokens, ...Object.values(params)]);
  });
});
