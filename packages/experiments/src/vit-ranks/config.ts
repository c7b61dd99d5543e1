/**
 * vit-ranks: feature ranks inside pretrained ViTs and MLP-Mixers (the paper's Table 1 and the per-layer tensors of
 * Fig. 7; docs/paper-notes.md §13). The flags, the config and its two presets: `single` (one checkpoint, any
 * layers and tensors) and `table1` (the ten checkpoints of Table 1 at the layers of the original README's commands).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  DatasetNotFoundError,
  VISION_CHECKPOINTS,
  type VisionCheckpointName,
  isVisionCheckpointName,
  openVisionImages,
} from '@samrank/data';
import { VIT_TENSORS } from '@samrank/models';
import { z } from 'zod';
import { ExperimentConfigError } from '../errors.js';
import type { CommonValues } from '../runner/definition.js';
import { type FlagValues, flag, integerList, text, toggle, wholeNumber } from '../runner/flags.js';
import { inspectCheckpointFile } from './inspect.js';

export const VIT_RANKS_PRESETS = ['single', 'table1'] as const;

/** The examples of the paper's runs: 100 batches of 128 ImageNet training images. */
export const PAPER_EXAMPLES = 12_800;
/** Examples of the ViT GeLU active-unit count (docs/paper-notes.md §4.2). */
export const ACTIVE_EXAMPLES = 1280;

function tensorList(): z.ZodType<string[], string> {
  return z.string().transform((raw, ctx) => {
    const parts = raw.split(',').map((s) => s.trim());
    const bad = parts.find((p) => !(VIT_TENSORS as readonly string[]).includes(p));
    if (bad !== undefined) {
      ctx.addIssue({ code: 'custom', message: `'${bad}' is not a tensor (${VIT_TENSORS.join(', ')})` });
      return z.NEVER;
    }
    if (new Set(parts).size !== parts.length) {
      ctx.addIssue({ code: 'custom', message: 'tensors must be distinct' });
      return z.NEVER;
    }
    return parts;
  });
}

function fraction(): z.ZodType<number, string> {
  return z.string().transform((raw, ctx) => {
    const v = Number(raw.trim());
    if (!/^\s*(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(raw) || !(v > 0 && v <= 1)) {
      ctx.addIssue({ code: 'custom', message: `expected a fraction in (0, 1], e.g. 0.99` });
      return z.NEVER;
    }
    return v;
  });
}

export const VIT_RANKS_FLAGS = {
  checkpoint: flag(
    '--checkpoint <file|name>',
    `an .npz checkpoint, or a known name (${Object.keys(VISION_CHECKPOINTS).join(', ')}) downloaded on first use`,
    text(),
  ),
  images: flag(
    '--images <file|folder>',
    'an .npy uint8 array [N, H, W, 3], or a folder of JPEGs (class subfolders taken round-robin)',
    text(),
  ),
  imagenet: flag('--imagenet <dir>', 'an ImageNet root: its train/ split is used (the paper probes training images)', text()),
  layers: flag(
    '--layers <list>',
    'blocks to probe, 1-based, e.g. 6,8,12 (default: last, 2/3 and 1/2 of the depth; 1/3 from 24 blocks on)',
    integerList(1),
  ),
  tensors: flag('--tensors <list>', `tensors per block: ${VIT_TENSORS.join(', ')} (default res; a Mixer has res only)`, tensorList()),
  examples: flag('--examples <n>', `images to use, the first n (default ${PAPER_EXAMPLES}, as the paper)`, wholeNumber(1)),
  threshold: flag('--threshold <p>', 'share of the variance the rank must exceed (default 0.99)', fraction()),
  batchSize: flag('--batch-size <n>', 'images per forward pass (default 16; memory grows with it)', wholeNumber(1, 4096)),
  saveFeatures: toggle('--save-features', 'also write features/L<layer>-<tensor>.npy (float32 [N, D]) per probed tensor'),
  activeExamples: flag(
    '--active-examples <n>',
    `images the active-GeLU count uses, the first n (default ${ACTIVE_EXAMPLES}, as the paper)`,
    wholeNumber(1),
  ),
  checkpointDir: flag(
    '--checkpoint-dir <dir>',
    'where known checkpoints are stored (default $SAMRANK_CHECKPOINT_DIR or ~/.cache/samrank/checkpoints)',
    text(),
  ),
  offline: toggle('--offline', 'never download: a known checkpoint must already be in --checkpoint-dir'),
};
export type VitRanksFlags = typeof VIT_RANKS_FLAGS;

const checkpointSchema = z.object({
  /** Short label: the known name, or the file name without .npz. */
  id: z.string(),
  /** The file (absolute path) or the known name, as given. */
  source: z.string(),
  known: z.string().nullable(),
  /** Table 1's column and row, for the table1 preset. */
  table1: z.object({ column: z.string(), training: z.enum(['standard', 'sam']) }).nullable(),
  /** Filled in by prepare from the checkpoint itself. */
  path: z.string().nullable(),
  architecture: z.enum(['vit', 'mixer']).nullable(),
  description: z.string().nullable(),
  resolution: z.number().int().positive().nullable(),
  depth: z.number().int().positive().nullable(),
  mlpDim: z.number().int().positive().nullable(),
  layers: z.array(z.number().int().positive()).nullable(),
  sha256: z.string().nullable(),
});
export type CheckpointEntry = z.infer<typeof checkpointSchema>;

export const vitRanksConfigSchema = z.object({
  preset: z.enum(VIT_RANKS_PRESETS),
  /** The runner's seed list: one (nothing here is random). */
  seeds: z.tuple([z.literal(0)]),
  checkpoints: z.array(checkpointSchema).min(1),
  images: z.string(),
  /** Images used: the first `examples` (lowered by prepare to what the source holds). */
  examples: z.number().int().positive(),
  threshold: z.number().gt(0).lte(1),
  tensors: z.array(z.enum(VIT_TENSORS)).min(1),
  /** Blocks asked for with --layers (null: each checkpoint's default). */
  layers: z.array(z.number().int().positive()).nullable(),
  batchSize: z.number().int().positive(),
  saveFeatures: z.boolean(),
  activeExamples: z.number().int().positive(),
  checkpointDir: z.string().nullable(),
  offline: z.boolean(),
});
export type VitRanksConfig = z.infer<typeof vitRanksConfigSchema>;

/** Table 1's columns in the paper's order, with the standard and SAM checkpoint of each. */
export const TABLE1_COLUMNS: readonly { column: string; standard: VisionCheckpointName; sam: VisionCheckpointName }[] = [
  { column: 'ViT-B/16', standard: 'vit-b16', sam: 'vit-b16-sam' },
  { column: 'ViT-B/32', standard: 'vit-b32', sam: 'vit-b32-sam' },
  { column: 'ViT-L/16', standard: 'vit-l16', sam: 'vit-l16-sam' },
  { column: 'ViT-L/32', standard: 'vit-l32', sam: 'vit-l32-sam' },
  { column: 'Mixer-B/16', standard: 'mixer-b16', sam: 'mixer-b16-sam' },
];

/** Table 1's rows: which block, and the values per column and training (docs/paper-notes.md §13.2). */
export const TABLE1_PAPER: readonly {
  position: 'last' | 'upper' | 'lower';
  label: string;
  standard: readonly number[];
  sam: readonly number[];
}[] = [
  { position: 'last', label: 'last block', standard: [680, 672, 903, 898, 695], sam: [617, 654, 820, 844, 620] },
  { position: 'upper', label: 'block 2/3 (the table says 3/4)', standard: [467, 484, 595, 595, 301], sam: [426, 440, 314, 442, 477] },
  { position: 'lower', label: 'block 1/2 (1/3 for ViT-L)', standard: [412, 390, 387, 469, 425], sam: [346, 362, 250, 318, 369] },
];

/**
 * The blocks the original README's commands probe: the last, 2/3 of the depth, and 1/2 (1/3 from 24 blocks on:
 * 12, 8, 6 for ViT-B and Mixer-B; 24, 16, 8 for ViT-L), in that order (Table 1's rows).
 */
export function defaultLayers(depth: number): number[] {
  const lower = depth >= 24 ? Math.round(depth / 3) : Math.round(depth / 2);
  return [...new Set([depth, Math.round((2 * depth) / 3), lower].map((l) => Math.max(1, l)))];
}

const entry = (source: string, known: VisionCheckpointName | null, table1: CheckpointEntry['table1'] = null): CheckpointEntry => ({
  id: known ?? (source.split(/[\\/]/).pop() ?? source).replace(/\.npz$/i, ''),
  source,
  known,
  table1,
  path: null,
  architecture: null,
  description: null,
  resolution: null,
  depth: null,
  mlpDim: null,
  layers: null,
  sha256: null,
});

/** Builds the config from the preset and the flags; UsageError-class errors name what is wrong. */
export function resolveVitRanksConfig(common: CommonValues, values: FlagValues<VitRanksFlags>): VitRanksConfig {
  const preset = (common.preset ?? 'single') as VitRanksConfig['preset'];
  for (const [name, v] of [
    ['--seeds', common.seeds],
    ['--seed', common.seed],
    ['--iterations', common.iterations],
  ] as const) {
    if (v !== undefined) throw new ExperimentConfigError(`vit-ranks trains nothing and draws nothing at random: ${name} does not apply`);
  }
  if (values.images && values.imagenet) throw new ExperimentConfigError('give --images or --imagenet, not both');
  const images = values.images ?? (values.imagenet ? resolve(values.imagenet) : undefined);
  if (!images)
    throw new ExperimentConfigError(
      `vit-ranks needs images: --images <file.npy | folder>${preset === 'table1' ? ' or --imagenet <ImageNet root>' : ''}`,
    );
  let checkpoints: CheckpointEntry[];
  if (preset === 'table1') {
    if (values.checkpoint)
      throw new ExperimentConfigError('--preset table1 runs its ten checkpoints; drop --checkpoint (or run --preset single)');
    if (values.layers) throw new ExperimentConfigError("--preset table1 probes the README's blocks (last, 2/3, 1/2 or 1/3); drop --layers");
    checkpoints = TABLE1_COLUMNS.flatMap((c) => [
      entry(c.standard, c.standard, { column: c.column, training: 'standard' }),
      entry(c.sam, c.sam, { column: c.column, training: 'sam' }),
    ]);
  } else {
    if (!values.checkpoint)
      throw new ExperimentConfigError(
        `vit-ranks needs --checkpoint <file.npz | name> (names: ${Object.keys(VISION_CHECKPOINTS).join(', ')})`,
      );
    const c = values.checkpoint;
    if (isVisionCheckpointName(c)) checkpoints = [entry(c, c)];
    else {
      const path = resolve(c);
      if (!existsSync(path))
        throw new DatasetNotFoundError(
          `checkpoint ${c}`,
          [path],
          `Pass --checkpoint an .npz file or a known name (${Object.keys(VISION_CHECKPOINTS).join(', ')}).`,
        );
      checkpoints = [inspectCheckpointFile(entry(path, null), path, values.layers ?? null, values.tensors ?? ['res'])];
    }
  }
  // The images are looked at now too: a missing folder or a bad array is one line before anything is written.
  openVisionImages(resolve(images), { limit: 1 }).close();
  return vitRanksConfigSchema.parse({
    preset,
    seeds: [0],
    checkpoints,
    images: resolve(images),
    examples: values.examples ?? PAPER_EXAMPLES,
    threshold: values.threshold ?? 0.99,
    tensors: values.tensors ?? ['res'],
    layers: values.layers ? [...values.layers] : null,
    batchSize: values.batchSize ?? 16,
    saveFeatures: values.saveFeatures ?? false,
    activeExamples: values.activeExamples ?? ACTIVE_EXAMPLES,
    checkpointDir: values.checkpointDir ? resolve(values.checkpointDir) : null,
    offline: values.offline ?? false,
  });
}
