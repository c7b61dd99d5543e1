import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BertConfig, bert } from './bert.js';
import { symmetricInfoNce } from './contrastive.js';
import { InputShapeError, ModelConfigError } from './errors.js';
import { disposeState } from './init.js';
import { createModel } from './registry.js';
import { valueAndGrads } from './training.js';
import type { Params } from './types.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TINY = { vocabSize: 13, hiddenSize: 8, depth: 2, heads: 2, intermediateSize: 12, maxPositions: 7 } as const;

/** erf in float64: its Taylor series up to |x| = 3, the asymptotic series of erfc beyond (both to ~1e-12). */
function erf(x: number): number {
  const a = Math.abs(x);
  if (a > 3) {
    const z = 1 / (2 * a * a);
    const erfc = (Math.exp(-a * a) / (a * Math.sqrt(Math.PI))) * (1 - z + 3 * z * z - 15 * z ** 3 + 105 * z ** 4);
    return Math.sign(x) * (1 - erfc);
  }
  let term = x;
  let sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

type Arrays = Record<string, { data: Float32Array; shape: number[] }>;

/** BERT written out in float64 loops from its equations, one example at a time: the independent reference. */
function bert64(w: Arrays, cfg: BertConfig, ids: number[]): { blocks: number[][][] } {
  const H = cfg.hiddenSize;
  const at = (name: string, ...idx: number[]) => {
    const { data, shape } = w[name]!;
    let off = 0;
    for (let i = 0; i < idx.length; i++) off = off * shape[i]! + idx[i]!;
    return data[off]!;
  };
  const norm = (v: number[], prefix: string) => {
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
    return v.map((x, j) => ((x - mean) / Math.sqrt(variance + 1e-12)) * at(`${prefix}.scale`, j) + at(`${prefix}.bias`, j));
  };
  const dense = (v: number[], prefix: string, outDim: number) =>
    Array.from({ length: outDim }, (_, o) => v.reduce((acc, x, i) => acc + x * at(`${prefix}.kernel`, i, o), at(`${prefix}.bias`, o)));
  const T = ids.length;
  let h = ids.map((id, t) =>
    norm(
      Array.from(
        { length: H },
        (_, j) =>
          at('embeddings.word_embeddings.embedding', id, j) +
          at('embeddings.position_embeddings.embedding', t, j) +
          at('embeddings.token_type_embeddings.embedding', 0, j),
      ),
      'embeddings.LayerNorm',
    ),
  );
  const blocks: number[][][] = [];
  const dh = H / cfg.heads;
  for (let l = 0; l < cfg.depth; l++) {
    const b = `encoder.layer.${l}`;
    const q = h.map((x) => dense(x, `${b}.attention.self.query`, H));
    const k = h.map((x) => dense(x, `${b}.attention.self.key`, H));
    const v = h.map((x) => dense(x, `${b}.attention.self.value`, H));
    const merged = h.map(() => new Array<number>(H).fill(0));
    for (let head = 0; head < cfg.heads; head++) {
      for (let tq = 0; tq < T; tq++) {
        const keys = Array.from({ length: T }, (_, tk) => tk).filter((tk) => ids[tk] !== cfg.padId);
        const scores = keys.map((tk) => {
          let s = 0;
          for (let j = 0; j < dh; j++) s += q[tq]![head * dh + j]! * k[tk]![head * dh + j]!;
          return s / Math.sqrt(dh);
        });
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, c) => a + c, 0);
        keys.forEach((tk, i) => {
          for (let j = 0; j < dh; j++) merged[tq]![head * dh + j]! += (e[i]! / z) * v[tk]![head * dh + j]!;
        });
      }
    }
    const attended = h.map((x, t) =>
      norm(
        dense(merged[t]!, `${b}.attention.output.dense`, H).map((y, j) => y + x[j]!),
        `${b}.attention.output.LayerNorm`,
      ),
    );
    h = attended.map((x) => {
      const inter = dense(x, `${b}.intermediate.dense`, cfg.intermediateSize).map((y) => 0.5 * y * (1 + erf(y / Math.SQRT2)));
      return norm(
        dense(inter, `${b}.output.dense`, H).map((y, j) => y + x[j]!),
        `${b}.output.LayerNorm`,
      );
    });
    blocks.push(h);
  }
  return { blocks };
}

/** Parameters far from BERT's tiny init, so every part of the network shapes the output. */
function randomParams(model: ReturnType<typeof bert>, seed: number): { params: Params; arrays: Arrays } {
  const params: Params = {};
  const arrays: Arrays = {};
  model.paramSpecs.forEach((s, i) => {
    const isScale = s.name.endsWith('.scale');
    const t = tf.randomNormal([...s.shape], isScale ? 1 : 0, isScale ? 0.2 : 0.6, 'float32', seed + i);
    params[s.name] = tf.variable(t, true, `bert-test-${seed}-${i}`);
    arrays[s.name] = { data: t.dataSync() as Float32Array, shape: [...s.shape] };
    t.dispose();
  });
  return { params, arrays };
}

const close = (actual: ArrayLike<number>, expected: readonly number[], what: string) => {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`).toBeLessThan(
      1e-4 + 1e-3 * Math.abs(expected[i]!),
    );
  }
};

describe('BERT encoder', () => {
  it('bert-base-cased has its published parameter count (without the pooler); bad options are named', () => {
    // 108 310 272 parameters in BertModel with its 590 592-parameter pooler.
    expect(bert().numParams).toBe(108_310_272 - 590_592);
    expect(createModel('bert', TINY).tapNames).toEqual(['L1.res', 'L2.res']);
    expect(() => bert({ hiddenSize: 10, heads: 3 })).toThrow(ModelConfigError);
    expect(() => bert({ padId: 13, vocabSize: 13 })).toThrow(/outside the vocabulary/);
    expect(() => bert({ pooling: 'max' as never })).toThrow(/'mean' or 'cls'/);
  });

  it('every block equals the float64 reference, with padding keys masked and mean or CLS pooling', () => {
    const ids = [
      [5, 3, 9, 0, 0],
      [1, 2, 3, 4, 12],
      [7, 0, 11, 0, 0],
    ];
    for (const pooling of ['mean', 'cls'] as const) {
      const m = bert({ ...TINY, pooling });
      const { params, arrays } = randomParams(m, 20);
      const out = m.apply(params, null, tf.tensor2d(ids, undefined, 'int32'), { training: false, taps: ['L1.res', 'L2.res'] });
      ids.forEach((row, n) => {
        const { blocks } = bert64(arrays, m.config as BertConfig, row);
        const pool = (h: number[][]) => (pooling === 'mean' ? h[0]!.map((_, j) => h.reduce((a, r) => a + r[j]!, 0) / h.length) : h[0]!);
        close(out.taps['L1.res']!.arraySync()[n]!, pool(blocks[0]!), `${pooling} L1 example ${n}`);
        close(out.taps['L2.res']!.arraySync()[n]!, pool(blocks[1]!), `${pooling} L2 example ${n}`);
        close(out.output!.arraySync()[n]!, pool(blocks[1]!), `${pooling} output example ${n}`);
      });
      tf.dispose([out.output!, ...Object.values(out.taps)]);
      disposeState(params);
    }
  });

  it('padding is invisible to the real tokens: CLS output of [5, 3, 9] equals that of [5, 3, 9, 0, 0]', () => {
    const m = bert({ ...TINY, pooling: 'cls' });
    const { params } = randomParams(m, 40);
    const short = m.apply(params, null, tf.tensor2d([[5, 3, 9]], undefined, 'int32'), { training: false }).output!;
    const padded = m.apply(params, null, tf.tensor2d([[5, 3, 9, 0, 0]], undefined, 'int32'), { training: false }).output!;
    close(padded.dataSync(), Array.from(short.dataSync()), 'cls');
    disposeState(params);
  });

  it('trains: an InfoNCE step between two towers lowers the loss and leaves tf.memory().numTensors unchanged', () => {
    const m = bert({ ...TINY, hiddenSize: 16, heads: 4 });
    const { params } = m.init(3);
    const ids = tf.tensor2d(
      [
        [1, 5, 7, 0],
        [2, 6, 0, 0],
        [3, 8, 9, 10],
        [4, 11, 12, 0],
      ],
      undefined,
      'int32',
    );
    const targets = tf.randomNormal([4, 16], 0, 1, 'float32', 4);
    const adam = tf.train.adam(1e-2);
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = valueAndGrads(params, () => {
          const text = m.apply(params, {}, ids, { training: true }).output!;
          const unit = (e: tf.Tensor2D) => tf.div(e, tf.norm(e, 'euclidean', 1, true)) as tf.Tensor2D;
          return symmetricInfoNce(unit(targets as tf.Tensor2D), unit(text), { temperature: 0.1 });
        });
        adam.applyGradients(Object.entries(params).map(([n, v]) => ({ name: v.name, tensor: grads[n]! })));
        return value.dataSync()[0]!;
      });
    const first = step();
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 15; i++) last = step();
    expect(tf.memory().numTensors).toBe(before);
    expect(last).toBeLessThan(first);
    adam.dispose();
    tf.dispose([ids, targets]);
    disposeState(params);
  });

  it('names bad token inputs', () => {
    const m = bert(TINY);
    const { params } = m.init(0);
    expect(() => m.apply(params, null, tf.tensor2d([[1, 2]]), { training: false })).toThrow(/int32/);
    expect(() => m.apply(params, null, tf.zeros([1, 8], 'int32'), { training: false })).toThrow(InputShapeError);
    expect(() => m.apply(params, null, tf.zeros([2], 'int32'), { training: false })).toThrow(/token ids \[n, t\]/);
    disposeState(params);
  });
});
