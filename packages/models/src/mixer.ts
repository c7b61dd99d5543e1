/**
 * MLP-Mixer as in Google's `vision_transformer` (`models_mixer.py`; Table 1's Mixer-B/16, docs/paper-notes.md
 * §6.4): a patch "stem" convolution, blocks of a token-mixing MLP applied across tokens (on the transposed
 * [channels, tokens] map) and a channel-mixing MLP, each pre-LayerNorm and added back; then a LayerNorm, the mean
 * over tokens and the head. Parameters carry the Linen paths with '.' for '/'.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputShapeError, ModelConfigError } from './errors.js';
import { countParams, createParams } from './init.js';
import { checkCounts } from './options.js';
import { type ApplyOptions, type Model, type ModelOutput, type ModelState, resolveTaps } from './model.js';
import type { BatchNormSpec, InitSpec, ParamSpec, ParamValues, Params } from './types.js';
import { denseLast, geluTanh, layerNorm } from './vision-layers.js';
import { blockTapNames, checkParams, parseBlockTap } from './vit.js';

/** The per-block tensors a Mixer taps: the block output averaged over the tokens (the paper's `--avg_tokens`). */
export const MIXER_TENSORS = Object.freeze(['res'] as const);

/** Options of an MLP-Mixer; the defaults are Mixer-B/16 at 224 px with a 1000-class head. */
export interface MixerOptions {
  imageSize?: number;
  patchSize?: number;
  /** Channels D of each token. */
  hiddenDim?: number;
  /** Number of Mixer blocks. */
  depth?: number;
  /** Hidden width of the token-mixing MLP. */
  tokensMlpDim?: number;
  /** Hidden width of the channel-mixing MLP. */
  channelsMlpDim?: number;
  /** Classes of the head; 0 = no head (`output` is the token mean after the final LayerNorm). */
  numClasses?: number;
  inChannels?: number;
}

/** Fully resolved Mixer configuration. */
export type MixerConfig = Required<MixerOptions>;

function resolveConfig(options: MixerOptions): MixerConfig {
  if (typeof options !== 'object' || options === null) throw new ModelConfigError('Mixer options must be an object');
  const cfg: MixerConfig = {
    imageSize: options.imageSize ?? 224,
    patchSize: options.patchSize ?? 16,
    hiddenDim: options.hiddenDim ?? 768,
    depth: options.depth ?? 12,
    tokensMlpDim: options.tokensMlpDim ?? 384,
    channelsMlpDim: options.channelsMlpDim ?? 3072,
    numClasses: options.numClasses ?? 1000,
    inChannels: options.inChannels ?? 3,
  };
  checkCounts('Mixer', cfg, ['numClasses']);
  if (cfg.imageSize < cfg.patchSize)
    throw new ModelConfigError(`a ${cfg.imageSize}-pixel image has no whole ${cfg.patchSize}×${cfg.patchSize} patch`);
  return cfg;
}

const zeros: InitSpec = { kind: 'zeros' };
const ones: InitSpec = { kind: 'ones' };
const lecun = (fanIn: number): InitSpec => ({ kind: 'normal', std: Math.sqrt(1 / fanIn) });

function mixerSpecs(cfg: MixerConfig, tokens: number): ParamSpec[] {
  const D = cfg.hiddenDim;
  const specs: ParamSpec[] = [];
  const add = (name: string, shape: number[], init: InitSpec) => specs.push({ name, shape, init });
  const p = cfg.patchSize;
  add('stem.kernel', [p, p, cfg.inChannels, D], lecun(p * p * cfg.inChannels));
  add('stem.bias', [D], zeros);
  const mlp = (prefix: string, dim: number, hidden: number) => {
    add(`${prefix}.Dense_0.kernel`, [dim, hidden], lecun(dim));
    add(`${prefix}.Dense_0.bias`, [hidden], zeros);
    add(`${prefix}.Dense_1.kernel`, [hidden, dim], lecun(hidden));
    add(`${prefix}.Dense_1.bias`, [dim], zeros);
  };
  for (let i = 0; i < cfg.depth; i++) {
    const b = `MixerBlock_${i}`;
    add(`${b}.LayerNorm_0.scale`, [D], ones);
    add(`${b}.LayerNorm_0.bias`, [D], zeros);
    mlp(`${b}.token_mixing`, tokens, cfg.tokensMlpDim);
    add(`${b}.LayerNorm_1.scale`, [D], ones);
    add(`${b}.LayerNorm_1.bias`, [D], zeros);
    mlp(`${b}.channel_mixing`, D, cfg.channelsMlpDim);
  }
  add('pre_head_layer_norm.scale', [D], ones);
  add('pre_head_layer_norm.bias', [D], zeros);
  if (cfg.numClasses > 0) {
    add('head.kernel', [D, cfg.numClasses], zeros);
    add('head.bias', [cfg.numClasses], zeros);
  }
  return specs;
}

/**
 * An MLP-Mixer as a {@link Model}: stateless, taps `L<k>.res` (the output of block k, 1-based, averaged over the
 * tokens: [N, D]). Create it with `mlpMixer(options)`, `createModel('mlp-mixer', options)` or from a checkpoint
 * with `visionCheckpoint`.
 */
export class MlpMixer implements Model {
  readonly name = 'mlp-mixer';
  readonly config: Readonly<MixerConfig>;
  readonly paramSpecs: readonly ParamSpec[];
  readonly stateSpecs: readonly BatchNormSpec[] = Object.freeze([]);
  readonly tapNames: readonly string[];
  readonly numParams: number;
  /** Patches per image (the token-mixing MLP's width). */
  readonly tokens: number;

  constructor(options: MixerOptions = {}) {
    const cfg = resolveConfig(options);
    this.config = Object.freeze(cfg);
    const grid = Math.floor(cfg.imageSize / cfg.patchSize);
    this.tokens = grid * grid;
    this.paramSpecs = Object.freeze(mixerSpecs(cfg, this.tokens));
    this.tapNames = Object.freeze(blockTapNames(cfg.depth, MIXER_TENSORS));
    this.numParams = countParams(this.paramSpecs);
  }

  /** Seeded parameters (Flax's Dense default, lecun-normal untruncated; zero head); no state. */
  init(seed: number): { params: Params; state: ModelState } {
    return { params: createParams(this.paramSpecs, seed), state: {} };
  }

  apply(params: ParamValues, state: ModelState | null, x: tf.Tensor, options: ApplyOptions): ModelOutput<tf.Tensor2D> {
    const taps = resolveTaps(this, options);
    const cfg = this.config;
    if (x.rank !== 4 || x.shape[1] !== cfg.imageSize || x.shape[2] !== cfg.imageSize || x.shape[3] !== cfg.inChannels) {
      throw new InputShapeError(
        `expected NHWC input [n, ${cfg.imageSize}, ${cfg.imageSize}, ${cfg.inChannels}] (the token-mixing MLP fixes the size), got [${x.shape}]`,
      );
    }
    checkParams(this.paramSpecs, params);
    const wanted = new Set([...taps].map((i) => parseBlockTap(this.tapNames[i]!).block));
    const withOutput = options.output !== false;
    const lastBlock = withOutput ? cfg.depth : Math.max(...wanted);
    const out = tf.tidy(() => {
      const tapped: Record<string, tf.Tensor2D> = {};
      const n = x.shape[0]!;
      const p = cfg.patchSize;
      const grid = Math.floor(cfg.imageSize / p);
      let z = x as tf.Tensor4D;
      if (grid * p !== cfg.imageSize) z = tf.slice(z, [0, 0, 0, 0], [n, grid * p, grid * p, cfg.inChannels]);
      let h = tf.reshape(tf.add(tf.conv2d(z, params['stem.kernel'] as tf.Tensor4D, p, 'valid'), params['stem.bias']!), [
        n,
        this.tokens,
        cfg.hiddenDim,
      ]) as tf.Tensor3D;
      for (let k = 1; k <= lastBlock; k++) {
        const prev = h;
        h = tf.tidy(() => this.block(params, k - 1, prev));
        prev.dispose();
        if (wanted.has(k)) tapped[`L${k}.res`] = tf.mean(h, 1) as tf.Tensor2D;
      }
      if (!withOutput) return { taps: tapped };
      const rep = tf.mean(
        layerNorm(h, params['pre_head_layer_norm.scale'] as tf.Tensor1D, params['pre_head_layer_norm.bias'] as tf.Tensor1D),
        1,
      ) as tf.Tensor2D;
      const output =
        cfg.numClasses > 0
          ? (denseLast(rep, params['head.kernel'] as tf.Tensor2D, params['head.bias'] as tf.Tensor1D) as tf.Tensor2D)
          : rep;
      return { output, taps: tapped };
    });
    return { ...out, ...(options.training && state ? { state: {} } : {}) };
  }

  private block(params: ParamValues, i: number, x: tf.Tensor3D): tf.Tensor3D {
    const b = `MixerBlock_${i}`;
    const p = (name: string) => params[`${b}.${name}`]!;
    const mlp = (prefix: string, t: tf.Tensor) =>
      denseLast(
        geluTanh(denseLast(t, p(`${prefix}.Dense_0.kernel`) as tf.Tensor2D, p(`${prefix}.Dense_0.bias`) as tf.Tensor1D)),
        p(`${prefix}.Dense_1.kernel`) as tf.Tensor2D,
        p(`${prefix}.Dense_1.bias`) as tf.Tensor1D,
      );
    const y = layerNorm(x, p('LayerNorm_0.scale') as tf.Tensor1D, p('LayerNorm_0.bias') as tf.Tensor1D);
    // Token mixing acts on each channel's row of tokens: [N, T, D] → [N, D, T] and back.
    const mixed = tf.transpose(mlp('token_mixing', tf.transpose(y, [0, 2, 1])), [0, 2, 1]);
    const h = tf.add(x, mixed) as tf.Tensor3D;
    const z = layerNorm(h, p('LayerNorm_1.scale') as tf.Tensor1D, p('LayerNorm_1.bias') as tf.Tensor1D);
    return tf.add(h, mlp('channel_mixing', z)) as tf.Tensor3D;
  }
}

/** Creates an MLP-Mixer (defaults: Mixer-B/16 at 224 px, 1000 classes). */
export function mlpMixer(options: MixerOptions = {}): MlpMixer {
  return new MlpMixer(options);
}
