/**
 * The two-tower model of the paper's image–text setting (paper §3.3, §6; docs/paper-notes.md §6.5): a ViT image
 * tower and a BERT text tower, each followed by a linear head into a shared space, both embeddings L2-normalised.
 * The bottleneck variant of paper §6 replaces each head by Dense(h) → Dense(out), both with bias.
 *
 * It has two inputs, so it is not a {@link Model} (one input `x`); its towers are, and their parameters sit in one
 * record under the prefixes `image.` and `text.`, with the heads as `image_head.*` and `text_head.*`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type BertEncoder, type BertOptions, bert } from './bert.js';
import { ModelConfigError } from './errors.js';
import { countParams, createParams } from './init.js';
import type { Model } from './model.js';
import type { InitSpec, ParamSpec, ParamValues, Params } from './types.js';
import { denseLast } from './vision-layers.js';
import { type VisionTransformer, type VitOptions, checkParams, vit } from './vit.js';

/** Options of {@link dualEncoder}. */
export interface DualEncoderOptions {
  /** The image tower; its classifier is dropped (`numClasses` 0): the tower's output is the class token. */
  image: Omit<VitOptions, 'numClasses'>;
  /** The text tower (mean pooling by default, as the paper's). */
  text: BertOptions;
  /** Width of the shared embedding space (the paper: 768). */
  embedDim?: number;
  /** Width h of the linear bottleneck in each head (paper §6), or null for a single Dense layer. */
  bottleneck?: number | null;
}

/** What {@link DualEncoder.embed} returns; every tensor is new and the caller's. */
export interface DualEmbeddings {
  /** L2-normalised image embeddings [N, embedDim]. */
  image: tf.Tensor2D;
  /** L2-normalised text embeddings [N, embedDim]. */
  text: tf.Tensor2D;
  /** With `preHead`: each tower's output before its head ([N, image width] and [N, text width]). */
  preHead?: { image: tf.Tensor2D; text: tf.Tensor2D };
  /** With `imageTaps`: the image tower's taps, [N, D] each. */
  imageTaps?: Record<string, tf.Tensor2D>;
}

/** Towers the parameters belong to: a frozen tower's are left out of the optimizer's list. */
export type DualEncoderPart = 'image' | 'text';

const lecun = (fanIn: number): InitSpec => ({ kind: 'normal', std: Math.sqrt(1 / fanIn) });
const zeros: InitSpec = { kind: 'zeros' };

function headSpecs(prefix: string, inDim: number, outDim: number, bottleneck: number | null): ParamSpec[] {
  if (bottleneck === null) {
    return [
      { name: `${prefix}.kernel`, shape: [inDim, outDim], init: lecun(inDim) },
      { name: `${prefix}.bias`, shape: [outDim], init: zeros },
    ];
  }
  return [
    { name: `${prefix}.bottleneck.kernel`, shape: [inDim, bottleneck], init: lecun(inDim) },
    { name: `${prefix}.bottleneck.bias`, shape: [bottleneck], init: zeros },
    { name: `${prefix}.kernel`, shape: [bottleneck, outDim], init: lecun(bottleneck) },
    { name: `${prefix}.bias`, shape: [outDim], init: zeros },
  ];
}

/** Row-wise x / ‖x‖; the tiny floor only guards an all-zero row (which a trained head does not produce). */
function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.sqrt(tf.maximum(tf.sum(tf.square(x), 1, true), 1e-24))) as tf.Tensor2D;
}

/** The image and text towers with their heads (see the module comment). */
export class DualEncoder {
  readonly image: VisionTransformer;
  readonly text: BertEncoder;
  readonly embedDim: number;
  readonly bottleneck: number | null;
  readonly paramSpecs: readonly ParamSpec[];
  readonly numParams: number;

  constructor(options: DualEncoderOptions) {
    if (typeof options !== 'object' || options === null) throw new ModelConfigError('dual encoder options must be an object');
    this.embedDim = options.embedDim ?? 768;
    this.bottleneck = options.bottleneck ?? null;
    for (const [name, v] of [
      ['embedDim', this.embedDim],
      ['bottleneck', this.bottleneck ?? 1],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ModelConfigError(`dual encoder ${name} must be a positive integer, got ${v}`);
    }
    this.image = vit({ ...options.image, numClasses: 0 });
    this.text = bert(options.text);
    const imageWidth = this.image.config.representationSize ?? this.image.config.hiddenSize;
    const prefixed = (prefix: string, m: Model) => m.paramSpecs.map((s) => ({ ...s, name: `${prefix}.${s.name}` }));
    this.paramSpecs = Object.freeze([
      ...prefixed('image', this.image),
      ...prefixed('text', this.text),
      ...headSpecs('image_head', imageWidth, this.embedDim, this.bottleneck),
      ...headSpecs('text_head', this.text.config.hiddenSize, this.embedDim, this.bottleneck),
    ]);
    this.numParams = countParams(this.paramSpecs);
  }

  /** Seeded parameters of both towers and heads (each drawn from a stream forked by its full name). */
  init(seed: number): Params {
    return createParams(this.paramSpecs, seed);
  }

  /** Names of the parameters of one tower together with its head, in spec order. */
  partNames(part: DualEncoderPart): string[] {
    return this.paramSpecs.map((s) => s.name).filter((n) => n.startsWith(`${part}.`) || n.startsWith(`${part}_head.`));
  }

  /**
   * Both towers on a batch of N matching pairs: `images` NHWC as the image tower expects, `tokens` int32 [N, T].
   * Runs in its own tidy; only the returned tensors survive.
   */
  embed(
    params: ParamValues,
    images: tf.Tensor,
    tokens: tf.Tensor,
    options: { preHead?: boolean; imageTaps?: readonly string[] } = {},
  ): DualEmbeddings {
    checkParams(this.paramSpecs, params);
    return tf.tidy(() => {
      const sub = (prefix: string) => {
        const out: ParamValues = {};
        for (const [name, t] of Object.entries(params)) if (name.startsWith(prefix)) out[name.slice(prefix.length)] = t;
        return out;
      };
      const taps = options.imageTaps ?? [];
      const img = this.image.apply(sub('image.'), null, images, { training: true, ...(taps.length ? { taps } : {}) });
      const txt = this.text.apply(sub('text.'), null, tokens, { training: true });
      const imageRep = img.output as tf.Tensor2D;
      const textRep = txt.output as tf.Tensor2D;
      const result: DualEmbeddings = {
        image: l2Normalize(this.head(params, 'image_head', imageRep)),
        text: l2Normalize(this.head(params, 'text_head', textRep)),
      };
      if (options.preHead) result.preHead = { image: imageRep, text: textRep };
      if (taps.length) result.imageTaps = img.taps;
      return result as unknown as tf.TensorContainer;
    }) as unknown as DualEmbeddings;
  }

  private head(params: ParamValues, prefix: string, x: tf.Tensor2D): tf.Tensor2D {
    let h = x;
    if (this.bottleneck !== null) {
      h = denseLast(
        h,
        params[`${prefix}.bottleneck.kernel`] as tf.Tensor2D,
        params[`${prefix}.bottleneck.bias`] as tf.Tensor1D,
      ) as tf.Tensor2D;
    }
    return denseLast(h, params[`${prefix}.kernel`] as tf.Tensor2D, params[`${prefix}.bias`] as tf.Tensor1D) as tf.Tensor2D;
  }
}

/** Creates a dual encoder; the towers' options are validated by their own factories. */
export function dualEncoder(options: DualEncoderOptions): DualEncoder {
  return new DualEncoder(options);
}
