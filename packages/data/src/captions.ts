/**
 * Image–caption pairs made from Fashion-MNIST, a small offline stand-in for the paper's contrastive image–text
 * setting (MS-COCO captions, docs/paper-notes.md §6.5). A class name alone would give ten distinct texts, so a
 * batch of 128 pairs would hold about thirteen equally good matches per caption and in-batch retrieval would say
 * little; each caption therefore also describes three measured properties of its own image (ink brightness, ink
 * area, outline aspect), each cut per class into equally common values, which gives 180 distinguishable
 * descriptions. Templates, name phrasings and synonyms vary the wording as different annotators would.
 */
import { createRng } from '@samrank/core';
import { DatasetFormatError } from './errors.js';
import type { ImageSet } from './image-set.js';
import { BERT_SPECIAL_TOKENS, wordPieceTokenizerJson } from './text-tokenizer.js';

/** Measured properties of one image, each a per-class quantile bucket (0 = lowest). */
export interface CaptionAttributes {
  /** Class label 0..9 (order of `FASHION_MNIST_CLASSES`). */
  label: number;
  /** Mean ink intensity: 0 dark, 1 grey, 2 light. */
  brightness: 0 | 1 | 2;
  /** Ink area: 0 small, 1 medium, 2 large. */
  size: 0 | 1 | 2;
  /** Width / height of the ink: 0 narrow, 1 wide. */
  shape: 0 | 1;
}

/**
 * Cut points of the attribute buckets, per class: `brightness[c]` and `size[c]` are `[lo, hi]` (a value below `lo`
 * is bucket 0, below `hi` bucket 1, else 2), `shape[c]` the median (below it: narrow). Computed on a training set
 * and passed along so that test images are bucketed by the same cuts.
 */
export interface AttributeThresholds {
  brightness: number[][];
  size: number[][];
  shape: number[];
}

const NUM_CLASSES = 10;

/**
 * A pixel counts as ink above this level. Fashion-MNIST's background is exactly 0 but garments fade out through
 * faint anti-aliased edges; leaving those out keeps area and bounding box from being decided by a few stray pixels.
 */
const INK_LEVEL = 32;

/** Raw (unbucketed) measurements of one image. */
interface Measurements {
  brightness: number;
  size: number;
  shape: number;
}

function measure(pixels: Uint8Array, height: number, width: number): Measurements {
  let sum = 0;
  let count = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = pixels[y * width + x]!;
      if (v <= INK_LEVEL) continue;
      sum += v;
      count++;
      sx += x;
      sy += y;
      sxx += x * x;
      syy += y * y;
    }
  }
  // An image without ink is dark, small and square; it can only occur in made-up data.
  if (count === 0) return { brightness: 0, size: 0, shape: 1 };
  // Each ink pixel counts as a unit square (spread 1/12 of its own), so a solid w×h rectangle measures exactly w/h
  // and a single row or column stays finite.
  const varX = Math.max(0, sxx / count - (sx / count) ** 2) + 1 / 12;
  const varY = Math.max(0, syy / count - (sy / count) ** 2) + 1 / 12;
  return { brightness: sum / count, size: count, shape: Math.sqrt(varX / varY) };
}

/** The value at fraction `q` of the sorted values (the lower one: no interpolation, so cuts are observed values). */
function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function cutsOf(values: number[]): { tertiles: [number, number]; median: number } | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  return { tertiles: [quantile(sorted, 1 / 3), quantile(sorted, 2 / 3)], median: quantile(sorted, 1 / 2) };
}

function computeThresholds(measured: Measurements[], labels: ArrayLike<number>): AttributeThresholds {
  const perClass = Array.from({ length: NUM_CLASSES }, () => ({ brightness: [] as number[], size: [] as number[], shape: [] as number[] }));
  const pooled = { brightness: [] as number[], size: [] as number[], shape: [] as number[] };
  measured.forEach((m, i) => {
    const c = perClass[labels[i]!]!;
    for (const key of ['brightness', 'size', 'shape'] as const) {
      c[key].push(m[key]);
      pooled[key].push(m[key]);
    }
  });
  const thresholds: AttributeThresholds = { brightness: [], size: [], shape: [] };
  // A class absent from the reference set falls back to cuts over all classes, so its images still get buckets.
  const pooledCuts = {
    brightness: cutsOf(pooled.brightness),
    size: cutsOf(pooled.size),
    shape: cutsOf(pooled.shape),
  };
  for (const c of perClass) {
    const b = cutsOf(c.brightness) ?? pooledCuts.brightness;
    const s = cutsOf(c.size) ?? pooledCuts.size;
    const a = cutsOf(c.shape) ?? pooledCuts.shape;
    thresholds.brightness.push(b ? [...b.tertiles] : [0, 0]);
    thresholds.size.push(s ? [...s.tertiles] : [0, 0]);
    thresholds.shape.push(a ? a.median : 1);
  }
  return thresholds;
}

function checkThresholds(t: AttributeThresholds): void {
  const pairOk = (p: unknown) =>
    Array.isArray(p) && p.length === 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]) && (p[0] as number) <= (p[1] as number);
  for (const key of ['brightness', 'size'] as const) {
    const rows = t[key];
    if (!Array.isArray(rows) || rows.length !== NUM_CLASSES || !rows.every(pairOk)) {
      throw new RangeError(`thresholds.${key} must hold ${NUM_CLASSES} pairs [lo, hi] of finite numbers with lo ≤ hi`);
    }
  }
  if (!Array.isArray(t.shape) || t.shape.length !== NUM_CLASSES || !t.shape.every((v) => Number.isFinite(v))) {
    throw new RangeError(`thresholds.shape must hold ${NUM_CLASSES} finite numbers`);
  }
}

function checkLabel(label: number, where: string): void {
  if (!Number.isInteger(label) || label < 0 || label >= NUM_CLASSES) {
    throw new RangeError(`${where}: label ${label} is outside 0..${NUM_CLASSES - 1}`);
  }
}

const tertile = (v: number, [lo, hi]: number[]): 0 | 1 | 2 => (v < lo! ? 0 : v < hi! ? 1 : 2);

/**
 * Per-image attributes of a 1-channel image set (Fashion-MNIST, 28×28). Ink is every pixel above a fixed level
 * (32 of 255); brightness is the mean ink intensity, size the ink area in pixels, shape the ink's width / height
 * as the ratio of the standard deviations of its columns and rows (each pixel a unit square, so a solid w×h block
 * measures exactly w/h). The bounding box's own ratio takes only a few values on a 28-pixel grid: so many garments
 * fill the full width or height that ties at the median left up to 80 % of a class "wide"; the spread ratio orders
 * the same shapes without ties. Each attribute is bucketed at per-class quantiles of the reference set
 * (`thresholds`, by default computed from `set` itself and returned): tertiles for brightness and size, the median
 * for shape, so every value is about equally common in every class and the attributes carry information the label
 * does not.
 */
export function fashionMnistAttributes(
  set: ImageSet,
  thresholds?: AttributeThresholds,
): { attributes: CaptionAttributes[]; thresholds: AttributeThresholds } {
  if (set.channels !== 1) {
    throw new DatasetFormatError(
      'image set',
      `has ${set.channels} channels; caption attributes are measured on 1-channel (Fashion-MNIST) images`,
    );
  }
  const pixelsPerImage = set.height * set.width;
  if (set.images.length < set.count * pixelsPerImage || set.labels.length < set.count) {
    throw new DatasetFormatError('image set', `holds fewer pixels or labels than its ${set.count} images of ${set.height}x${set.width}`);
  }
  const measured: Measurements[] = [];
  for (let i = 0; i < set.count; i++) {
    checkLabel(set.labels[i]!, `image ${i}`);
    measured.push(measure(set.images.subarray(i * pixelsPerImage, (i + 1) * pixelsPerImage), set.height, set.width));
  }
  if (thresholds) checkThresholds(thresholds);
  const cuts = thresholds ?? computeThresholds(measured, set.labels);
  const attributes = measured.map((m, i): CaptionAttributes => {
    const label = set.labels[i]!;
    return {
      label,
      brightness: tertile(m.brightness, cuts.brightness[label]!),
      size: tertile(m.size, cuts.size[label]!),
      shape: m.shape < cuts.shape[label]! ? 0 : 1,
    };
  });
  return { attributes, thresholds: cuts };
}

/**
 * Ways to name each class, in label order of `FASHION_MNIST_CLASSES`. Every phrasing is a singular count noun
 * (trousers come as a "pair"), so the templates' "a …" reads correctly whichever one is drawn.
 */
export const FASHION_MNIST_CAPTION_NAMES: readonly (readonly string[])[] = [
  ['T-shirt', 'top', 'tee'],
  ['pair of trousers', 'pair of pants', 'pair of slacks'],
  ['pullover', 'sweater', 'jumper'],
  ['dress', 'frock', 'gown'],
  ['coat', 'jacket', 'overcoat'],
  ['sandal', 'open-toed shoe', 'strappy sandal'],
  ['shirt', 'button-up shirt', 'blouse'],
  ['sneaker', 'trainer', 'running shoe'],
  ['bag', 'handbag', 'purse'],
  ['ankle boot', 'boot', 'short boot'],
];

/** Synonyms for each attribute value, indexed by the bucket. Lists of one attribute never share a word. */
const ATTRIBUTE_WORDS = {
  brightness: [
    ['dark', 'dim'],
    ['grey', 'mid-grey'],
    ['light', 'bright'],
  ],
  size: [
    ['small', 'compact'],
    ['medium-sized', 'mid-sized'],
    ['large', 'big'],
  ],
  shape: [
    ['narrow', 'slim'],
    ['wide', 'broad'],
  ],
} as const;

/**
 * Caption templates; each names the garment and all three attributes, in differing order and phrasing. Every
 * attribute word starts with a consonant, so "a {…}" needs no article agreement.
 */
export const CAPTION_TEMPLATES: readonly string[] = [
  'a photo of a {size}, {brightness} {name} with a {shape} outline.',
  '{brightness} {name}, {size} and {shape}.',
  'a {shape}, {size} {name} in {brightness} tones.',
  'this {name} is {size}, {shape} and {brightness}.',
  'a {brightness} picture of a {size} {name} that looks {shape}.',
  '{size} {name}: {brightness} and {shape}.',
  'an image showing a {brightness}, {shape} {name}; it is {size}.',
  'a {size} {name}, {shape} in outline and {brightness} in colour.',
];

const PLACEHOLDER = /\{(name|brightness|size|shape)\}/g;

/** Upper-cases the first letter, as sentence-initial words of real captions are. */
const capitalize = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

/**
 * `count` (default 5, at most the number of templates) different captions of one image, deterministic in
 * `(seed, imageIndex)`: the templates are distinct, and each caption draws its class phrasing and attribute synonyms
 * from the same seeded stream. The draws do not depend on the attributes, so two images with the same index and
 * seed but different attributes get the same templates and differ exactly in the words. Caption 0 is the one
 * evaluation uses.
 */
export function fashionMnistCaptions(attributes: CaptionAttributes, imageIndex: number, seed: number, count = 5): string[] {
  checkLabel(attributes.label, 'fashionMnistCaptions');
  if (!Number.isInteger(count) || count < 1 || count > CAPTION_TEMPLATES.length) {
    throw new RangeError(`count must be an integer in 1..${CAPTION_TEMPLATES.length} (the number of templates), got ${count}`);
  }
  if (!Number.isInteger(imageIndex) || imageIndex < 0) throw new RangeError(`imageIndex must be a non-negative integer, got ${imageIndex}`);
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  const checks: [keyof typeof ATTRIBUTE_WORDS, number][] = [
    ['brightness', attributes.brightness],
    ['size', attributes.size],
    ['shape', attributes.shape],
  ];
  for (const [key, value] of checks) {
    if (!Number.isInteger(value) || value < 0 || value >= ATTRIBUTE_WORDS[key].length) {
      throw new RangeError(`${key} must be an integer in 0..${ATTRIBUTE_WORDS[key].length - 1}, got ${value}`);
    }
  }
  const rng = createRng(seed).fork(`fashion-mnist-caption:${imageIndex}`);
  // Uniform floats mapped to an index use one draw whatever the list length, which keeps streams aligned.
  const pick = <T>(options: readonly T[]): T => options[Math.floor(rng.next() * options.length)]!;
  const order = rng.permutation(CAPTION_TEMPLATES.length);
  const captions: string[] = [];
  for (let k = 0; k < count; k++) {
    const fill = {
      name: pick(FASHION_MNIST_CAPTION_NAMES[attributes.label]!),
      brightness: pick(ATTRIBUTE_WORDS.brightness[attributes.brightness]),
      size: pick(ATTRIBUTE_WORDS.size[attributes.size]),
      shape: pick(ATTRIBUTE_WORDS.shape[attributes.shape]),
    };
    const template = CAPTION_TEMPLATES[order[k]!]!;
    captions.push(capitalize(template.replace(PLACEHOLDER, (_, key: keyof typeof fill) => fill[key])));
  }
  return captions;
}

/**
 * Splits text as BERT's pre-tokenizer does for ASCII: at whitespace, and every punctuation character on its own
 * (so "T-shirt" gives T, -, shirt).
 */
function preTokenize(text: string): string[] {
  return text.match(/[A-Za-z0-9]+|[^\sA-Za-z0-9]/g) ?? [];
}

/** Every word and punctuation token the caption generator can emit (as BERT's pre-tokenizer splits them), sorted. */
export function captionWords(): string[] {
  const words = new Set<string>();
  const fills: Record<string, readonly string[]> = {
    name: FASHION_MNIST_CAPTION_NAMES.flat(),
    brightness: ATTRIBUTE_WORDS.brightness.flat(),
    size: ATTRIBUTE_WORDS.size.flat(),
    shape: ATTRIBUTE_WORDS.shape.flat(),
  };
  for (const options of Object.values(fills)) for (const option of options) for (const w of preTokenize(option)) words.add(w);
  for (const template of CAPTION_TEMPLATES) {
    // The first word is capitalised: a literal one (whose lower-case form need not occur at all), or whatever
    // fills a leading placeholder.
    const lead = /^\{(name|brightness|size|shape)\}/.exec(template);
    for (const w of preTokenize(capitalize(template).replace(PLACEHOLDER, ' '))) words.add(w);
    for (const first of lead ? fills[lead[1]!]! : []) words.add(preTokenize(capitalize(first))[0]!);
  }
  return [...words].sort();
}

/**
 * A cased BERT-style tokenizer for the generated captions, in Hugging Face's `tokenizer.json` layout: WordPiece over
 * `[PAD]`=0, `[UNK]`=1, `[CLS]`=2, `[SEP]`=3, `[MASK]`=4 and then `captionWords()`, the `BertNormalizer` without
 * lowercasing, `BertPreTokenizer`, and `[CLS] $A [SEP]` around each text, plus the matching `tokenizer_config.json`.
 * Every caption word is a whole vocabulary entry, so no `##` pieces are needed and no caption meets `[UNK]`.
 */
export function captionTokenizerFiles(): { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> } {
  const vocabulary = [...BERT_SPECIAL_TOKENS, ...captionWords()];
  const tokenizerJson = wordPieceTokenizerJson(vocabulary, { lowercase: false });
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: false,
    strip_accents: null,
    tokenize_chinese_chars: true,
    clean_up_tokenization_spaces: true,
    model_max_length: 32,
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    mask_token: '[MASK]',
  };
  return { tokenizerJson, tokenizerConfig };
}
