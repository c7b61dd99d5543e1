/**
 * ViT and MLP-Mixer models from the arrays of a `vision_transformer` checkpoint (an .npz whose keys are Flax
 * parameter paths joined by '/'; reading the file is @samrank/data's `readNpz`). The architecture, sizes and heads
 * come from the keys and shapes; the older pre-Linen module numbering of the published ImageNet checkpoints
 * (`LayerNorm_0`, `MultiHeadDotProductAttention_1`, `LayerNorm_2`, `MlpBlock_3`) is renumbered as Flax's
 * `convert_pre_linen` does (per module kind, in order), so both spellings load (docs/paper-notes.md §6.4).
 */
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointFormatError } from './errors.js';
import { type MixerOptions, MlpMixer } from './mixer.js';
import type { ParamSpec, Params } from './types.js';
import { VisionTransformer, type VitOptions } from './vit.js';

/** One array of a checkpoint: its shape and float32 values (row-major). */
export interface NamedArray {
  shape: readonly number[];
  data: Float32Array;
}

/** A checkpoint's arrays by key (Flax paths joined by '/'). */
export type CheckpointArrays = Readonly<Record<string, NamedArray>>;

/** A shape that does not match what the inferred architecture needs. */
export interface ShapeMismatch {
  key: string;
  expected: number[];
  actual: number[];
}

/**
 * A checkpoint whose keys or shapes do not fit the architecture they were read as: which keys are missing, which
 * are left over, which have the wrong shape (keys in the checkpoint's own spelling).
 */
export class CheckpointKeysError extends CheckpointFormatError {
  constructor(
    readonly architecture: string,
    readonly missing: readonly string[],
    readonly extra: readonly string[],
    readonly shapeMismatches: readonly ShapeMismatch[],
    /** Missing keys are named as Flax Linen numbers them; said so when the file uses the pre-Linen numbering. */
    naming: 'linen' | 'pre-linen' = 'linen',
  ) {
    const list = (keys: readonly string[]) =>
      keys.length > 6 ? `${keys.slice(0, 6).join(', ')} and ${keys.length - 6} more` : keys.join(', ');
    const parts = [
      missing.length
        ? `missing key${missing.length === 1 ? '' : 's'} ${list(missing)}${naming === 'pre-linen' ? ' (Linen numbering; the file numbers modules the pre-Linen way)' : ''}`
        : '',
      extra.length ? `unexpected key${extra.length === 1 ? '' : 's'} ${list(extra)}` : '',
      shapeMismatches.length
        ? `wrong shape${shapeMismatches.length === 1 ? '' : 's'}: ${list(shapeMismatches.map((m) => `${m.key} is [${m.actual}], expected [${m.expected}]`))}`
        : '',
    ].filter(Boolean);
    super(`the checkpoint does not fit a ${architecture}: ${parts.join('; ')}`);
  }
}

/** What the keys and shapes of a checkpoint say, before any tensor is made. */
export type VisionCheckpointInfo =
  | {
      architecture: 'vit';
      options: Required<Omit<VitOptions, 'resnetRoot' | 'representationSize'>> & Pick<VitOptions, 'resnetRoot' | 'representationSize'>;
      naming: 'linen' | 'pre-linen';
      description: string;
      keyMap: ReadonlyMap<string, string>;
    }
  | {
      architecture: 'mixer';
      options: Required<MixerOptions>;
      naming: 'linen' | 'pre-linen';
      description: string;
      keyMap: ReadonlyMap<string, string>;
    };

const NUMBERED = /^(.*)_(\d+)$/;

/**
 * Flax's pre-Linen → Linen renaming on '/'-paths: at every level of the tree, the children named `<kind>_<n>` are
 * renumbered 0, 1, 2, … per kind in increasing n (pre-Linen counted all submodules of a module together, Linen
 * counts per kind). Returns the new name of every key (unchanged keys map to themselves).
 */
export function linenKeyMap(keys: readonly string[]): Map<string, string> {
  // Children of each parent path, and the renaming at each level.
  const children = new Map<string, Set<string>>();
  for (const key of keys) {
    const parts = key.split('/');
    for (let i = 0; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (!children.has(parent)) children.set(parent, new Set());
      children.get(parent)!.add(parts[i]!);
    }
  }
  const rename = new Map<string, Map<string, string>>();
  for (const [parent, names] of children) {
    const groups = new Map<string, { name: string; n: number }[]>();
    for (const name of names) {
      const m = NUMBERED.exec(name);
      if (!m) continue;
      if (!groups.has(m[1]!)) groups.set(m[1]!, []);
      groups.get(m[1]!)!.push({ name, n: Number(m[2]) });
    }
    const map = new Map<string, string>();
    for (const [kind, list] of groups) {
      list.sort((a, b) => a.n - b.n);
      list.forEach((e, i) => map.set(e.name, `${kind}_${i}`));
    }
    rename.set(parent, map);
  }
  const out = new Map<string, string>();
  for (const key of keys) {
    const parts = key.split('/');
    const renamed = parts.map((p, i) => rename.get(parts.slice(0, i).join('/'))?.get(p) ?? p);
    out.set(key, renamed.join('/'));
  }
  return out;
}

/** GroupNorm scale and bias are [1, 1, 1, C] in some checkpoints (Flax issue 1721): their squeezed shape. */
function squeezeGroupNorm(key: string, shape: readonly number[]): number[] {
  if (/(^|\/)gn(\d+|_root|_proj)\/(scale|bias)$/.test(key) && shape.length > 1 && shape.slice(0, -1).every((d) => d === 1))
    return [shape[shape.length - 1]!];
  return [...shape];
}

const slash = (name: string) => name.replaceAll('.', '/');

function compare(
  architecture: string,
  specs: readonly ParamSpec[],
  shapes: ReadonlyMap<string, number[]>,
  original: ReadonlyMap<string, string>,
  naming: 'linen' | 'pre-linen',
): void {
  const expected = new Map(specs.map((s) => [slash(s.name), s.shape]));
  const missing = [...expected.keys()].filter((k) => !shapes.has(k));
  const extra = [...shapes.keys()].filter((k) => !expected.has(k)).map((k) => original.get(k) ?? k);
  const mismatches: ShapeMismatch[] = [];
  for (const [key, shape] of expected) {
    const actual = shapes.get(key);
    if (actual && (actual.length !== shape.length || actual.some((d, i) => d !== shape[i]))) {
      mismatches.push({ key: original.get(key) ?? key, expected: [...shape], actual });
    }
  }
  if (missing.length || extra.length || mismatches.length) throw new CheckpointKeysError(architecture, missing, extra, mismatches, naming);
}

function need(shapes: ReadonlyMap<string, number[]>, architecture: string, keys: readonly string[], rank: number[]): number[][] {
  const missing = keys.filter((k) => !shapes.has(k));
  if (missing.length) throw new CheckpointKeysError(architecture, missing, [], []);
  return keys.map((k, i) => {
    const s = shapes.get(k)!;
    if (s.length !== rank[i]) throw new CheckpointFormatError(`checkpoint key ${k} has shape [${s}], expected an array of rank ${rank[i]}`);
    return s;
  });
}

/**
 * Reads the architecture (ViT, with or without a ResNet root, or MLP-Mixer), its sizes and the key naming from a
 * checkpoint's keys and shapes, and checks that every key the architecture needs is there with the right shape
 * and nothing else is. Throws `CheckpointKeysError` (missing / extra keys, wrong shapes) or `CheckpointFormatError`
 * (not a ViT or Mixer checkpoint; an unsupported variant).
 */
export function inspectVisionCheckpoint(shapesByKey: Readonly<Record<string, readonly number[]>>): VisionCheckpointInfo {
  const rawKeys = Object.keys(shapesByKey);
  const keyMap = linenKeyMap(rawKeys);
  const naming = [...keyMap].some(([a, b]) => a !== b) ? 'pre-linen' : 'linen';
  const shapes = new Map<string, number[]>();
  const original = new Map<string, string>();
  for (const k of rawKeys) {
    const key = keyMap.get(k)!;
    shapes.set(key, squeezeGroupNorm(key, shapesByKey[k]!));
    original.set(key, k);
  }
  const keys = [...shapes.keys()];
  const isVit = keys.some((k) => k.startsWith('Transformer/') || k.startsWith('embedding/'));
  const isMixer = keys.some((k) => k.startsWith('MixerBlock_') || k.startsWith('stem/'));
  if (isVit === isMixer) {
    throw new CheckpointFormatError(
      isVit
        ? 'the checkpoint has both ViT (Transformer/, embedding/) and Mixer (MixerBlock_*, stem/) keys'
        : `the checkpoint is neither a ViT (Transformer/…, embedding/…) nor an MLP-Mixer (MixerBlock_*/…, stem/…): its keys start ${[...new Set(keys.map((k) => k.split('/')[0]))].slice(0, 8).join(', ')}`,
    );
  }
  if (isVit) {
    if (keys.some((k) => /^block\d+\//.test(k))) {
      throw new CheckpointFormatError(
        'hybrid ViTs with ResNet stages (R26+, R50+…) are not supported, only the stage-less ResNet root of R+Ti/16',
      );
    }
    if (!shapes.has('cls'))
      throw new CheckpointFormatError("the ViT checkpoint has no class token ('cls'): only the token classifier is supported");
    const arch = 'ViT';
    const [emb, pos, q, mlp] = need(
      shapes,
      arch,
      [
        'embedding/kernel',
        'Transformer/posembed_input/pos_embedding',
        'Transformer/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel',
        'Transformer/encoderblock_0/MlpBlock_0/Dense_0/kernel',
      ],
      [4, 3, 3, 2],
    );
    const depth = new Set(keys.map((k) => /^Transformer\/encoderblock_(\d+)\//.exec(k)?.[1]).filter((v) => v !== undefined)).size;
    const root = shapes.get('conv_root/kernel');
    const grid = Math.round(Math.sqrt(pos![1]! - 1));
    if (grid * grid + 1 !== pos![1])
      throw new CheckpointFormatError(`the position embedding has ${pos![1]} tokens, not a square grid plus the class token`);
    const patch = emb![0]!;
    const head = shapes.get('head/kernel');
    const preLogits = shapes.get('pre_logits/kernel');
    const options = {
      imageSize: grid * patch * (root ? 4 : 1),
      patchSize: patch,
      hiddenSize: emb![3]!,
      depth,
      heads: q![1]!,
      mlpDim: mlp![1]!,
      numClasses: head ? head[head.length - 1]! : 0,
      representationSize: preLogits ? preLogits[preLogits.length - 1]! : null,
      inChannels: root ? root[2]! : emb![2]!,
      resnetRoot: root ? { width: root[3]! } : null,
    };
    let model: VisionTransformer;
    try {
      model = new VisionTransformer(options);
    } catch (error) {
      throw new CheckpointFormatError(`the checkpoint's sizes do not make a ViT: ${(error as Error).message}`, { cause: error });
    }
    compare(arch, model.paramSpecs, shapes, original, naming);
    const description =
      `ViT${root ? ` with a ResNet root (width ${root[3]})` : ''}: ${depth} blocks, width ${options.hiddenSize}, ${options.heads} heads, MLP ${options.mlpDim}, ` +
      `${patch}×${patch} patches, ${options.imageSize}×${options.imageSize} input, ${options.numClasses ? `${options.numClasses} classes` : 'no head'}`;
    return { architecture: 'vit', options, naming, description, keyMap };
  }
  const arch = 'MLP-Mixer';
  const [stem, tok, ch] = need(
    shapes,
    arch,
    ['stem/kernel', 'MixerBlock_0/token_mixing/Dense_0/kernel', 'MixerBlock_0/channel_mixing/Dense_0/kernel'],
    [4, 2, 2],
  );
  const depth = new Set(keys.map((k) => /^MixerBlock_(\d+)\//.exec(k)?.[1]).filter((v) => v !== undefined)).size;
  const tokens = tok![0]!;
  const grid = Math.round(Math.sqrt(tokens));
  if (grid * grid !== tokens) throw new CheckpointFormatError(`the token-mixing MLP mixes ${tokens} tokens, not a square grid of patches`);
  const head = shapes.get('head/kernel');
  const options: Required<MixerOptions> = {
    imageSize: grid * stem![0]!,
    patchSize: stem![0]!,
    hiddenDim: stem![3]!,
    depth,
    tokensMlpDim: tok![1]!,
    channelsMlpDim: ch![1]!,
    numClasses: head ? head[head.length - 1]! : 0,
    inChannels: stem![2]!,
  };
  let model: MlpMixer;
  try {
    model = new MlpMixer(options);
  } catch (error) {
    throw new CheckpointFormatError(`the checkpoint's sizes do not make an MLP-Mixer: ${(error as Error).message}`, { cause: error });
  }
  compare(arch, model.paramSpecs, shapes, original, naming);
  const description =
    `MLP-Mixer: ${depth} blocks, width ${options.hiddenDim}, token MLP ${options.tokensMlpDim}, channel MLP ${options.channelsMlpDim}, ` +
    `${options.patchSize}×${options.patchSize} patches, ${options.imageSize}×${options.imageSize} input, ${options.numClasses ? `${options.numClasses} classes` : 'no head'}`;
  return { architecture: 'mixer', options, naming, description, keyMap };
}

/** A model built from a checkpoint and its parameters. */
export type VisionCheckpoint = ({ architecture: 'vit'; model: VisionTransformer } | { architecture: 'mixer'; model: MlpMixer }) & {
  /** One tf.Variable per parameter (trainable only with `trainable: true`). */
  params: Params;
  naming: 'linen' | 'pre-linen';
  /** One line: architecture and sizes. */
  description: string;
};

/**
 * Builds the ViT or MLP-Mixer a checkpoint's arrays describe and its parameters (float32 variables named like the
 * model's `paramSpecs`). Checks as {@link inspectVisionCheckpoint}, and that each array holds as many values as its
 * shape says. The variables are the caller's to dispose (`disposeState(params)`).
 */
export function visionCheckpoint(arrays: CheckpointArrays, options: { trainable?: boolean } = {}): VisionCheckpoint {
  const shapes: Record<string, readonly number[]> = {};
  for (const [key, a] of Object.entries(arrays)) {
    const size = a.shape.reduce((x, y) => x * y, 1);
    if (!(a.data instanceof Float32Array) || a.data.length !== size) {
      throw new CheckpointFormatError(
        `checkpoint array ${key}: shape [${a.shape}] needs ${size} float32 values, got ${a.data?.length ?? 'none'}`,
      );
    }
    shapes[key] = a.shape;
  }
  const info = inspectVisionCheckpoint(shapes);
  const model = info.architecture === 'vit' ? new VisionTransformer(info.options) : new MlpMixer(info.options);
  const byName = new Map<string, string>();
  for (const [raw, renamed] of info.keyMap) byName.set(renamed, raw);
  const params: Params = {};
  try {
    for (const spec of model.paramSpecs) {
      const raw = byName.get(slash(spec.name))!;
      const t = tf.tensor(arrays[raw]!.data, spec.shape as number[], 'float32');
      params[spec.name] = tf.variable(t, options.trainable ?? false);
      t.dispose();
    }
  } catch (error) {
    for (const v of Object.values(params)) v.dispose();
    throw error;
  }
  const common = { params, naming: info.naming, description: info.description };
  return info.architecture === 'vit'
    ? { architecture: 'vit', model: model as VisionTransformer, ...common }
    : { architecture: 'mixer', model: model as MlpMixer, ...common };
}
