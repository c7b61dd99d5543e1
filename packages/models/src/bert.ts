/**
 * A BERT encoder (the text tower of the paper's image–text setting: `bert-base-cased`, docs/paper-notes.md §6.5)
 * as a {@link Model}. Architecture as Hugging Face's Flax `BertModel` without dropout: token + position + token-type
 * (all 0) embeddings, LayerNorm; post-LN blocks of multi-head self-attention (padding keys masked) and a GELU MLP
 * (the exact, erf GELU of `hidden_act: "gelu"`), each added to its input and then normalised (ε 1e-12). Parameter
 * names follow the Flax checkpoint (`encoder.layer.0.attention.self.query.kernel`, kernels [in, out]).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputShapeError, ModelConfigError } from './errors.js';
import { countParams, createParams } from './init.js';
import { checkCounts } from './options.js';
import { type ApplyOptions, type Model, type ModelOutput, type ModelState, resolveTaps } from './model.js';
import type { BatchNormSpec, InitSpec, ParamSpec, ParamValues, Params } from './types.js';
import { denseLast, layerNorm } from './vision-layers.js';
import { blockTapNames, checkParams, parseBlockTap } from './vit.js';

/** BERT's LayerNorm ε (`layer_norm_eps` of every BERT config). */
export const BERT_NORM_EPS = 1e-12;

/** The per-block tensor a BERT taps: the block output, pooled as the model's output is. */
export const BERT_TENSORS = Object.freeze(['res'] as const);

/**
 * Added to the attention scores of padding keys. Flax uses the float type's minimum; any value this negative gives
 * those keys a weight of exactly 0 after the softmax, without the overflow risk of adding the minimum to a score.
 */
const MASKED_SCORE = -1e9;

/** Options of a BERT encoder; the defaults are `bert-base-cased`. */
export interface BertOptions {
  /** Token ids 0 … vocabSize − 1 (bert-base-cased: 28 996). */
  vocabSize?: number;
  hiddenSize?: number;
  /** Number of encoder blocks. */
  depth?: number;
  heads?: number;
  /** Width of each block's MLP. */
  intermediateSize?: number;
  /** Longest sequence (position embeddings). */
  maxPositions?: number;
  typeVocabSize?: number;
  /** The [PAD] id: its positions are masked as attention keys (bert-base-cased: 0). */
  padId?: number;
  /**
   * How the last hidden state [N, T, H] becomes the [N, H] output (and the taps): 'mean' over all T positions,
   * padding included, as the paper's text tower (the pooling ignores the attention mask), or 'cls', position 0.
   */
  pooling?: 'mean' | 'cls';
}

/** Fully resolved BERT configuration. */
export type BertConfig = Required<BertOptions>;

function resolveConfig(options: BertOptions): BertConfig {
  if (typeof options !== 'object' || options === null) throw new ModelConfigError('BERT options must be an object');
  const cfg: BertConfig = {
    vocabSize: options.vocabSize ?? 28996,
    hiddenSize: options.hiddenSize ?? 768,
    depth: options.depth ?? 12,
    heads: options.heads ?? 12,
    intermediateSize: options.intermediateSize ?? 3072,
    maxPositions: options.maxPositions ?? 512,
    typeVocabSize: options.typeVocabSize ?? 2,
    padId: options.padId ?? 0,
    pooling: options.pooling ?? 'mean',
  };
  const { pooling: _, ...counts } = cfg;
  checkCounts('BERT', counts, ['padId']);
  if (cfg.pooling !== 'mean' && cfg.pooling !== 'cls')
    throw new ModelConfigError(`BERT pooling must be 'mean' or 'cls', got '${String(cfg.pooling)}'`);
  if (cfg.hiddenSize % cfg.heads !== 0) {
    throw new ModelConfigError(`BERT hiddenSize ${cfg.hiddenSize} is not divisible by ${cfg.heads} heads`);
  }
  if (cfg.padId >= cfg.vocabSize) throw new ModelConfigError(`BERT padId ${cfg.padId} is outside the vocabulary of ${cfg.vocabSize}`);
  return cfg;
}

function bertSpecs(cfg: BertConfig): ParamSpec[] {
  // BERT's initializer: N(0, 0.02²) for embeddings and kernels, zero biases, unit LayerNorm scales.
  const normal: InitSpec = { kind: 'normal', std: 0.02 };
  const zeros: InitSpec = { kind: 'zeros' };
  const ones: InitSpec = { kind: 'ones' };
  const H = cfg.hiddenSize;
  const specs: ParamSpec[] = [];
  const add = (name: string, shape: number[], init: InitSpec) => specs.push({ name, shape, init });
  const dense = (prefix: string, inDim: number, outDim: number) => {
    add(`${prefix}.kernel`, [inDim, outDim], normal);
    add(`${prefix}.bias`, [outDim], zeros);
  };
  const norm = (prefix: string) => {
    add(`${prefix}.scale`, [H], ones);
    add(`${prefix}.bias`, [H], zeros);
  };
  add('embeddings.word_embeddings.embedding', [cfg.vocabSize, H], normal);
  add('embeddings.position_embeddings.embedding', [cfg.maxPositions, H], normal);
  add('embeddings.token_type_embeddings.embedding', [cfg.typeVocabSize, H], normal);
  norm('embeddings.LayerNorm');
  for (let i = 0; i < cfg.depth; i++) {
    const b = `encoder.layer.${i}`;
    for (const proj of ['query', 'key', 'value']) dense(`${b}.attention.self.${proj}`, H, H);
    dense(`${b}.attention.output.dense`, H, H);
    norm(`${b}.attention.output.LayerNorm`);
    dense(`${b}.intermediate.dense`, H, cfg.intermediateSize);
    dense(`${b}.output.dense`, cfg.intermediateSize, H);
    norm(`${b}.output.LayerNorm`);
  }
  return specs;
}

/** The exact GELU, x·Φ(x) = ½x(1 + erf(x/√2)), of BERT's `hidden_act: "gelu"` (not the tanh form of the ViTs). */
export function geluErf<T extends tf.Tensor>(x: T): T {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)) as T;
}

/**
 * A BERT encoder as a {@link Model}: stateless; input int32 token ids [N, T] (T ≤ maxPositions; `padId` marks
 * padding); `output` the pooled last hidden state [N, H] (`pooling`); taps `L<k>.res`, the output of block k pooled
 * the same way. Create it with `bert(options)` or `createModel('bert', options)`.
 */
export class BertEncoder implements Model {
  readonly name = 'bert';
  readonly config: Readonly<BertConfig>;
  readonly paramSpecs: readonly ParamSpec[];
  readonly stateSpecs: readonly BatchNormSpec[] = Object.freeze([]);
  readonly tapNames: readonly string[];
  readonly numParams: number;

  constructor(options: BertOptions = {}) {
    const cfg = resolveConfig(options);
    this.config = Object.freeze(cfg);
    this.paramSpecs = Object.freeze(bertSpecs(cfg));
    this.tapNames = Object.freeze(blockTapNames(cfg.depth, BERT_TENSORS));
    this.numParams = countParams(this.paramSpecs);
  }

  /** Seeded parameters with BERT's initializer (N(0, 0.02²) embeddings and kernels); no state. */
  init(seed: number): { params: Params; state: ModelState } {
    return { params: createParams(this.paramSpecs, seed), state: {} };
  }

  apply(params: ParamValues, state: ModelState | null, x: tf.Tensor, options: ApplyOptions): ModelOutput<tf.Tensor2D> {
    const taps = resolveTaps(this, options);
    const cfg = this.config;
    if (x.rank !== 2 || x.shape[1]! < 1 || x.shape[1]! > cfg.maxPositions) {
      throw new InputShapeError(`expected token ids [n, t] with 1 ≤ t ≤ ${cfg.maxPositions}, got [${x.shape}]`);
    }
    if (x.dtype !== 'int32') throw new InputShapeError(`token ids must be int32, got ${x.dtype}`);
    checkParams(this.paramSpecs, params);
    const wanted = new Set([...taps].map((i) => parseBlockTap(this.tapNames[i]!).block));
    const withOutput = options.output !== false;
    const lastBlock = withOutput ? cfg.depth : Math.max(...wanted);
    const out = tf.tidy(() => {
      const ids = x as tf.Tensor2D;
      const [n, t] = ids.shape;
      const p = (name: string) => params[name]!;
      const pool = (h: tf.Tensor3D) =>
        (cfg.pooling === 'mean'
          ? tf.mean(h, 1)
          : tf.reshape(tf.slice(h, [0, 0, 0], [n, 1, cfg.hiddenSize]), [n, cfg.hiddenSize])) as tf.Tensor2D;
      const embedded = tf.add(
        tf.add(
          tf.gather(p('embeddings.word_embeddings.embedding'), ids),
          tf.slice(p('embeddings.position_embeddings.embedding'), [0, 0], [t, cfg.hiddenSize]),
        ),
        tf.slice(p('embeddings.token_type_embeddings.embedding'), [0, 0], [1, cfg.hiddenSize]),
      );
      let h = layerNorm(
        embedded as tf.Tensor3D,
        p('embeddings.LayerNorm.scale') as tf.Tensor1D,
        p('embeddings.LayerNorm.bias') as tf.Tensor1D,
        BERT_NORM_EPS,
      );
      // [N, 1, 1, T]: 0 for real keys, MASKED_SCORE for padding, broadcast over heads and queries.
      const keyBias = tf.reshape(tf.mul(tf.cast(tf.equal(ids, cfg.padId), 'float32'), MASKED_SCORE), [n, 1, 1, t]);
      const tapped: Record<string, tf.Tensor2D> = {};
      for (let k = 1; k <= lastBlock; k++) {
        const prev = h;
        h = tf.tidy(() => this.block(params, k - 1, prev, keyBias));
        prev.dispose();
        if (wanted.has(k)) tapped[`L${k}.res`] = pool(h);
      }
      return withOutput ? { output: pool(h), taps: tapped } : { taps: tapped };
    });
    return { ...out, ...(options.training && state ? { state: {} } : {}) };
  }

  private block(params: ParamValues, i: number, x: tf.Tensor3D, keyBias: tf.Tensor): tf.Tensor3D {
    const cfg = this.config;
    const [n, t, d] = x.shape;
    const heads = cfg.heads;
    const headDim = d / heads;
    const p = (name: string) => params[`encoder.layer.${i}.${name}`]!;
    const dense = (prefix: string, input: tf.Tensor) =>
      denseLast(input, p(`${prefix}.kernel`) as tf.Tensor2D, p(`${prefix}.bias`) as tf.Tensor1D);
    const norm = (prefix: string, input: tf.Tensor3D) =>
      layerNorm(input, p(`${prefix}.scale`) as tf.Tensor1D, p(`${prefix}.bias`) as tf.Tensor1D, BERT_NORM_EPS);
    // [N, T, D] → [N, heads, T, headDim]
    const split = (y: tf.Tensor) => tf.transpose(tf.reshape(y, [n, t, heads, headDim]), [0, 2, 1, 3]) as tf.Tensor4D;
    const q = split(tf.mul(dense('attention.self.query', x), 1 / Math.sqrt(headDim)));
    const k = split(dense('attention.self.key', x));
    const v = split(dense('attention.self.value', x));
    const scores = tf.add(tf.matMul(q, tf.transpose(k, [0, 1, 3, 2]) as tf.Tensor4D), keyBias);
    const context = tf.matMul(tf.softmax(scores) as tf.Tensor4D, v);
    const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [n, t, d]);
    const attended = norm('attention.output.LayerNorm', tf.add(dense('attention.output.dense', merged), x) as tf.Tensor3D);
    const hidden = geluErf(dense('intermediate.dense', attended));
    return norm('output.LayerNorm', tf.add(dense('output.dense', hidden), attended) as tf.Tensor3D);
  }
}

/** Creates a BERT encoder (defaults: `bert-base-cased`, mean pooling). */
export function bert(options: BertOptions = {}): BertEncoder {
  return new BertEncoder(options);
}
