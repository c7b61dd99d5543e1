import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@samrank/core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AttributeThresholds,
  CAPTION_TEMPLATES,
  type CaptionAttributes,
  captionTokenizerFiles,
  captionWords,
  FASHION_MNIST_CAPTION_NAMES,
  fashionMnistAttributes,
  fashionMnistCaptions,
} from './captions.js';
import { DatasetFormatError } from './errors.js';
import { DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, loadFashionMnist } from './fashion-mnist.js';
import type { ImageSet } from './image-set.js';
import { TextTokenizer } from './text-tokenizer.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-captions-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The words the captions must use for each bucket (the spec, written out independently of the module). */
const BRIGHTNESS = [
  ['dark', 'dim'],
  ['grey', 'mid-grey'],
  ['light', 'bright'],
];
const SIZE = [
  ['small', 'compact'],
  ['medium-sized', 'mid-sized'],
  ['large', 'big'],
];
const SHAPE = [
  ['narrow', 'slim'],
  ['wide', 'broad'],
];

const hasWord = (text: string, word: string) => new RegExp(`(^|[^A-Za-z-])${word}([^A-Za-z-]|$)`, 'i').test(text);

interface Block {
  label: number;
  value: number;
  top: number;
  left: number;
  h: number;
  w: number;
  /** Value of a one-pixel frame around the block (below the ink level in these tests). */
  halo?: number;
}

/** 28×28 one-channel images, each a solid block on black. */
function blockSet(blocks: Block[], size = 28): ImageSet {
  const images = new Uint8Array(blocks.length * size * size);
  blocks.forEach((b, i) => {
    const base = i * size * size;
    for (let y = b.top - 1; y <= b.top + b.h; y++) {
      for (let x = b.left - 1; x <= b.left + b.w; x++) {
        if (y < 0 || x < 0 || y >= size || x >= size) continue;
        const inside = y >= b.top && y < b.top + b.h && x >= b.left && x < b.left + b.w;
        if (inside) images[base + y * size + x] = b.value;
        else if (b.halo !== undefined) images[base + y * size + x] = b.halo;
      }
    }
  });
  return { images, labels: Int32Array.from(blocks.map((b) => b.label)), count: blocks.length, height: size, width: size, channels: 1 };
}

/** Garment-like random images: a patchy block of random extent and ink level, ten classes of `perClass` each. */
function randomSet(seed: number, perClass: number): ImageSet {
  const rng = createRng(seed);
  const count = perClass * 10;
  const images = new Uint8Array(count * 784);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 10;
    const h = 4 + rng.int(25);
    const w = 4 + rng.int(25);
    const top = rng.int(29 - h);
    const left = rng.int(29 - w);
    const fill = 0.5 + 0.5 * rng.next();
    const level = 60 + 190 * rng.next();
    for (let y = top; y < top + h; y++) {
      for (let x = left; x < left + w; x++) {
        if (rng.next() < fill) images[i * 784 + y * 28 + x] = Math.max(33, Math.min(255, Math.round(level + 20 * rng.normal())));
      }
    }
  }
  return { images, labels, count, height: 28, width: 28, channels: 1 };
}

function fractions(attributes: CaptionAttributes[], label: number, key: 'brightness' | 'size' | 'shape', values: number): number[] {
  const own = attributes.filter((a) => a.label === label);
  return Array.from({ length: values }, (_, v) => own.filter((a) => a[key] === v).length / own.length);
}

const ALL_ATTRIBUTES: CaptionAttributes[] = [];
for (let label = 0; label < 10; label++) {
  for (const brightness of [0, 1, 2] as const) {
    for (const size of [0, 1, 2] as const) {
      for (const shape of [0, 1] as const) ALL_ATTRIBUTES.push({ label, brightness, size, shape });
    }
  }
}

describe('fashionMnistAttributes', () => {
  it('buckets hand-made blocks by ink brightness, ink area and width/height, ignoring faint pixels', () => {
    const set = blockSet([
      { label: 0, value: 100, top: 2, left: 2, h: 4, w: 4 }, // dim, 16 px, square
      { label: 0, value: 200, top: 2, left: 2, h: 6, w: 6, halo: 30 }, // bright, 36 px (halo ≤ 32 is not ink), square
      { label: 0, value: 150, top: 10, left: 3, h: 2, w: 8 }, // mid, 16 px, 4:1 wide
      { label: 0, value: 150, top: 3, left: 10, h: 8, w: 2, halo: 32 }, // mid, 16 px, 1:4 narrow
      { label: 0, value: 255, top: 0, left: 0, h: 5, w: 5 }, // bright, 25 px, square
    ]);
    const thresholds: AttributeThresholds = {
      brightness: Array.from({ length: 10 }, () => [120, 180]),
      size: Array.from({ length: 10 }, () => [20, 30]),
      shape: Array.from({ length: 10 }, () => 1),
    };
    const { attributes, thresholds: used } = fashionMnistAttributes(set, thresholds);
    expect(used).toBe(thresholds);
    expect(attributes).toEqual([
      { label: 0, brightness: 0, size: 0, shape: 1 },
      { label: 0, brightness: 2, size: 2, shape: 1 },
      { label: 0, brightness: 1, size: 0, shape: 1 },
      { label: 0, brightness: 1, size: 0, shape: 0 },
      { label: 0, brightness: 2, size: 1, shape: 1 },
    ]);
    // A halo above the ink level does count: 6×6 plus its frame is an 8×8 block of 64 pixels, mean (36·200 + 28·40)/64.
    const haloed = blockSet([{ label: 0, value: 200, top: 2, left: 2, h: 6, w: 6, halo: 40 }]);
    const loose: AttributeThresholds = { ...thresholds, size: Array.from({ length: 10 }, () => [40, 60]) };
    expect(fashionMnistAttributes(haloed, loose).attributes[0]).toEqual({ label: 0, brightness: 1, size: 2, shape: 1 });
  });

  it('cuts at per-class tertiles and medians of the set itself, with exact w/h for solid blocks', () => {
    // Class 3: nine blocks whose brightness, area and aspect all rise together; class 7: one block.
    const blocks: Block[] = [];
    for (let k = 0; k < 9; k++) blocks.push({ label: 3, value: 60 + 20 * k, top: 1, left: 1, h: 4, w: 2 + k });
    blocks.push({ label: 7, value: 90, top: 0, left: 0, h: 3, w: 6 });
    const { attributes, thresholds } = fashionMnistAttributes(blockSet(blocks));
    expect(thresholds.brightness[3]).toEqual([120, 180]);
    expect(thresholds.size[3]).toEqual([4 * 5, 4 * 8]);
    expect(thresholds.shape[3]).toBeCloseTo(6 / 4, 12);
    expect(attributes.slice(0, 9).map((a) => a.brightness)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    expect(attributes.slice(0, 9).map((a) => a.size)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    expect(attributes.slice(0, 9).map((a) => a.shape)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 1]);
    expect(thresholds.brightness[7]).toEqual([90, 90]);
    expect(thresholds.shape[7]).toBeCloseTo(2, 12);
    // Classes without images get cuts over the whole set (ten values: tertile indices 3 and 6, median index 5).
    const all = blocks.map((b) => b.value).sort((a, b) => a - b);
    expect(thresholds.brightness[0]).toEqual([all[3], all[6]]);
    expect(thresholds.size[0]).toEqual(thresholds.size[9]);
    const ratios = blocks.map((b) => b.w / b.h).sort((a, b) => a - b);
    expect(thresholds.shape[0]).toBeCloseTo(ratios[5]!, 12);
  });

  it('each value is about equally common in every class, also on a second set cut at the first set’s thresholds', () => {
    const train = fashionMnistAttributes(randomSet(11, 300));
    const test = fashionMnistAttributes(randomSet(12, 300), train.thresholds);
    for (let c = 0; c < 10; c++) {
      for (const f of fractions(train.attributes, c, 'brightness', 3)) expect(f).toBeCloseTo(1 / 3, 1);
      for (const f of fractions(train.attributes, c, 'size', 3)) expect(Math.abs(f - 1 / 3)).toBeLessThan(0.03);
      for (const f of fractions(train.attributes, c, 'shape', 2)) expect(Math.abs(f - 1 / 2)).toBeLessThan(0.02);
      for (const key of ['brightness', 'size'] as const) {
        for (const f of fractions(test.attributes, c, key, 3)) expect(Math.abs(f - 1 / 3)).toBeLessThan(0.12);
      }
      for (const f of fractions(test.attributes, c, 'shape', 2)) expect(Math.abs(f - 1 / 2)).toBeLessThan(0.12);
    }
  });

  it.skipIf(!existsSync(join(DEBIAN_FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz')))(
    'on the real Fashion-MNIST every class is balanced and all 180 descriptions occur',
    () => {
      const data = loadFashionMnist(DEBIAN_FASHION_MNIST_DIR, { verify: false });
      const train = fashionMnistAttributes(data.train);
      const test = fashionMnistAttributes(data.test, train.thresholds);
      expect(new Set(train.attributes.map((a) => `${a.label}${a.brightness}${a.size}${a.shape}`)).size).toBe(180);
      for (let c = 0; c < 10; c++) {
        for (const key of ['brightness', 'size'] as const) {
          for (const f of fractions(train.attributes, c, key, 3)) expect(Math.abs(f - 1 / 3)).toBeLessThan(0.02);
          for (const f of fractions(test.attributes, c, key, 3)) expect(Math.abs(f - 1 / 3)).toBeLessThan(0.07);
        }
        for (const f of fractions(train.attributes, c, 'shape', 2)) expect(Math.abs(f - 1 / 2)).toBeLessThan(0.02);
        for (const f of fractions(test.attributes, c, 'shape', 2)) expect(Math.abs(f - 1 / 2)).toBeLessThan(0.07);
      }
    },
  );

  it('rejects colour sets, labels outside 0..9 and malformed thresholds', () => {
    const rgb: ImageSet = { images: new Uint8Array(4 * 4 * 3), labels: Int32Array.of(0), count: 1, height: 4, width: 4, channels: 3 };
    expect(() => fashionMnistAttributes(rgb)).toThrow(DatasetFormatError);
    expect(() => fashionMnistAttributes(rgb)).toThrow(/3 channels.*1-channel/);
    const bad = blockSet([{ label: 10, value: 100, top: 0, left: 0, h: 2, w: 2 }]);
    expect(() => fashionMnistAttributes(bad)).toThrow(RangeError);
    expect(() => fashionMnistAttributes(bad)).toThrow(/image 0: label 10 is outside 0\.\.9/);
    const good = blockSet([{ label: 1, value: 100, top: 0, left: 0, h: 2, w: 2 }]);
    const { thresholds } = fashionMnistAttributes(good);
    expect(() => fashionMnistAttributes(good, { ...thresholds, size: thresholds.size.slice(1) })).toThrow(/thresholds\.size/);
    expect(() => fashionMnistAttributes(good, { ...thresholds, brightness: thresholds.brightness.map(() => [5, 1]) })).toThrow(/lo ≤ hi/);
    expect(() => fashionMnistAttributes(good, { ...thresholds, shape: thresholds.shape.map(() => Number.NaN) })).toThrow(RangeError);
    const short = { ...good, count: 2 };
    expect(() => fashionMnistAttributes(short)).toThrow(DatasetFormatError);
  });
});

describe('FASHION_MNIST_CAPTION_NAMES and CAPTION_TEMPLATES', () => {
  it('names every class in label order and every template mentions name and all three attributes once', () => {
    expect(FASHION_MNIST_CAPTION_NAMES).toHaveLength(FASHION_MNIST_CLASSES.length);
    for (const names of FASHION_MNIST_CAPTION_NAMES) {
      expect(names.length).toBeGreaterThanOrEqual(2);
      expect(names.length).toBeLessThanOrEqual(3);
    }
    // The first phrasing is the class name itself where it is a single garment.
    expect(FASHION_MNIST_CAPTION_NAMES[0]![0]).toBe('T-shirt');
    expect(FASHION_MNIST_CAPTION_NAMES[9]![0]).toBe('ankle boot');
    // No phrasing is shared between classes.
    const all = FASHION_MNIST_CAPTION_NAMES.flat();
    expect(new Set(all).size).toBe(all.length);
    expect(CAPTION_TEMPLATES.length).toBeGreaterThanOrEqual(6);
    expect(new Set(CAPTION_TEMPLATES).size).toBe(CAPTION_TEMPLATES.length);
    for (const t of CAPTION_TEMPLATES) {
      for (const p of ['{name}', '{brightness}', '{size}', '{shape}']) expect(t.split(p)).toHaveLength(2);
    }
    // Varied word order: the name and each attribute come first in at least one template.
    const firstPlaceholders = new Set(CAPTION_TEMPLATES.map((t) => /\{(\w+)\}/.exec(t)![1]));
    expect(firstPlaceholders.size).toBeGreaterThanOrEqual(3);
  });
});

/** The index of the template a caption was made from (−1 when none fits). */
function templateOf(caption: string): number {
  const options: Record<string, string[]> = {
    name: FASHION_MNIST_CAPTION_NAMES.flat(),
    brightness: BRIGHTNESS.flat(),
    size: SIZE.flat(),
    shape: SHAPE.flat(),
  };
  const matches = CAPTION_TEMPLATES.map((t) => {
    const pattern = t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_, key: string) => `(${options[key]!.join('|')})`);
    return new RegExp(`^${pattern}$`, 'i').test(caption);
  });
  expect(matches.filter(Boolean)).toHaveLength(1);
  return matches.indexOf(true);
}

describe('fashionMnistCaptions', () => {
  const coat: CaptionAttributes = { label: 4, brightness: 2, size: 0, shape: 1 };

  it('is deterministic in (seed, index) and varies with either', () => {
    expect(fashionMnistCaptions(coat, 17, 5)).toEqual(fashionMnistCaptions(coat, 17, 5));
    expect(fashionMnistCaptions(coat, 17, 5)).toHaveLength(5);
    let differentSeed = 0;
    let differentIndex = 0;
    for (let i = 0; i < 50; i++) {
      if (fashionMnistCaptions(coat, i, 5).join('|') !== fashionMnistCaptions(coat, i, 6).join('|')) differentSeed++;
      if (fashionMnistCaptions(coat, i, 5)[0] !== fashionMnistCaptions(coat, i + 1, 5)[0]) differentIndex++;
    }
    expect(differentSeed).toBe(50);
    expect(differentIndex).toBeGreaterThan(40);
  });

  it('captions use distinct templates, the class phrasing and only the right attribute words', () => {
    const usedTemplates = new Set<number>();
    for (const attributes of ALL_ATTRIBUTES) {
      for (const index of [0, 3]) {
        const captions = fashionMnistCaptions(attributes, index, 1, CAPTION_TEMPLATES.length);
        const templates = captions.map(templateOf);
        expect(new Set(templates).size).toBe(CAPTION_TEMPLATES.length);
        templates.forEach((t) => usedTemplates.add(t));
        for (const caption of captions) {
          expect(caption[0]).toBe(caption[0]!.toUpperCase());
          expect(FASHION_MNIST_CAPTION_NAMES[attributes.label]!.some((n) => caption.toLowerCase().includes(n.toLowerCase()))).toBe(true);
          const check = (lists: string[][], value: number) =>
            lists.forEach((words, v) => {
              const present = words.some((w) => hasWord(caption, w));
              expect(present, `${caption} / ${words}`).toBe(v === value);
            });
          check(BRIGHTNESS, attributes.brightness);
          check(SIZE, attributes.size);
          check(SHAPE, attributes.shape);
        }
      }
    }
    expect(usedTemplates.size).toBe(CAPTION_TEMPLATES.length);
  });

  it('different attributes give a different caption 0 for the same index and seed', () => {
    for (const index of [0, 41]) {
      const firsts = ALL_ATTRIBUTES.map((a) => fashionMnistCaptions(a, index, 9, 1)[0]);
      expect(new Set(firsts).size).toBe(ALL_ATTRIBUTES.length);
      // Same draws, so one template throughout: only the words differ.
      expect(new Set(firsts.map((c) => templateOf(c!))).size).toBe(1);
    }
  });

  it('draws all phrasings and synonyms over many images', () => {
    const text = Array.from({ length: 60 }, (_, i) => fashionMnistCaptions({ label: 1, brightness: 1, size: 1, shape: 0 }, i, 2)).flat();
    for (const name of FASHION_MNIST_CAPTION_NAMES[1]!) expect(text.some((c) => c.toLowerCase().includes(name))).toBe(true);
    for (const w of [...BRIGHTNESS[1]!, ...SIZE[1]!, ...SHAPE[0]!]) expect(text.some((c) => hasWord(c, w))).toBe(true);
  });

  it('rejects bad labels, counts, indices and attribute values', () => {
    expect(() => fashionMnistCaptions({ ...coat, label: 10 }, 0, 0)).toThrow(/label 10 is outside 0\.\.9/);
    expect(() => fashionMnistCaptions({ ...coat, label: -1 }, 0, 0)).toThrow(RangeError);
    expect(() => fashionMnistCaptions(coat, 0, 0, CAPTION_TEMPLATES.length + 1)).toThrow(/count must be an integer in 1\.\.8/);
    expect(() => fashionMnistCaptions(coat, 0, 0, 0)).toThrow(RangeError);
    expect(() => fashionMnistCaptions(coat, -1, 0)).toThrow(/imageIndex/);
    expect(() => fashionMnistCaptions(coat, 0, 0.5)).toThrow(/seed/);
    expect(() => fashionMnistCaptions({ ...coat, brightness: 3 as 0 }, 0, 0)).toThrow(/brightness must be an integer in 0\.\.2/);
    expect(() => fashionMnistCaptions({ ...coat, shape: 2 as 0 }, 0, 0)).toThrow(/shape must be an integer in 0\.\.1/);
  });
});

describe('captionWords and captionTokenizerFiles', () => {
  it('lists the pre-tokenized words once each, sorted', () => {
    const words = captionWords();
    expect(words).toEqual([...words].sort());
    expect(new Set(words).size).toBe(words.length);
    for (const w of ['T', '-', 'shirt', ',', '.', ':', ';', 'A', 'This', 'An', 'Dark', 'Mid', 'Medium', 'sized', 'outline']) {
      expect(words).toContain(w);
    }
    expect(words).not.toContain('T-shirt');
    for (const w of words) expect(w).toMatch(/^([A-Za-z]+|[^\sA-Za-z0-9])$/);
  });

  it('the real TextTokenizer reads every generated caption without [UNK] in at most 32 tokens', () => {
    const { tokenizerJson, tokenizerConfig } = captionTokenizerFiles();
    writeFileSync(join(tmp, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    writeFileSync(join(tmp, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
    const tok = TextTokenizer.fromFiles(join(tmp, 'tokenizer.json'), join(tmp, 'tokenizer_config.json'));
    const vocab = (tokenizerJson['model'] as { vocab: Record<string, number> }).vocab;
    expect(Object.keys(vocab).length).toBe(5 + captionWords().length);
    expect(Object.keys(vocab).length).toBeLessThan(200);
    expect([vocab['[PAD]'], vocab['[UNK]'], vocab['[CLS]'], vocab['[SEP]'], vocab['[MASK]']]).toEqual([0, 1, 2, 3, 4]);
    expect(tok.padId).toBe(0);
    expect(tok.tokens('A T-shirt, Dark.')).toEqual(['[CLS]', 'A', 'T', '-', 'shirt', ',', 'Dark', '.', '[SEP]']);
    expect(tok.tokens('a dress')).not.toEqual(tok.tokens('A dress')); // cased

    const captions: string[] = [];
    for (const attributes of ALL_ATTRIBUTES) {
      for (let index = 0; index < 3; index++)
        captions.push(...fashionMnistCaptions(attributes, index, 4 + index, CAPTION_TEMPLATES.length));
    }
    expect(captions.length).toBeGreaterThan(4000);
    const batch = tok.encodeBatch(captions, 48);
    expect(Array.from(batch.ids)).not.toContain(1);
    expect(Math.max(...batch.lengths)).toBeLessThanOrEqual(32);
    for (let r = 0; r < captions.length; r++) {
      expect(batch.ids[r * 48]).toBe(2);
      expect(batch.ids[r * 48 + batch.lengths[r]! - 1]).toBe(3);
    }
    // Every vocabulary word is used by some caption: no dead entries.
    const used = new Set<number>(batch.ids);
    expect(used.size).toBe(Object.keys(vocab).length - 2); // all but [UNK] and [MASK]
  });
});
