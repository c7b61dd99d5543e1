/**
 * The pairs a contrastive sweep trains on, tokenized once: Fashion-MNIST images with generated captions (the small
 * presets, offline) or MS-COCO with Karpathy's splits (the paper preset), and the pretrained towers when given.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  DatasetNotFoundError,
  KARPATHY_SPLIT_FILE,
  SafetensorsFormatError,
  TextTokenizer,
  captionTokenizerFiles,
  decodeSafetensors,
  defaultDataDir,
  downloadTextModel,
  downloadVisionCheckpoint,
  fashionMnistAttributes,
  fashionMnistCaptions,
  hashFileSync,
  headImages,
  isTextModelName,
  isVisionCheckpointName,
  loadCocoImages,
  loadImageDataset,
  readKarpathySplits,
  readNpz,
} from '@samrank/data';
import { CheckpointFormatError, bertCheckpoint, disposeState, visionCheckpoint } from '@samrank/models';
import type * as tf from '@tensorflow/tfjs-core';
import { ExperimentConfigError } from '../errors.js';
import type { DataSourceRecord } from '../runner/definition.js';
import type { ContrastiveConfig } from './config.js';
import type { ContrastiveData, PairSplit } from './job.js';

/** Captions per training image: Fashion-MNIST's generator makes five, as COCO has. */
export const CAPTIONS_PER_IMAGE = 5;
/** Seeds of the caption generator for the training and test images (fixed: every run of a sweep sees the same texts). */
const CAPTION_SEEDS = { train: 0, test: 1 } as const;

/** What prepare returns besides the pairs. */
export interface LoadedPairs {
  data: ContrastiveData;
  config: ContrastiveConfig;
  sources: DataSourceRecord[];
  notes: string[];
}

/** Where to look and what to fetch. */
export interface PairLocation {
  dataDir?: string;
  download?: boolean;
  log: (line: string) => void;
}

function tokenize(
  tokenizer: TextTokenizer,
  captions: (i: number) => string[],
  count: number,
  perImage: number,
  maxTokens: number,
): Int32Array {
  const out = new Int32Array(count * perImage * maxTokens);
  for (let i = 0; i < count; i++) out.set(tokenizer.encodeBatch(captions(i), maxTokens).ids, i * perImage * maxTokens);
  return out;
}

function stepsPerEpoch(config: ContrastiveConfig, trainCount: number): number {
  return Math.floor(trainCount / config.batchSize);
}

/** Fashion-MNIST images (scaled to [0, 1]) with captions from their class and measured attributes. */
async function fashionMnistPairs(config: ContrastiveConfig, where: PairLocation): Promise<LoadedPairs> {
  const ds = await loadImageDataset('fashion-mnist', {
    ...(where.dataDir ? { dataDir: where.dataDir } : {}),
    download: where.download ?? false,
  });
  const train = headImages(ds.train, Math.min(config.trainExamples ?? ds.train.count, ds.train.count));
  const test = ds.test;
  if (train.height !== config.image.imageSize || config.image.inChannels !== 1) {
    throw new ExperimentConfigError(
      `the image tower takes ${config.image.imageSize}-pixel ${config.image.inChannels}-channel images; Fashion-MNIST's are ${train.height}-pixel grey`,
    );
  }
  // Attribute cut points come from the training images and bucket the test images the same way.
  const { attributes, thresholds } = fashionMnistAttributes(train);
  const testAttributes = fashionMnistAttributes(test, thresholds).attributes;
  const files = captionTokenizerFiles();
  const tokenizer = new TextTokenizer(files.tokenizerJson, files.tokenizerConfig, 'the generated caption vocabulary');
  const vocab = (files.tokenizerJson['model'] as { vocab: Record<string, number> }).vocab;
  where.log(`tokenizing ${train.count} × ${CAPTIONS_PER_IMAGE} training and ${test.count} test captions`);
  const trainTokens = tokenize(
    tokenizer,
    (i) => fashionMnistCaptions(attributes[i]!, i, CAPTION_SEEDS.train, CAPTIONS_PER_IMAGE),
    train.count,
    CAPTIONS_PER_IMAGE,
    config.maxTokens,
  );
  const testTokens = tokenize(
    tokenizer,
    (i) => fashionMnistCaptions(testAttributes[i]!, i, CAPTION_SEEDS.test, 1),
    test.count,
    1,
    config.maxTokens,
  );
  const pixels = train.height * train.width;
  const split = (set: typeof train, tokens: Int32Array, perImage: number): PairSplit => ({
    count: set.count,
    captionsPerImage: perImage,
    tokens,
    images(indices) {
      const out = new Float32Array(indices.length * pixels);
      for (let k = 0; k < indices.length; k++) {
        const from = indices[k]! * pixels;
        for (let p = 0; p < pixels; p++) out[k * pixels + p] = set.images[from + p]! / 255;
      }
      return out;
    },
  });
  const vocabDigest = createHash('sha256').update(JSON.stringify(files.tokenizerJson)).digest('hex');
  return {
    data: {
      train: split(train, trainTokens, CAPTIONS_PER_IMAGE),
      test: split(test, testTokens, 1),
      imageShape: [train.height, train.width, 1],
      vocabSize: Object.keys(vocab).length,
      padId: tokenizer.padId,
      stepsPerEpoch: stepsPerEpoch(config, train.count),
      pretrained: new Map(),
    },
    config,
    sources: [
      { name: 'fashion-mnist', location: ds.source ?? 'unknown', ...(ds.digest ? { sha256: ds.digest } : {}) },
      { name: 'captions', location: 'generated (class names, measured attributes and templates of @samrank/data)', sha256: vocabDigest },
    ],
    notes: [],
  };
}

/** A Hugging Face BERT folder's tokenizer and weights (`--text-model`). */
function textModelFiles(dir: string): { tokenizer: string; config: string; weights: string } {
  const files = {
    tokenizer: join(dir, 'tokenizer.json'),
    config: join(dir, 'tokenizer_config.json'),
    weights: join(dir, 'model.safetensors'),
  };
  const missing = Object.values(files).filter((f) => !existsSync(f));
  if (missing.length) {
    throw new DatasetNotFoundError(
      'the text model',
      missing,
      'Download tokenizer.json, tokenizer_config.json and model.safetensors of bert-base-cased from https://huggingface.co/bert-base-cased into that folder.',
    );
  }
  return files;
}

/** A file's bytes; a read failure is the safetensors reader's typed error, naming the file. */
function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new SafetensorsFormatError(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** The values of a checkpoint's variables, stored under `prefix.<name>` (the caller frees the variables). */
function takeValues(params: Record<string, tf.Tensor>, prefix: string, into: Map<string, { shape: number[]; values: Float32Array }>): void {
  for (const [name, v] of Object.entries(params))
    into.set(`${prefix}.${name}`, { shape: [...v.shape], values: v.dataSync() as Float32Array });
}

/** MS-COCO with Karpathy's splits under `<data dir>/coco`, the text model's tokenizer, and the pretrained towers. */
async function cocoPairs(config: ContrastiveConfig, where: PairLocation): Promise<LoadedPairs> {
  if (!config.textModel) {
    throw new DatasetNotFoundError(
      'the text model',
      ['--text-model'],
      'The MS-COCO setting needs a BERT folder (tokenizer.json, tokenizer_config.json, model.safetensors of bert-base-cased): pass --text-model <dir>.',
    );
  }
  const root = join(where.dataDir ?? defaultDataDir(), 'coco');
  const splitFile = join(root, KARPATHY_SPLIT_FILE);
  // One read of the ~140 MB split file for both splits and its digest.
  const coco = readKarpathySplits(splitFile, {
    train: config.trainExamples ?? Number.POSITIVE_INFINITY,
    test: Math.max(config.evalBatches * config.evalBatchSize, config.rankExamples),
  });
  const trainEntries = coco.splits.train!;
  const testEntries = coco.splits.test!;
  let textDir = resolve(config.textModel);
  if (isTextModelName(config.textModel)) {
    const got = await downloadTextModel(config.textModel, { download: Boolean(where.download) });
    if (got.downloaded.length) where.log(`downloaded ${got.downloaded.join(', ')} of ${config.textModel} -> ${got.path}`);
    textDir = got.path;
  }
  const text = textModelFiles(textDir);
  const tokenizer = TextTokenizer.fromFiles(text.tokenizer, text.config);
  const perImage = CAPTIONS_PER_IMAGE;
  // COCO images have five captions, a few have more: training draws among the first five, as the original.
  const captionsOf = (entries: typeof trainEntries, n: number) => (i: number) =>
    Array.from({ length: n }, (_, k) => entries[i]!.captions[k % entries[i]!.captions.length]!);
  where.log(`tokenizing ${trainEntries.length} training and ${testEntries.length} test images' captions`);
  const trainTokens = tokenize(tokenizer, captionsOf(trainEntries, perImage), trainEntries.length, perImage, config.maxTokens);
  const testTokens = tokenize(tokenizer, captionsOf(testEntries, 1), testEntries.length, 1, config.maxTokens);
  // The image size is the tower's, which a checkpoint may set (below): read it when images are loaded.
  let size = config.image.imageSize;
  const split = (entries: typeof trainEntries, tokens: Int32Array, n: number): PairSplit => ({
    count: entries.length,
    captionsPerImage: n,
    tokens,
    images: (indices) =>
      loadCocoImages(
        root,
        Array.from(indices, (i) => entries[i]!),
        size,
      ),
  });
  const pretrained = new Map<string, { shape: number[]; values: Float32Array }>();
  const sources: DataSourceRecord[] = [{ name: 'coco', location: root, sha256: coco.sha256 }];
  // Read once: the digest and the weights come from the same bytes (bert-base-cased is ~430 MB).
  const weights = readBytes(text.weights);
  sources.push({ name: 'text model', location: text.weights, sha256: createHash('sha256').update(weights).digest('hex') });
  const bertCk = bertCheckpoint(decodeSafetensors(weights, text.weights).arrays, { padId: tokenizer.padId, pooling: 'mean' });
  const textTower = bertCk.model.config;
  takeValues(bertCk.params, 'text', pretrained);
  disposeState(bertCk.params);
  let image = config.image;
  if (config.imageCheckpoint) {
    let path = config.imageCheckpoint;
    if (isVisionCheckpointName(path)) {
      const got = await downloadVisionCheckpoint(path, { download: Boolean(where.download) });
      if (got.downloaded) where.log(`downloaded ${got.url} -> ${got.path}`);
      path = got.path;
    }
    const ck = visionCheckpoint(readNpz(resolve(path)));
    if (ck.architecture !== 'vit') throw new CheckpointFormatError(`${path} is an MLP-Mixer; the image tower is a ViT`);
    const c = ck.model.config;
    image = {
      imageSize: c.imageSize,
      patchSize: c.patchSize,
      hiddenSize: c.hiddenSize,
      depth: c.depth,
      heads: c.heads,
      mlpDim: c.mlpDim,
      inChannels: c.inChannels,
      resnetRoot: c.resnetRoot?.width ?? null,
    };
    // The classifier of the ImageNet fine-tuning is not part of the tower (the paper's tower ends at the CLS token).
    const tower = Object.entries(ck.params).filter(([name]) => !name.startsWith('head.') && !name.startsWith('pre_logits.'));
    takeValues(Object.fromEntries(tower), 'image', pretrained);
    disposeState(ck.params);
    sources.push({ name: 'image checkpoint', location: resolve(path), sha256: hashFileSync(resolve(path)).sha256 });
  }
  size = image.imageSize;
  const resolved: ContrastiveConfig = {
    ...config,
    image,
    text: {
      hiddenSize: textTower.hiddenSize,
      depth: textTower.depth,
      heads: textTower.heads,
      intermediateSize: textTower.intermediateSize,
    },
    analysisLayers: config.analysisLayers.filter((l) => l <= image.depth),
  };
  return {
    data: {
      train: split(trainEntries, trainTokens, perImage),
      test: split(testEntries, testTokens, 1),
      imageShape: [size, size, 3],
      vocabSize: textTower.vocabSize,
      padId: tokenizer.padId,
      stepsPerEpoch: stepsPerEpoch(config, trainEntries.length),
      pretrained,
    },
    config: resolved,
    sources,
    notes: config.imageCheckpoint
      ? []
      : ['The image tower starts from random weights (no --image-checkpoint); the paper fine-tunes AugReg R+Ti/16.'],
  };
}

/** Loads the pairs of `config.data`. */
export function loadPairs(config: ContrastiveConfig, where: PairLocation): Promise<LoadedPairs> {
  return config.data === 'coco' ? cocoPairs(config, where) : fashionMnistPairs(config, where);
}
