/**
 * BERT weights from a Hugging Face checkpoint (the arrays of `model.safetensors` or of a converted `.bin`, e.g. via
 * `@samrank/data`'s `readSafetensors`): PyTorch names (`bert.encoder.layer.0.attention.self.query.weight`, with or
 * without the `bert.` prefix; `LayerNorm.weight`/`bias` or the older `gamma`/`beta`) become the Flax names of
 * {@link BertEncoder}, and PyTorch's [out, in] Linear weights are transposed to [in, out]. The pooler, the
 * pre-training heads (`cls.*`) and `position_ids` are not part of the encoder and are left out.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type BertEncoder, type BertOptions, bert } from './bert.js';
import { CheckpointFormatError } from './errors.js';
import type { Params } from './types.js';
import { type CheckpointArrays, CheckpointKeysError, type ShapeMismatch } from './vision-checkpoint.js';

/** Keys of a Hugging Face BERT checkpoint that are not encoder weights. */
const NOT_ENCODER = /^(bert\.)?(pooler\.|embeddings\.position_ids$)|^cls\./;

/** The Flax name of a PyTorch BERT key (prefix dropped), and whether its array is a Linear weight to transpose. */
function flaxName(key: string): { name: string; transpose: boolean } | null {
  const k = key.replace(/^bert\./, '');
  const embedding = /^embeddings\.(word|position|token_type)_embeddings\.weight$/.exec(k);
  if (embedding) return { name: `embeddings.${embedding[1]}_embeddings.embedding`, transpose: false };
  const norm = /^(.*LayerNorm)\.(weight|gamma|bias|beta)$/.exec(k);
  if (norm) return { name: `${norm[1]}.${norm[2] === 'weight' || norm[2] === 'gamma' ? 'scale' : 'bias'}`, transpose: false };
  const linear = /^(encoder\.layer\.\d+\..*)\.(weight|bias)$/.exec(k);
  if (linear) return { name: `${linear[1]}.${linear[2] === 'weight' ? 'kernel' : 'bias'}`, transpose: linear[2] === 'weight' };
  return null;
}

/** A BERT encoder built from a checkpoint, with its parameters (variables, trainable unless asked otherwise). */
export interface BertCheckpoint {
  model: BertEncoder;
  params: Params;
  /** Keys of the checkpoint left out (pooler, pre-training heads, position ids). */
  ignored: string[];
}

/**
 * Builds a {@link BertEncoder} from Hugging Face BERT arrays. Sizes are read off the shapes; the number of heads is
 * not stored in the weights, so it defaults to hidden size / 64 (every published BERT) unless `options.heads` says
 * otherwise. Missing, unexpected or mis-shaped keys throw one `CheckpointKeysError` naming them.
 */
export function bertCheckpoint(
  arrays: CheckpointArrays,
  options: Pick<BertOptions, 'heads' | 'padId' | 'pooling'> & { trainable?: boolean } = {},
): BertCheckpoint {
  const renamed = new Map<string, { key: string; transpose: boolean }>();
  const ignored: string[] = [];
  const extra: string[] = [];
  for (const key of Object.keys(arrays)) {
    if (NOT_ENCODER.test(key)) {
      ignored.push(key);
      continue;
    }
    const flax = flaxName(key);
    if (flax) renamed.set(flax.name, { key, transpose: flax.transpose });
    else extra.push(key);
  }
  const shapeOf = (name: string) => {
    const found = renamed.get(name);
    return found ? arrays[found.key]!.shape : undefined;
  };
  const words = shapeOf('embeddings.word_embeddings.embedding');
  const positions = shapeOf('embeddings.position_embeddings.embedding');
  const types = shapeOf('embeddings.token_type_embeddings.embedding');
  const inner = shapeOf('encoder.layer.0.intermediate.dense.kernel');
  if (!words || !positions || !types || !inner || words.length !== 2) {
    throw new CheckpointFormatError(
      'not a BERT checkpoint: it needs embeddings.word_embeddings.weight, position_embeddings, token_type_embeddings and encoder.layer.0.intermediate.dense.weight',
    );
  }
  const hiddenSize = words[1]!;
  let depth = 0;
  for (const name of renamed.keys()) {
    const m = /^encoder\.layer\.(\d+)\./.exec(name);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  const model = bert({
    vocabSize: words[0]!,
    hiddenSize,
    depth,
    heads: options.heads ?? Math.max(1, Math.round(hiddenSize / 64)),
    intermediateSize: inner[0]!,
    maxPositions: positions[0]!,
    typeVocabSize: types[0]!,
    ...(options.padId === undefined ? {} : { padId: options.padId }),
    ...(options.pooling === undefined ? {} : { pooling: options.pooling }),
  });
  const missing: string[] = [];
  const mismatches: ShapeMismatch[] = [];
  for (const spec of model.paramSpecs) {
    const found = renamed.get(spec.name);
    if (!found) {
      missing.push(spec.name);
      continue;
    }
    const shape = arrays[found.key]!.shape;
    const actual = found.transpose ? [...shape].reverse() : [...shape];
    if (actual.length !== spec.shape.length || actual.some((d, i) => d !== spec.shape[i])) {
      mismatches.push({ key: found.key, expected: found.transpose ? [...spec.shape].reverse() : [...spec.shape], actual: [...shape] });
    }
  }
  const wanted = new Set(model.paramSpecs.map((spec) => spec.name));
  for (const [name, { key }] of renamed) if (!wanted.has(name)) extra.push(key);
  if (missing.length || extra.length || mismatches.length) throw new CheckpointKeysError('BERT', missing, extra, mismatches);
  const params: Params = {};
  try {
    for (const spec of model.paramSpecs) {
      const { key, transpose } = renamed.get(spec.name)!;
      const { data, shape } = arrays[key]!;
      const value = tf.tidy(() => {
        const t = tf.tensor(data, [...shape], 'float32');
        return transpose ? tf.transpose(t) : t;
      });
      params[spec.name] = tf.variable(value, options.trainable ?? true);
      value.dispose();
    }
  } catch (error) {
    for (const v of Object.values(params)) v.dispose();
    throw error;
  }
  return { model, params, ignored };
}
