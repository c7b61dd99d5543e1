import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captionTokenizerFiles, encodeSafetensors } from '@samrank/data';
import { bert, disposeState } from '@samrank/models';
import * as tf from '@tensorflow/tfjs-core';
import jpeg from 'jpeg-js';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../../test/cli-io.js';

const tmp = mkdtempSync(join(tmpdir(), 'samrank-contrastive-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cli = (args: string[], interruptAtStart = false) => runCliCaptured(args, { interruptAtStart });
const FASHION = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
const FIXTURES = join(import.meta.dirname, '../../../../fixtures/vision');

interface Results {
  config: { bottlenecks: number[] | null; sweep: string; evalBatchSize: number; evalBatches: number; rankExamples: number };
  runs: { rho: number; seed: number; final: Record<string, unknown> & { layers?: { block: number; tensor: string; rank: number }[] } }[];
  sources: { name: string; location: string; sha256?: string }[];
  notes: string[];
}

/** The one line a CLI error prints (no stack trace). */
function oneLineError(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines.filter((l) => /^\s+at /.test(l))).toEqual([]);
  return lines[lines.length - 1]!;
}

describe('samrank-repro contrastive', () => {
  it('--help lists the flags of the issue', async () => {
    const h = await cli(['contrastive', '--help']);
    for (const flag of [
      '--rho',
      '--seeds',
      '--bottleneck',
      '--freeze-text',
      '--image-checkpoint',
      '--text-model',
      '--data-dir',
      '--download',
      '--preset',
    ])
      expect(h.stdout).toContain(flag);
  });

  it('bad values exit 2 with one line naming the problem', async () => {
    const zero = await cli(['contrastive', '--bottleneck', '0']);
    expect(zero.code).toBe(2);
    expect(oneLineError(zero.stderr)).toMatch(/--bottleneck.*whole number ≥ 1/);
    const both = await cli(['contrastive', '--bottleneck', '4,8', '--rho', '0,0.1']);
    expect(both.code).toBe(2);
    expect(oneLineError(both.stderr)).toMatch(/give one --rho value/);
    const noText = await cli(['contrastive', '--preset', 'paper', '--data-dir', tmp, '--out', join(tmp, 'no-text')]);
    expect(noText.code).toBe(2);
    expect(oneLineError(noText.stderr)).toMatch(/--text-model/);
  });

  it.skipIf(!FASHION)('--preset smoke runs offline and records retrieval errors, ranks and the layer analysis per run', async () => {
    const out = join(tmp, 'smoke');
    const r = await cli(['contrastive', '--preset', 'smoke', '--iterations', '6', '--eval-every', '3', '--out', out, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as Results;
    expect(json.runs.map((x) => x.rho)).toEqual([0, 0.005]);
    for (const run of json.runs) {
      for (const key of ['imagewiseError', 'textwiseError', 'imageRank', 'textRank', 'imagePreHeadRank', 'textPreHeadRank']) {
        expect(typeof run.final[key]).toBe('number');
      }
      expect(run.final['imagewiseError'] as number).toBeGreaterThan(0);
      expect(run.final['imagewiseError'] as number).toBeLessThanOrEqual(100);
      expect(run.final.layers!.map((l) => `${l.block}.${l.tensor}`)).toContain('2.res');
    }
    expect(json.sources.map((s) => s.name)).toEqual(['fashion-mnist', 'captions']);
    for (const f of [
      'results.json',
      'history.jsonl',
      'report.md',
      'figures/curves.svg',
      'figures/final-vs-rho.png',
      'figures/image-tower-res-ranks.svg',
    ])
      expect(existsSync(join(out, f))).toBe(true);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/Fig\. 4/);
    expect(report).toMatch(/141/); // the paper's image rank at ρ = 0, beside ours
  });

  it.skipIf(!FASHION)('Ctrl-C saves a checkpoint (exit 130); --resume finishes with the same runs as an uninterrupted sweep', async () => {
    const args = ['contrastive', '--preset', 'smoke', '--iterations', '4', '--eval-every', '2'];
    const out = join(tmp, 'interrupted');
    const first = await cli([...args, '--out', out], true);
    expect(first.code).toBe(130);
    expect(first.stderr).toMatch(/resume with: samrank-repro contrastive --resume --out/);
    const second = await cli(['contrastive', '--resume', '--out', out]);
    expect(second.code).toBe(0);
    const straight = join(tmp, 'straight');
    expect((await cli([...args, '--out', straight])).code).toBe(0);
    const runs = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')).runs;
    expect(runs(out)).toEqual(runs(straight));
  });

  it.skipIf(!FASHION)('--preset smoke --bottleneck 8 puts a width-8 bottleneck in both heads', async () => {
    const out = join(tmp, 'bottleneck');
    const r = await cli([
      'contrastive',
      '--preset',
      'smoke',
      '--bottleneck',
      '8',
      '--iterations',
      '4',
      '--eval-every',
      '4',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as Results;
    expect(json.config).toMatchObject({ bottlenecks: [8], sweep: 'rho' });
    // Unit vectors from an 8-dimensional head: centred, at most 9 directions.
    for (const run of json.runs) expect(run.final['imageRank'] as number).toBeLessThanOrEqual(9);
  });
});

/** A BERT's parameters under Hugging Face's PyTorch names (Linear weights [out, in]). */
function huggingFaceBert(params: Record<string, tf.Tensor>): Record<string, { shape: number[]; data: Float32Array }> {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of Object.entries(params)) {
    const key = name
      .replace(/_embeddings\.embedding$/, '_embeddings.weight')
      .replace(/LayerNorm\.scale$/, 'LayerNorm.weight')
      .replace(/\.kernel$/, '.weight');
    const value = tf.tidy(() => (name.endsWith('.kernel') ? tf.transpose(t) : tf.clone(t)));
    out[`bert.${key}`] = { shape: [...value.shape], data: value.dataSync() as Float32Array };
    value.dispose();
  }
  return out;
}

/** A COCO miniature in the real layout (Karpathy's split file, train2014/ and val2014/ JPEGs) and a text model folder. */
function cocoMiniature(root: string): { dataDir: string; textModel: string } {
  const coco = join(root, 'coco');
  mkdirSync(join(coco, 'train2014'), { recursive: true });
  mkdirSync(join(coco, 'val2014'), { recursive: true });
  const words = ['A dark, small bag.', 'A light, large coat.', 'A grey, narrow boot.', 'A bright, wide sandal.', 'A dim, big dress.'];
  const images = [];
  for (let i = 0; i < 10; i++) {
    const split = i < 6 ? 'train' : 'test';
    const folder = split === 'train' ? 'train2014' : 'val2014';
    const filename = `COCO_${folder}_${String(i).padStart(12, '0')}.jpg`;
    const w = 40 + i;
    const h = 30;
    const data = Buffer.alloc(w * h * 4);
    for (let p = 0; p < w * h; p++) data.set([(p * (i + 3)) % 256, (p * 7 + i * 40) % 256, (i * 25) % 256, 255], p * 4);
    writeFileSync(join(coco, folder, filename), jpeg.encode({ data, width: w, height: h }, 90).data);
    images.push({
      filepath: folder,
      filename,
      split,
      cocoid: i,
      sentences: words.map((raw, k) => ({ raw: `${raw} ${i} ${k}`, tokens: [] })),
    });
  }
  writeFileSync(join(coco, 'dataset_coco.json'), JSON.stringify({ images, dataset: 'coco' }));
  const textModel = join(root, 'bert');
  mkdirSync(textModel);
  const files = captionTokenizerFiles();
  writeFileSync(join(textModel, 'tokenizer.json'), JSON.stringify(files.tokenizerJson));
  writeFileSync(join(textModel, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig));
  const vocab = Object.keys((files.tokenizerJson['model'] as { vocab: object }).vocab).length;
  const model = bert({ vocabSize: vocab, hiddenSize: 64, depth: 1, heads: 1, intermediateSize: 32, maxPositions: 32 });
  const { params } = model.init(3);
  writeFileSync(join(textModel, 'model.safetensors'), encodeSafetensors(huggingFaceBert(params)));
  disposeState(params);
  return { dataDir: root, textModel };
}

describe('samrank-repro contrastive --preset paper on an MS-COCO miniature', () => {
  const root = join(tmp, 'coco-mini');
  const { dataDir, textModel } = cocoMiniature(root);
  const base = [
    'contrastive',
    '--preset',
    'paper',
    '--data-dir',
    dataDir,
    '--text-model',
    textModel,
    '--batch-size',
    '2',
    '--iterations',
    '2',
  ];

  it('trains the pretrained towers from the checkpoint and the BERT folder, with evaluation sized to the splits', async () => {
    const out = join(tmp, 'coco-run');
    const r = await cli([
      ...base,
      '--image-checkpoint',
      join(FIXTURES, 'vit.npz'),
      '--rho',
      '0,0.1',
      '--eval-every',
      '1',
      '--out',
      out,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as Results;
    expect(json.sources.map((s) => s.name)).toEqual(['coco', 'text model', 'image checkpoint']);
    expect(json.config).toMatchObject({ evalBatchSize: 4, evalBatches: 1, rankExamples: 6 });
    expect(json.notes.join(' ')).toMatch(/test split holds 4 pairs/);
    for (const run of json.runs) expect(run.final['textRank']).toEqual(expect.any(Number));
  });

  it('a missing text model, a damaged image, a Mixer checkpoint and a missing split file each exit 2 with one line', async () => {
    // A known text model that is not in the (empty) model folder, without --download.
    const saved = process.env['SAMRANK_CHECKPOINT_DIR'];
    process.env['SAMRANK_CHECKPOINT_DIR'] = join(tmp, 'no-models');
    try {
      const named = base.map((a, i) => (base[i - 1] === '--text-model' ? 'bert-base-cased' : a));
      const r = await cli([...named, '--out', join(tmp, 'coco-named')]);
      expect(r.code).toBe(2);
      expect(oneLineError(r.stderr)).toMatch(/--download/);
    } finally {
      if (saved === undefined) delete process.env['SAMRANK_CHECKPOINT_DIR'];
      else process.env['SAMRANK_CHECKPOINT_DIR'] = saved;
    }
    const mixer = await cli([...base, '--image-checkpoint', join(FIXTURES, 'mixer.npz'), '--out', join(tmp, 'coco-mixer')]);
    expect(mixer.code).toBe(2);
    expect(oneLineError(mixer.stderr)).toMatch(/MLP-Mixer/);
    const broken = join(tmp, 'coco-broken');
    const bad = cocoMiniature(broken);
    writeFileSync(join(broken, 'coco', 'train2014', 'COCO_train2014_000000000001.jpg'), Buffer.from('not a jpeg at all'));
    const r = await cli([
      'contrastive',
      '--preset',
      'paper',
      '--image-checkpoint',
      join(FIXTURES, 'vit.npz'),
      '--data-dir',
      bad.dataDir,
      '--text-model',
      bad.textModel,
      '--batch-size',
      '2',
      '--iterations',
      '2',
      '--out',
      join(tmp, 'coco-bad'),
    ]);
    expect(r.code).toBe(2);
    expect(oneLineError(r.stderr)).toMatch(/COCO_train2014_000000000001\.jpg/);
    rmSync(join(broken, 'coco', 'dataset_coco.json'));
    const missing = await cli([
      'contrastive',
      '--preset',
      'paper',
      '--data-dir',
      bad.dataDir,
      '--text-model',
      bad.textModel,
      '--out',
      join(tmp, 'coco-missing'),
    ]);
    expect(missing.code).toBe(2);
    expect(oneLineError(missing.stderr)).toMatch(/dataset_coco\.json/);
  });
});
