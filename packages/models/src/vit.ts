/**
 * Vision Transformer as in Google's `vision_transformer` (the ImageNet checkpoints of the paper's Table 1 and the
 * MS-COCO image tower; docs/paper-notes.md §6.4, §6.5), with the optional ResNet root of the hybrid R+Ti/16.
 * Parameters are named by their Flax Linen paths with '.' for '/', so a checkpoint loads key for key
 * (`visionCheckpoint`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputShapeError, ModelConfigError, ParamsMismatchError } from './errors.js';
import { countParams, createParams } from './init.js';
import { checkCounts } from './options.js';
import { type ApplyOptions, type Model, type ModelOutput, type ModelState, resolveTaps } from './model.js';
import type { BatchNormSpec, InitSpec, ParamSpec, ParamValues, Params } from './types.js';
import { denseLast, geluTanh, groupNorm, layerNorm, maxPool3x3Stride2Same, selfAttention, standardizeKernel } from './vision-layers.js';

/** The per-block tensors a ViT taps, at token 0 (the class token): docs/paper-notes.md §13.1 and Fig. 7. */
export const VIT_TENSORS = Object.freeze(['preatt', 'att', 'premlp', 'pregelu', 'gelu', 'mlp', 'res'] as const);
/** One of {@link VIT_TENSORS}. */
export type VitTensor = (typeof VIT_TENSORS)[number];

/** Options of a ViT; the defaults are ViT-B/16 at 224 px with a 1000-class head. */
export interface VitOptions {
  /** Input size in pixels (square). The position embedding fixes it: no interpolation. */
  imageSize?: number;
  /** Patch size of the embedding convolution (kernel = stride, 'VALID'); for a hybrid, in root-output pixels. */
  patchSize?: number;
  /** Width D of the token embeddings. */
  hiddenSize?: number;
  /** Number of encoder blocks. */
  depth?: number;
  /** Attention heads (D must be divisible by it). */
  heads?: number;
  /** Hidden width of each block's MLP. */
  mlpDim?: number;
  /** Classes of the linear head; 0 = no head (`output` is the representation: class token after the final norm). */
  numClasses?: number;
  /** Width of the tanh `pre_logits` layer before the head, or null for none. */
  representationSize?: number | null;
  /** Input channels. */
  inChannels?: number;
  /**
   * The hybrid's ResNet root (R+Ti/16: width 64): a weight-standardised 7×7/2 convolution without bias, GroupNorm
   * (32 groups), ReLU and a 3×3/2 max-pool, all 'SAME', before the patch embedding. null (default): none.
   */
  resnetRoot?: { width: number } | null;
}

/** Fully resolved ViT configuration. */
export interface VitConfig {
  imageSize: number;
  patchSize: number;
  hiddenSize: number;
  depth: number;
  heads: number;
  mlpDim: number;
  numClasses: number;
  representationSize: number | null;
  inChannels: number;
  resnetRoot: { width: number } | null;
}

const positiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

function resolveConfig(options: VitOptions): VitConfig {
  if (typeof options !== 'object' || options === null) throw new ModelConfigError('ViT options must be an object');
  const cfg: VitConfig = {
    imageSize: options.imageSize ?? 224,
    patchSize: options.patchSize ?? 16,
    hiddenSize: options.hiddenSize ?? 768,
    depth: options.depth ?? 12,
    heads: options.heads ?? 12,
    mlpDim: options.mlpDim ?? 3072,
    numClasses: options.numClasses ?? 1000,
    representationSize: options.representationSize ?? null,
    inChannels: options.inChannels ?? 3,
    resnetRoot: options.resnetRoot ?? null,
  };
  const { imageSize, patchSize, hiddenSize, depth, heads, mlpDim, inChannels, numClasses } = cfg;
  checkCounts('ViT', { imageSize, patchSize, hiddenSize, depth, heads, mlpDim, inChannels, numClasses }, ['numClasses']);
  if (cfg.representationSize !== null && !positiveInt(cfg.representationSize)) {
    throw new ModelConfigError(`ViT representationSize must be a positive integer or null, got ${String(cfg.representationSize)}`);
  }
  if (cfg.hiddenSize % cfg.heads !== 0)
    throw new ModelConfigError(`ViT hiddenSize ${cfg.hiddenSize} is not divisible by ${cfg.heads} heads`);
  if (cfg.resnetRoot !== null && !(positiveInt(cfg.resnetRoot.width) && cfg.resnetRoot.width % 32 === 0)) {
    throw new ModelConfigError(
      `the ResNet root's width must be a positive multiple of 32 (GroupNorm has 32 groups), got ${String(cfg.resnetRoot?.width)}`,
    );
  }
  if (vitGrid(cfg) < 1)
    throw new ModelConfigError(
      `a ${cfg.imageSize}-pixel image has no whole ${cfg.patchSize}×${cfg.patchSize} patch${cfg.resnetRoot ? ' after the ResNet root' : ''}`,
    );
  return cfg;
}

/** Patches per side: the root halves the size twice ('SAME'), the embedding drops what no whole patch covers. */
export function vitGrid(cfg: Pick<VitConfig, 'imageSize' | 'patchSize' | 'resnetRoot'>): number {
  const size = cfg.resnetRoot ? Math.ceil(Math.ceil(cfg.imageSize / 2) / 2) : cfg.imageSize;
  return Math.floor(size / cfg.patchSize);
}

/** A parameter path of block `i` (0-based), Linen names. */
export const vitBlockPrefix = (i: number) => `Transformer.encoderblock_${i}`;

const zeros: InitSpec = { kind: 'zeros' };
const ones: InitSpec = { kind: 'ones' };
/** Flax's lecun_normal, as an untruncated normal. */
const lecun = (fanIn: number): InitSpec => ({ kind: 'normal', std: Math.sqrt(1 / fanIn) });
const xavier = (fanIn: number, fanOut: number): InitSpec => ({ kind: 'uniform', bound: Math.sqrt(6 / (fanIn + fanOut)) });

function vitSpecs(cfg: VitConfig): ParamSpec[] {
  const D = cfg.hiddenSize;
  const H = cfg.heads;
  const dh = D / H;
  const M = cfg.mlpDim;
  const specs: ParamSpec[] = [];
  const add = (name: string, shape: number[], init: InitSpec) => specs.push({ name, shape, init });
  let embedIn = cfg.inChannels;
  if (cfg.resnetRoot) {
    const w = cfg.resnetRoot.width;
    add('conv_root.kernel', [7, 7, cfg.inChannels, w], lecun(49 * cfg.inChannels));
    add('gn_root.scale', [w], ones);
    add('gn_root.bias', [w], zeros);
    embedIn = w;
  }
  const p = cfg.patchSize;
  add('embedding.kernel', [p, p, embedIn, D], lecun(p * p * embedIn));
  add('embedding.bias', [D], zeros);
  add('cls', [1, 1, D], zeros);
  const grid = vitGrid(cfg);
  add('Transformer.posembed_input.pos_embedding', [1, grid * grid + 1, D], { kind: 'normal', std: 0.02 });
  for (let i = 0; i < cfg.depth; i++) {
    const b = vitBlockPrefix(i);
    add(`${b}.LayerNorm_0.scale`, [D], ones);
    add(`${b}.LayerNorm_0.bias`, [D], zeros);
    for (const proj of ['query', 'key', 'value']) {
      add(`${b}.MultiHeadDotProductAttention_0.${proj}.kernel`, [D, H, dh], xavier(D, D));
      add(`${b}.MultiHeadDotProductAttention_0.${proj}.bias`, [H, dh], zeros);
    }
    add(`${b}.MultiHeadDotProductAttention_0.out.kernel`, [H, dh, D], xavier(D, D));
    add(`${b}.MultiHeadDotProductAttention_0.out.bias`, [D], zeros);
    add(`${b}.LayerNorm_1.scale`, [D], ones);
    add(`${b}.LayerNorm_1.bias`, [D], zeros);
    add(`${b}.MlpBlock_0.Dense_0.kernel`, [D, M], xavier(D, M));
    add(`${b}.MlpBlock_0.Dense_0.bias`, [M], { kind: 'normal', std: 1e-6 });
    add(`${b}.MlpBlock_0.Dense_1.kernel`, [M, D], xavier(M, D));
    add(`${b}.MlpBlock_0.Dense_1.bias`, [D], { kind: 'normal', std: 1e-6 });
  }
  add('Transformer.encoder_norm.scale', [D], ones);
  add('Transformer.encoder_norm.bias', [D], zeros);
  let rep = D;
  if (cfg.representationSize !== null) {
    add('pre_logits.kernel', [D, cfg.representationSize], lecun(D));
    add('pre_logits.bias', [cfg.representationSize], zeros);
    rep = cfg.representationSize;
  }
  if (cfg.numClasses > 0) {
    // Flax initialises the head to zero.
    add('head.kernel', [rep, cfg.numClasses], zeros);
    add('head.bias', [cfg.numClasses], zeros);
  }
  return specs;
}

/** Checks every parameter of `specs` against `params` (missing or of the wrong shape → ParamsMismatchError). */
export function checkParams(specs: readonly ParamSpec[], params: ParamValues): void {
  for (const s of specs) {
    const t = params[s.name];
    if (!t) throw new ParamsMismatchError(`parameter '${s.name}' is missing`);
    if (t.rank !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw new ParamsMismatchError(`parameter '${s.name}' has shape [${t.shape}], expected [${s.shape}]`);
    }
  }
}

/** `t[:, 0, :]` of [N, T, C] as [N, C]. */
function token0(t: tf.Tensor): tf.Tensor2D {
  const [n, , c] = t.shape as [number, number, number];
  return tf.reshape(tf.slice(t, [0, 0, 0], [n, 1, c]), [n, c]);
}

/** Parses a tap name `L<k>.<tensor>` into its block (1-based) and tensor. */
function parseTap(name: string): { block: number; tensor: string } {
  const m = /^L(\d+)\.(\w+)$/.exec(name)!;
  return { block: Number(m[1]), tensor: m[2]! };
}

/** Tap names `L<k>.<tensor>` for blocks 1..depth, shallowest first. */
export function blockTapNames(depth: number, tensors: readonly string[]): string[] {
  const out: string[] = [];
  for (let k = 1; k <= depth; k++) for (const t of tensors) out.push(`L${k}.${t}`);
  return out;
}

/**
 * A ViT as a {@link Model}: stateless, taps `L<k>.<tensor>` (k = number of blocks run, 1-based; tensors
 * {@link VIT_TENSORS}) at token 0, each [N, D] (`pregelu`, `gelu`: [N, mlpDim]). `output` is the logits, or the
 * representation (class token after the final LayerNorm, through `pre_logits`) when `numClasses` is 0. Create it
 * with `vit(options)`, `createModel('vit', options)` or from a checkpoint with `visionCheckpoint`.
 */
export class VisionTransformer implements Model {
  readonly name = 'vit';
  readonly config: Readonly<VitConfig>;
  readonly paramSpecs: readonly ParamSpec[];
  readonly stateSpecs: readonly BatchNormSpec[] = Object.freeze([]);
  readonly tapNames: readonly string[];
  readonly numParams: number;
  /** Tokens per image: patches plus the class token. */
  readonly tokens: number;

  constructor(options: VitOptions = {}) {
    const cfg = resolveConfig(options);
    this.config = Object.freeze({ ...cfg, resnetRoot: cfg.resnetRoot ? Object.freeze({ ...cfg.resnetRoot }) : null });
    this.paramSpecs = Object.freeze(vitSpecs(cfg));
    this.tapNames = Object.freeze(blockTapNames(cfg.depth, VIT_TENSORS));
    this.numParams = countParams(this.paramSpecs);
    this.tokens = vitGrid(cfg) ** 2 + 1;
  }

  /** Seeded parameters with Flax's initialisers (lecun-normal untruncated); no state. */
  init(seed: number): { params: Params; state: ModelState } {
    return { params: createParams(this.paramSpecs, seed), state: {} };
  }

  /** Width of a tap's features. */
  tapDim(tensor: VitTensor): number {
    return tensor === 'pregelu' || tensor === 'gelu' ? this.config.mlpDim : this.config.hiddenSize;
  }

  apply(params: ParamValues, state: ModelState | null, x: tf.Tensor, options: ApplyOptions): ModelOutput<tf.Tensor2D> {
    const taps = resolveTaps(this, options);
    const cfg = this.config;
    if (x.rank !== 4 || x.shape[1] !== cfg.imageSize || x.shape[2] !== cfg.imageSize || x.shape[3] !== cfg.inChannels) {
      throw new InputShapeError(
        `expected NHWC input [n, ${cfg.imageSize}, ${cfg.imageSize}, ${cfg.inChannels}] (the position embedding fixes the size), got [${x.shape}]`,
      );
    }
    checkParams(this.paramSpecs, params);
    const wanted = new Map<number, Set<string>>();
    for (const i of taps) {
      const { block, tensor } = parseTap(this.tapNames[i]!);
      if (!wanted.has(block)) wanted.set(block, new Set());
      wanted.get(block)!.add(tensor);
    }
    const withOutput = options.output !== false;
    const lastBlock = withOutput ? cfg.depth : Math.max(...wanted.keys());
    const out = tf.tidy(() => {
      const tapped: Record<string, tf.Tensor2D> = {};
      let h = this.embed(params, x as tf.Tensor4D);
      for (let k = 1; k <= lastBlock; k++) {
        const prev = h;
        const r = tf.tidy(() => this.block(params, k, prev, wanted.get(k)));
        h = r.x;
        Object.assign(tapped, r.taps);
        // The residual stream of every block would otherwise stay alive until the outer tidy ends. A tape that
        // needs it for backprop holds its own reference.
        prev.dispose();
      }
      if (!withOutput) return { taps: tapped };
      let rep = token0(
        layerNorm(h, params['Transformer.encoder_norm.scale'] as tf.Tensor1D, params['Transformer.encoder_norm.bias'] as tf.Tensor1D),
      );
      if (cfg.representationSize !== null) {
        rep = tf.tanh(denseLast(rep, params['pre_logits.kernel'] as tf.Tensor2D, params['pre_logits.bias'] as tf.Tensor1D)) as tf.Tensor2D;
      }
      const output =
        cfg.numClasses > 0
          ? (denseLast(rep, params['head.kernel'] as tf.Tensor2D, params['head.bias'] as tf.Tensor1D) as tf.Tensor2D)
          : rep;
      return { output, taps: tapped };
    });
    return { ...out, ...(options.training && state ? { state: {} } : {}) };
  }

  /** Root (optional), patch embedding, class token, position embedding: [N, T, D]. */
  private embed(params: ParamValues, x: tf.Tensor4D): tf.Tensor3D {
    const cfg = this.config;
    let z = x;
    if (cfg.resnetRoot) {
      z = tf.conv2d(z, standardizeKernel(params['conv_root.kernel'] as tf.Tensor4D), 2, 'same');
      z = tf.relu(groupNorm(z, params['gn_root.scale'] as tf.Tensor1D, params['gn_root.bias'] as tf.Tensor1D));
      z = maxPool3x3Stride2Same(z);
    }
    const p = cfg.patchSize;
    const grid = vitGrid(cfg);
    const used = grid * p;
    // 'VALID': rows and columns that no whole patch covers are dropped.
    if (z.shape[1] !== used || z.shape[2] !== used) z = tf.slice(z, [0, 0, 0, 0], [z.shape[0], used, used, z.shape[3]]);
    const e = tf.add(tf.conv2d(z, params['embedding.kernel'] as tf.Tensor4D, p, 'valid'), params['embedding.bias']!);
    const n = x.shape[0];
    const D = cfg.hiddenSize;
    const tokens = tf.reshape(e, [n, grid * grid, D]);
    const cls = tf.tile(tf.reshape(params['cls']!, [1, 1, D]), [n, 1, 1]);
    return tf.add(tf.concat([cls, tokens], 1), params['Transformer.posembed_input.pos_embedding']!) as tf.Tensor3D;
  }

  /** Block k (1-based): pre-LN attention and MLP, each added back; the wanted tensors at token 0. */
  private block(
    params: ParamValues,
    k: number,
    x: tf.Tensor3D,
    want: Set<string> | undefined,
  ): { x: tf.Tensor3D; taps: Record<string, tf.Tensor2D> } {
    const b = vitBlockPrefix(k - 1);
    const p = (name: string) => params[`${b}.${name}`]!;
    const taps: Record<string, tf.Tensor2D> = {};
    const tap = (tensor: string, t: tf.Tensor) => {
      if (want?.has(tensor)) taps[`L${k}.${tensor}`] = token0(t);
    };
    tap('preatt', x);
    const a = 'MultiHeadDotProductAttention_0';
    const att = selfAttention(layerNorm(x, p('LayerNorm_0.scale') as tf.Tensor1D, p('LayerNorm_0.bias') as tf.Tensor1D), {
      queryKernel: p(`${a}.query.kernel`),
      queryBias: p(`${a}.query.bias`),
      keyKernel: p(`${a}.key.kernel`),
      keyBias: p(`${a}.key.bias`),
      valueKernel: p(`${a}.value.kernel`),
      valueBias: p(`${a}.value.bias`),
      outKernel: p(`${a}.out.kernel`),
      outBias: p(`${a}.out.bias`) as tf.Tensor1D,
    });
    tap('att', att);
    const premlp = tf.add(x, att) as tf.Tensor3D;
    tap('premlp', premlp);
    const y = layerNorm(premlp, p('LayerNorm_1.scale') as tf.Tensor1D, p('LayerNorm_1.bias') as tf.Tensor1D);
    const pregelu = denseLast(y, p('MlpBlock_0.Dense_0.kernel') as tf.Tensor2D, p('MlpBlock_0.Dense_0.bias') as tf.Tensor1D);
    tap('pregelu', pregelu);
    const gelu = geluTanh(pregelu);
    tap('gelu', gelu);
    const mlp = denseLast(gelu, p('MlpBlock_0.Dense_1.kernel') as tf.Tensor2D, p('MlpBlock_0.Dense_1.bias') as tf.Tensor1D);
    tap('mlp', mlp);
    const res = tf.add(premlp, mlp) as tf.Tensor3D;
    tap('res', res);
    return { x: res, taps };
  }
}

/** Creates a ViT (defaults: ViT-B/16 at 224 px, 1000 classes). */
export function vit(options: VitOptions = {}): VisionTransformer {
  return new VisionTransformer(options);
}

export { parseTap as parseBlockTap };
