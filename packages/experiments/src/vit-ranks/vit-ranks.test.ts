import '@tensorflow/tfjs-layers';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decodeNpy, encodeNpy, readNpz } from '@samrank/data';
import { featureRank } from '@samrank/rank';
import { activeUnits, ACTIVE_UNIT_PRESETS } from '@samrank/rank';
import { disposeState, visionCheckpoint } from '@samrank/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storedZip } from '../../../../test-utils/zip.js';
import { runCliCaptured } from '../../test/cli-io.js';
import { selectBackend } from '../cli/backend.js';
import { SampleCenteredGram, TopActivations } from './accumulators.js';
import { type VitRanksConfig, defaultLayers, resolveVitRanksConfig } from './config.js';
import { vitRanksDefinition } from './definition.js';
import { createVitRanksJob } from './job.js';

const FIXTURES = join(__dirname, '..', '..', '..', '..', 'fixtures', 'vision');
const TENSORS = ['preatt', 'att', 'premlp', 'pregelu', 'gelu', 'mlp', 'res'];

interface Expected {
  threshold: number;
  models: Record<'vit' | 'mixer', { layers: Record<string, Record<string, { rank: number; margin: number; features: number[][] }>> }>;
}
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Expected;

const tmp = mkdtempSync(join(tmpdir(), 'samrank-vit-ranks-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await selectBackend('wasm');
});

/** Within the fixture's tolerance |a − e| ≤ 1e-4 + 1e-3·|e|; returns the largest |a − e| and the worst ratio to the tolerance. */
function compareFeatures(actual: ArrayLike<number>, ref: number[][], what: string): { maxAbs: number; worst: number } {
  const d = ref[0]!.length;
  expect(actual.length, what).toBe(ref.length * d);
  let maxAbs = 0;
  let worst = 0;
  ref.forEach((row, i) =>
    row.forEach((e, j) => {
      const diff = Math.abs(actual[i * d + j]! - e);
      maxAbs = Math.max(maxAbs, diff);
      worst = Math.max(worst, diff / (1e-4 + 1e-3 * Math.abs(e)));
    }),
  );
  expect(worst, `${what}: max |diff| ${maxAbs}`).toBeLessThanOrEqual(1);
  return { maxAbs, worst };
}

/** Rank as the fixture states it; exact where the fixture's margin is at least 1e-4, else within one (its README). */
function expectRank(actual: number, ref: { rank: number; margin: number }, what: string): void {
  if (ref.margin >= 1e-4) expect(actual, what).toBe(ref.rank);
  else expect(Math.abs(actual - ref.rank), what).toBeLessThanOrEqual(1);
}

/** The fixture ViT with its keys renamed to the pre-Linen spelling of the published ImageNet checkpoints. */
function preLinenVit(): Record<string, Uint8Array> {
  const arrays = readNpz(join(FIXTURES, 'vit.npz'));
  const rename: Record<string, string> = {
    MultiHeadDotProductAttention_0: 'MultiHeadDotProductAttention_1',
    LayerNorm_1: 'LayerNorm_2',
    MlpBlock_0: 'MlpBlock_3',
  };
  const out: Record<string, Uint8Array> = {};
  for (const [k, a] of Object.entries(arrays)) {
    const key = k
      .split('/')
      .map((p, i) => (i === 2 && rename[p]) || p)
      .join('/');
    out[`${key}.npy`] = encodeNpy('<f4', a.shape, a.data);
  }
  return out;
}

describe('vit-ranks accumulators', () => {
  it("the streamed row-centred Gram gives @samrank/rank's rank and spectrum; the streamed GeLU count gives activeUnits", () => {
    const x = tf.mul(tf.randomNormal([70, 24], 0, 1, 'float32', 1), tf.linspace(3, 0.01, 24)) as tf.Tensor2D;
    const g = new SampleCenteredGram(24);
    for (let s = 0; s < 70; s += 16) g.add(tf.slice(x, [s, 0], [Math.min(16, 70 - s), 24]) as tf.Tensor2D);
    const rows = x.arraySync();
    for (const t of [0.9, 0.99, 0.999]) expect(g.rank(t)).toBe(featureRank(rows, { threshold: t, center: 'sample', rule: 'original' }));
    // Fewer rows than features: the rank counts at most the rows.
    const few = new SampleCenteredGram(24);
    few.add(tf.slice(x, [0, 0], [5, 24]) as tf.Tensor2D);
    expect(few.rank(0.99)).toBe(featureRank(rows.slice(0, 5), { threshold: 0.99, center: 'sample', rule: 'original' }));
    const acts = tf.tidy(() => tf.relu(tf.mul(tf.randomNormal([300, 40], 0, 1, 'float32', 2), tf.linspace(0.05, 2, 40)))) as tf.Tensor2D;
    const top = new TopActivations(40, 256);
    for (let s = 0; s < 300; s += 64) top.add(tf.slice(acts, [s, 0], [Math.min(64, 300 - s), 40]) as tf.Tensor2D);
    const first = acts.arraySync().slice(0, 256);
    expect(top.result().active).toBe(activeUnits(first, ACTIVE_UNIT_PRESETS.gelu));
    expect(top.result().examples).toBe(256);
    expect(defaultLayers(12)).toEqual([12, 8, 6]);
    expect(defaultLayers(24)).toEqual([24, 16, 8]);
  });
});

describe('the fixture checkpoints (fixtures/vision): every tensor of every block', () => {
  it.each(['vit', 'mixer'] as const)('%s: features within 1e-4 + 1e-3·|x| of the float64 reference, ranks as recorded', (kind) => {
    const ck = visionCheckpoint(readNpz(join(FIXTURES, `${kind}.npz`)));
    expect(ck.architecture).toBe(kind);
    const images = decodeNpy(new Uint8Array(readFileSync(join(FIXTURES, 'images.npy'))), 'images.npy');
    const x = tf.tensor4d(
      Float32Array.from(images.data, (v) => 2 * (v / 255 - 0.5)),
      images.shape as [number, number, number, number],
    );
    const out = ck.model.apply(ck.params, null, x, { training: false, output: false, taps: ck.model.tapNames });
    const lines: string[] = [];
    for (const [layer, tensors] of Object.entries(expected.models[kind].layers)) {
      for (const [tensor, ref] of Object.entries(tensors)) {
        const t = out.taps[`L${layer}.${tensor}`]!;
        const { maxAbs } = compareFeatures(t.dataSync(), ref.features, `${kind} L${layer}.${tensor}`);
        const g = new SampleCenteredGram(t.shape[1]);
        g.add(t);
        expectRank(g.rank(expected.threshold), ref, `${kind} L${layer}.${tensor} rank`);
        lines.push(
          `${kind} L${layer}.${tensor}: max |diff| ${maxAbs.toExponential(2)}, rank ${g.rank(expected.threshold)} (reference ${ref.rank}, margin ${ref.margin.toExponential(1)})`,
        );
      }
    }
    console.log(lines.join('\n'));
    tf.dispose([x, ...Object.values(out.taps)]);
    disposeState(ck.params);
  });
});

describe('samrank-repro vit-ranks', () => {
  const cli = (args: string[], interruptAtStart = false) => runCliCaptured(['vit-ranks', ...args], { interruptAtStart });
  const images = join(FIXTURES, 'images.npy');
  const all = ['--layers', '1,2,3', '--tensors', TENSORS.join(','), '--examples', '48', '--batch-size', '20', '--save-features'];

  it.each([
    ['Linen names', () => join(FIXTURES, 'vit.npz')],
    [
      'pre-Linen names',
      () => {
        const p = join(tmp, 'vit-pre-linen.npz');
        writeFileSync(p, storedZip(preLinenVit()));
        return p;
      },
    ],
  ])('reproduces the reference features and ranks of the fixture ViT (%s)', async (naming, path) => {
    const out = join(tmp, `vit-${naming.replace(/\W/g, '')}`);
    const r = await cli(['--checkpoint', path(), '--images', images, ...all, '--out', out]);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results).toMatchObject({ experiment: 'vit-ranks', architecture: 'vit', examples: 48, threshold: 0.99 });
    expect(results.command).toContain('--checkpoint');
    expect(results.checkpoints[0].description).toMatch(
      naming === 'pre-Linen names' ? /\(pre-Linen names\)$/ : /^ViT: 3 blocks, width 24, 3 heads, MLP 48/,
    );
    expect(results.ranks).toHaveLength(21);
    for (const { layer, tensor, rank } of results.ranks as { layer: number; tensor: string; rank: number }[]) {
      const ref = expected.models.vit.layers[String(layer)]![tensor]!;
      expectRank(rank, ref, `L${layer}.${tensor}`);
      const f = decodeNpy(new Uint8Array(readFileSync(join(out, 'features', `L${layer}-${tensor}.npy`))), 'features');
      expect(f.shape).toEqual([48, ref.features[0]!.length]);
      compareFeatures(f.data, ref.features, `L${layer}.${tensor} (features file)`);
    }
    expect(results.activeGelu.map((a: { layer: number }) => a.layer)).toEqual([1, 2, 3]);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/\| block \| preatt \| att \| premlp \| pregelu \| gelu \| mlp \| res \|/);
    expect(report).toMatch(/Active GeLU units/);
    expect(existsSync(join(out, 'vit-ranks-partial'))).toBe(false);
  });

  it('the fixture Mixer: token-averaged block outputs, ranks as recorded', async () => {
    const out = join(tmp, 'mixer');
    const r = await cli([
      '--checkpoint',
      join(FIXTURES, 'mixer.npz'),
      '--images',
      images,
      '--layers',
      '1,2,3',
      '--examples',
      '48',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code).toBe(0);
    const results = JSON.parse(r.stdout);
    expect(results.architecture).toBe('mixer');
    for (const { layer, rank } of results.ranks as { layer: number; rank: number }[])
      expectRank(rank, expected.models.mixer.layers[String(layer)]!['res']!, `mixer L${layer}`);
    expect(results.comparisons).toEqual([]);
  });

  it('bad checkpoints, images and flags exit 2 with one line', async () => {
    const vit = new Uint8Array(readFileSync(join(FIXTURES, 'vit.npz')));
    const entries = preLinenVit();
    const bad = (name: string, bytes: Uint8Array) => {
      const p = join(tmp, name);
      writeFileSync(p, bytes);
      return p;
    };
    const without = { ...entries };
    delete without['Transformer/encoderblock_1/LayerNorm_2/scale.npy'];
    const reshaped = { ...entries, 'cls.npy': encodeNpy('<f4', [1, 1, 23], new Float32Array(23)) };
    const ints = { ...entries, 'cls.npy': encodeNpy('|u1', [1, 1, 24], new Uint8Array(24)) };
    const cases: [string[], RegExp][] = [
      [
        ['--checkpoint', bad('cut.npz', vit.subarray(0, vit.length - 100))],
        /CorruptFileError: .*cut\.npz: .*(truncated|central directory)/,
      ],
      [
        ['--checkpoint', bad('missing.npz', storedZip(without))],
        /CheckpointKeysError: the checkpoint does not fit a ViT: missing key Transformer\/encoderblock_1\/LayerNorm_1\/scale \(Linen numbering/,
      ],
      [
        ['--checkpoint', bad('shape.npz', storedZip(reshaped))],
        /CheckpointKeysError: .*wrong shape: cls is \[1,1,23\], expected \[1,1,24\]/,
      ],
      [['--checkpoint', bad('ints.npz', storedZip(ints))], /NpyFormatError: .*cls: dtype '\|u1' is not a float array/],
      [['--checkpoint', join(tmp, 'nope.npz')], /DatasetNotFoundError/],
      [['--checkpoint', join(FIXTURES, 'vit.npz'), '--layers', '4'], /has 3 blocks: --layers 4 is out of range/],
      [['--checkpoint', join(FIXTURES, 'mixer.npz'), '--tensors', 'att'], /is an MLP-Mixer: only the block output 'res'/],
      [['--checkpoint', join(FIXTURES, 'vit.npz'), '--tensors', 'qkv'], /'qkv' is not a tensor/],
      [['--checkpoint', join(FIXTURES, 'vit.npz'), '--threshold', '1.5'], /fraction in \(0, 1\]/],
      [['--checkpoint', join(FIXTURES, 'vit.npz'), '--seeds', '2'], /--seeds does not apply/],
      [['--preset', 'table1', '--checkpoint', 'vit-b16'], /drop --checkpoint/],
      [['--checkpoint', join(FIXTURES, 'vit.npz'), '--images', join(FIXTURES, 'vit.npz')], /NpyFormatError|not an \.npy/],
    ];
    for (const [args, message] of cases) {
      const r = await cli([
        ...(args.includes('--images') ? [] : ['--images', images]),
        ...args,
        '--examples',
        '8',
        '--out',
        join(tmp, `bad-${cases.findIndex((c) => c[0] === args)}`),
      ]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });

  it('Ctrl-C saves the batches done; --resume continues to the same ranks as an uninterrupted run', async () => {
    const out = join(tmp, 'resume');
    const first = await cli(
      ['--checkpoint', join(FIXTURES, 'vit.npz'), '--images', images, '--examples', '48', '--batch-size', '16', '--out', out],
      true,
    );
    expect(first.code).toBe(130);
    expect(first.stderr).toMatch(/resume with: samrank-repro vit-ranks --resume --out/);
    const second = await cli(['--resume', '--out', out]);
    expect(second.code).toBe(0);
    const ranks = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).ranks as { layer: number; rank: number }[];
    expect(ranks.map((r) => r.layer)).toEqual([2, 3]);
    for (const r of ranks) expectRank(r.rank, expected.models.vit.layers[String(r.layer)]!['res']!, `L${r.layer}`);
    // Mid-job: a job saved after one batch and rebuilt from that state ends where an uninterrupted one does.
    const config = (
      await vitRanksDefinition.prepare(
        resolveVitRanksConfig(
          {},
          { checkpoint: join(FIXTURES, 'vit.npz'), images, examples: 48, batchSize: 16, tensors: ['att', 'res'], saveFeatures: true },
        ),
        () => {},
        { runDir: join(tmp, 'mid') },
      )
    ).config as VitRanksConfig;
    mkdirSync(join(tmp, 'mid'), { recursive: true });
    const a = createVitRanksJob(config, { runDir: join(tmp, 'mid') }, 0);
    await a.step(0);
    const state = await a.save();
    expect(state).toMatchObject({ batches: 1, partial: { file: 'vit-ranks-partial/checkpoint-0.bin' } });
    a.dispose();
    const b = createVitRanksJob(config, { runDir: join(tmp, 'mid') }, 0, state);
    await b.step(1);
    await b.step(2);
    const resumed = b.evaluate(3, [true])[0]!;
    b.dispose();
    const c = createVitRanksJob(config, { runDir: join(tmp, 'mid2') }, 0);
    mkdirSync(join(tmp, 'mid2'), { recursive: true });
    for (let s = 0; s < 3; s++) await c.step(s);
    expect(resumed.ranks).toEqual(c.evaluate(3, [true])[0]!.ranks);
    expect(resumed.active).toEqual(c.evaluate(3, [true])[0]!.active);
    c.dispose();
    const f = decodeNpy(new Uint8Array(readFileSync(join(tmp, 'mid', 'features', 'L3-res.npy'))), 'f');
    compareFeatures(f.data, expected.models.vit.layers['3']!['res']!.features, 'resumed features');
  });
});
