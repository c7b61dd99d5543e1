import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@samrank/core';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KARPATHY_SPLIT_FILE, type KarpathyEntry, loadCocoImages, readKarpathySplit, readKarpathySplits } from './coco-karpathy.js';
import { DatasetFormatError, DatasetNotFoundError } from './errors.js';
import { decodeImageRgb, resizeBilinear } from './vision-images.js';

const root = mkdtempSync(join(tmpdir(), 'samrank-coco-'));
const splitFile = join(root, KARPATHY_SPLIT_FILE);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** An RGB JPEG through jpeg-js (which takes RGBA and writes 3-component files only). */
function colourJpeg(width: number, height: number, rgb: (x: number, y: number) => [number, number, number]): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data.set([...rgb(x, y), 255], (y * width + x) * 4);
    }
  }
  return new Uint8Array(jpeg.encode({ data, width, height }, 95).data);
}

/**
 * A baseline one-component (greyscale) JPEG, which jpeg-js cannot write: `values` are flat 8×8 blocks in row-major
 * order. With a quantisation table of ones each block is its DC term 8·(v − 128) and an end-of-block, coded with the
 * standard luminance DC table and a one-symbol AC table.
 */
function greyJpeg(blocksWide: number, blocksHigh: number, values: number[]): Uint8Array {
  const out: number[] = [0xff, 0xd8];
  const segment = (marker: number, body: number[]) => out.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 255, ...body);
  segment(0xdb, [0x00, ...new Array(64).fill(1)]);
  const w = blocksWide * 8;
  const h = blocksHigh * 8;
  segment(0xc0, [8, h >> 8, h & 255, w >> 8, w & 255, 1, 1, 0x11, 0]);
  const dcBits = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
  const dcValues = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  segment(0xc4, [0x00, ...dcBits, ...dcValues]);
  segment(0xc4, [0x10, 1, ...new Array(15).fill(0), 0x00]);
  segment(0xda, [1, 1, 0x00, 0, 63, 0]);
  // Canonical Huffman codes of the DC table.
  const dcCode: { code: number; length: number }[] = [];
  let code = 0;
  let k = 0;
  dcBits.forEach((count, i) => {
    for (let j = 0; j < count; j++) dcCode[dcValues[k++]!] = { code: code++, length: i + 1 };
    code <<= 1;
  });
  const bits: number[] = [];
  const put = (value: number, length: number) => {
    for (let b = length - 1; b >= 0; b--) bits.push((value >> b) & 1);
  };
  let previous = 0;
  for (const v of values) {
    const dc = 8 * (v - 128);
    const diff = dc - previous;
    previous = dc;
    const category = diff === 0 ? 0 : Math.floor(Math.log2(Math.abs(diff))) + 1;
    put(dcCode[category]!.code, dcCode[category]!.length);
    put(diff < 0 ? diff + (1 << category) - 1 : diff, category);
    put(0, 1); // end of block
  }
  while (bits.length % 8 !== 0) bits.push(1);
  for (let i = 0; i < bits.length; i += 8) {
    const byte = bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0);
    out.push(byte);
    if (byte === 0xff) out.push(0x00);
  }
  out.push(0xff, 0xd9);
  return Uint8Array.from(out);
}

const FILES: Record<string, Uint8Array> = {
  'train2014/COCO_train2014_000000000009.jpg': colourJpeg(40, 30, () => [200, 30, 90]),
  'train2014/COCO_train2014_000000000025.jpg': colourJpeg(17, 23, (x, y) => [x * 15, y * 11, 255 - x * 7 - y * 3]),
  'train2014/COCO_train2014_000000000030.jpg': (() => {
    const rng = createRng(3);
    return colourJpeg(64, 64, () => [rng.int(256), rng.int(256), rng.int(256)]);
  })(),
  'val2014/COCO_val2014_000000000042.jpg': colourJpeg(24, 24, (x) => [x * 10, 100, 100]),
  'val2014/COCO_val2014_000000000073.jpg': colourJpeg(31, 12, (x, y) => [(x * y) % 256, 0, 255]),
  'val2014/COCO_val2014_000000000074.jpg': greyJpeg(2, 1, [176, 64]),
  'val2014/COCO_val2014_000000000133.jpg': colourJpeg(50, 20, (x, y) => [255 - x * 5, y * 12, 128]),
};

const sentence = (raw: string) => ({ raw, tokens: raw.toLowerCase().replace(/[.,]/g, '').split(/\s+/), imgid: 0, sentid: 0 });

function image(split: string, file: string, cocoid: number, captions: string[]) {
  const [filepath, filename] = file.split('/');
  return { filepath, filename, split, cocoid, imgid: cocoid, sentids: [], sentences: captions.map(sentence) };
}

const IMAGES = [
  image('train', 'train2014/COCO_train2014_000000000009.jpg', 9, [' A plate of red fruit. ', 'Fruit on a white plate.']),
  image('restval', 'val2014/COCO_val2014_000000000042.jpg', 42, ['A striped wall.']),
  image('train', 'train2014/COCO_train2014_000000000025.jpg', 25, ['A colourful gradient.', 'Two colours blending.', 'A sunset sky.']),
  image('val', 'val2014/COCO_val2014_000000000073.jpg', 73, ['A blue pattern.']),
  image('test', 'val2014/COCO_val2014_000000000074.jpg', 74, ['A black and white photo.', 'Two grey squares.']),
  image('test', 'val2014/COCO_val2014_000000000133.jpg', 133, ['A pink rectangle.']),
  image('train', 'train2014/COCO_train2014_000000000030.jpg', 30, ['Television static.']),
];

beforeAll(() => {
  for (const [path, bytes] of Object.entries(FILES)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), bytes);
  }
  writeFileSync(splitFile, JSON.stringify({ images: IMAGES, dataset: 'coco' }));
});

/** Writes a split file with the given content and returns its path. */
function splitWith(name: string, content: unknown): string {
  const path = join(root, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('readKarpathySplit', () => {
  it('keeps one split in file order with paths, trimmed captions and COCO ids', () => {
    const train = readKarpathySplit(splitFile, 'train');
    expect(train).toEqual([
      {
        path: 'train2014/COCO_train2014_000000000009.jpg',
        captions: ['A plate of red fruit.', 'Fruit on a white plate.'],
        cocoid: 9,
        split: 'train',
      },
      {
        path: 'train2014/COCO_train2014_000000000025.jpg',
        captions: ['A colourful gradient.', 'Two colours blending.', 'A sunset sky.'],
        cocoid: 25,
        split: 'train',
      },
      { path: 'train2014/COCO_train2014_000000000030.jpg', captions: ['Television static.'], cocoid: 30, split: 'train' },
    ]);
    expect(readKarpathySplit(splitFile, 'test').map((e) => e.cocoid)).toEqual([74, 133]);
    expect(readKarpathySplit(splitFile, 'val').map((e) => e.path)).toEqual(['val2014/COCO_val2014_000000000073.jpg']);
    expect(readKarpathySplit(splitFile, 'restval').map((e) => e.captions)).toEqual([['A striped wall.']]);
  });

  it('limit keeps the first entries of the split', () => {
    expect(readKarpathySplit(splitFile, 'train', { limit: 2 }).map((e) => e.cocoid)).toEqual([9, 25]);
    expect(readKarpathySplit(splitFile, 'train', { limit: 10 })).toHaveLength(3);
    expect(readKarpathySplit(splitFile, 'test', { limit: 0 })).toEqual([]);
    expect(() => readKarpathySplit(splitFile, 'train', { limit: -1 })).toThrow(RangeError);
    expect(() => readKarpathySplit(splitFile, 'train', { limit: 1.5 })).toThrow(/limit must be a non-negative integer/);
    expect(() => readKarpathySplit(splitFile, 'training' as 'train')).toThrow(/split must be one of train, restval, val, test/);
  });

  it('several splits from one read give what each single-split read gives, and the file digest', () => {
    const both = readKarpathySplits(splitFile, { train: 2, test: Number.POSITIVE_INFINITY });
    expect(both.splits.train).toEqual(readKarpathySplit(splitFile, 'train', { limit: 2 }));
    expect(both.splits.test).toEqual(readKarpathySplit(splitFile, 'test'));
    expect(Object.keys(both.splits).sort()).toEqual(['test', 'train']);
    expect(both.sha256).toBe(createHash('sha256').update(readFileSync(splitFile)).digest('hex'));
    expect(() => readKarpathySplits(splitFile, { train: 1, test: -1 })).toThrow(/limit must be a non-negative integer/);
  });

  it('reads tokens where a caption has no raw text, and files without filepath or cocoid (Flickr layout)', () => {
    const path = splitWith('flickr.json', {
      images: [{ filename: '1000092795.jpg', split: 'test', sentences: [{ tokens: ['two', 'young', 'guys'] }, { raw: 'A dog.' }] }],
    });
    expect(readKarpathySplit(path, 'test')).toEqual([
      { path: '1000092795.jpg', captions: ['two young guys', 'A dog.'], cocoid: null, split: 'test' },
    ]);
  });

  it('a missing file says where the split file comes from', () => {
    const missing = join(root, 'nowhere', KARPATHY_SPLIT_FILE);
    expect(() => readKarpathySplit(missing, 'train')).toThrow(DatasetNotFoundError);
    expect(() => readKarpathySplit(missing, 'train')).toThrow(/nowhere\/dataset_coco\.json.*ENOENT.*caption_datasets\.zip/);
  });

  it('wrong content is a DatasetFormatError naming the file and the entry', () => {
    const cases: [string, unknown, RegExp][] = [
      ['not-json.json', '{"images": [', /not-json\.json: is not valid JSON/],
      ['no-images.json', { images: { 0: IMAGES[0] } }, /no-images\.json: has no "images" array/],
      ['array.json', [IMAGES[0]], /array\.json: has no "images" array/],
      [
        'empty-sentences.json',
        { images: [IMAGES[0], { ...IMAGES[2], sentences: [] }] },
        /empty-sentences\.json: image entry 1 has no captions/,
      ],
      ['no-sentences.json', { images: [{ ...IMAGES[0], sentences: undefined }] }, /image entry 0 has no captions/],
      ['bad-caption.json', { images: [{ ...IMAGES[0], sentences: [{ raw: '  ' }] }] }, /image entry 0 caption 0 has neither/],
      [
        'no-filename.json',
        { images: [IMAGES[0], IMAGES[1], { ...IMAGES[2], filename: '' }] },
        /no-filename\.json: image entry 2 has no "filename"/,
      ],
      ['bad-split.json', { images: [{ ...IMAGES[0], split: 'training' }] }, /image entry 0 has split "training"/],
      ['not-object.json', { images: [IMAGES[0], 'COCO_1.jpg'] }, /image entry 1 is not an object/],
      ['escape.json', { images: [{ ...IMAGES[0], filepath: '../..' }] }, /image entry 0 has image path .* outside the image root/],
      ['bad-id.json', { images: [{ ...IMAGES[0], cocoid: '9' }] }, /image entry 0 has a "cocoid" that is not an integer/],
    ];
    for (const [name, content, message] of cases) {
      const path = splitWith(name, content);
      expect(() => readKarpathySplit(path, 'train'), name).toThrow(DatasetFormatError);
      expect(() => readKarpathySplit(path, 'train'), name).toThrow(message);
    }
    // Entries of other splits are not checked beyond their split: a broken test entry does not stop reading train.
    const other = splitWith('other-split.json', { images: [IMAGES[0], { ...IMAGES[4], sentences: [] }] });
    expect(readKarpathySplit(other, 'train')).toHaveLength(1);
    expect(() => readKarpathySplit(other, 'test')).toThrow(/image entry 1 has no captions/);
  });
});

describe('loadCocoImages', () => {
  it('decodes, resizes without keeping the aspect ratio and scales to [0, 1] as resizeBilinear(decoded) / 255', () => {
    const entries = [...readKarpathySplit(splitFile, 'train'), ...readKarpathySplit(splitFile, 'test')];
    for (const size of [8, 13]) {
      const progress: [number, number][] = [];
      const batch = loadCocoImages(root, entries, size, { onProgress: (done, total) => progress.push([done, total]) });
      expect(batch).toHaveLength(entries.length * size * size * 3);
      expect(progress).toEqual(entries.map((_, i) => [i + 1, entries.length]));
      entries.forEach((entry, i) => {
        const decoded = decodeImageRgb(readFileSync(join(root, entry.path)), entry.path);
        const expected = resizeBilinear(decoded.data, decoded.height, decoded.width, 3, size, size);
        const got = batch.subarray(i * size * size * 3, (i + 1) * size * size * 3);
        let worst = 0;
        for (let k = 0; k < got.length; k++) worst = Math.max(worst, Math.abs(got[k]! - expected[k]! / 255));
        expect(worst, entry.path).toBeLessThan(1e-6);
      });
      expect(Math.min(...batch)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...batch)).toBeLessThanOrEqual(1);
    }
  });

  it('flat colours come out as their values: a solid RGB image and the two halves of a greyscale one', () => {
    const [solid] = readKarpathySplit(splitFile, 'train', { limit: 1 });
    const rgb = loadCocoImages(root, [solid!], 5);
    for (let p = 0; p < 25; p++) {
      expect(rgb[3 * p]! * 255).toBeCloseTo(200, -0.5);
      expect(rgb[3 * p + 1]! * 255).toBeCloseTo(30, -0.5);
      expect(rgb[3 * p + 2]! * 255).toBeCloseTo(90, -0.5);
    }
    // 16×8 grey → 4×4: columns 0–1 sample the left block (176), columns 2–3 the right one (64); R = G = B.
    const [grey] = readKarpathySplit(splitFile, 'test', { limit: 1 });
    const decoded = decodeImageRgb(FILES[grey!.path]!, grey!.path);
    expect([decoded.width, decoded.height]).toEqual([16, 8]);
    const out = loadCocoImages(root, [grey!], 4);
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 4; x++) {
        const [r, g, b] = out.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3);
        expect(r).toBe(g);
        expect(g).toBe(b);
        expect(r! * 255).toBeCloseTo(x < 2 ? 176 : 64, 0);
      }
    }
  });

  it('an empty list gives an empty batch', () => {
    expect(loadCocoImages(root, [], 32)).toHaveLength(0);
  });

  it('a missing image is DatasetNotFoundError; bytes that do not decode are DatasetFormatError; both name the file', () => {
    const entry = (path: string): KarpathyEntry => ({ path, captions: ['x'], cocoid: 1, split: 'test' });
    const missing = entry('val2014/COCO_val2014_000000999999.jpg');
    expect(() => loadCocoImages(root, [missing], 8)).toThrow(DatasetNotFoundError);
    expect(() => loadCocoImages(root, [missing], 8)).toThrow(/COCO_val2014_000000999999\.jpg.*val2014\.zip/);
    const rng = createRng(7);
    const noise = Uint8Array.from({ length: 600 }, () => rng.int(256));
    writeFileSync(join(root, 'val2014/noise.jpg'), noise);
    expect(() => loadCocoImages(root, [entry('val2014/noise.jpg')], 8)).toThrow(DatasetFormatError);
    expect(() => loadCocoImages(root, [entry('val2014/noise.jpg')], 8)).toThrow(/val2014\/noise\.jpg: cannot decode JPEG/);
    // A JPEG start marker followed by noise.
    writeFileSync(join(root, 'val2014/soi-noise.jpg'), Uint8Array.of(0xff, 0xd8, ...noise));
    expect(() => loadCocoImages(root, [entry('val2014/soi-noise.jpg')], 8)).toThrow(/soi-noise\.jpg: cannot decode JPEG/);
    writeFileSync(join(root, 'val2014/png.jpg'), Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0));
    expect(() => loadCocoImages(root, [entry('val2014/png.jpg')], 8)).toThrow(/png\.jpg: is a PNG image/);
    // A folder where the image should be.
    expect(() => loadCocoImages(root, [entry('val2014')], 8)).toThrow(DatasetFormatError);
    // The first good image is loaded and reported before the bad one stops the batch.
    const progress: number[] = [];
    const good = readKarpathySplit(splitFile, 'val');
    expect(() => loadCocoImages(root, [...good, missing], 8, { onProgress: (d) => progress.push(d) })).toThrow(DatasetNotFoundError);
    expect(progress).toEqual([1]);
    expect(() => loadCocoImages(root, good, 0)).toThrow(RangeError);
    expect(() => loadCocoImages(root, good, 2.5)).toThrow(/size must be a positive integer/);
  });
});
