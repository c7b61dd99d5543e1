/**
 * The published ViT and MLP-Mixer checkpoints of the paper's Table 1 (and the R+Ti/16 AugReg model of its MS-COCO
 * tower), downloadable by name from Google's public buckets (docs/paper-notes.md §13.1). No digests are published
 * for them, so a download is verified by its length (the server's Content-Length) and its structure: a complete zip
 * whose every entry passes its CRC-32 and is a float32/float64 .npy array. Whether the arrays make the expected
 * model is checked where the model is built (@samrank/models' `visionCheckpoint`).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type DownloadProgress, downloadChecked } from './download.js';
import { DatasetNotFoundError } from './errors.js';
import { NpyFormatError } from './npy.js';
import { NpzFile } from './npz.js';

/** One known checkpoint. */
export interface VisionCheckpointSource {
  /** Path under the bucket host (as in the original README's `gs://` paths, '+' escaped). */
  path: string;
  architecture: 'vit' | 'mixer';
  /** Row of Table 1: 'standard' (no SAM) or 'sam'; 'augreg' for the R+Ti/16 tower. */
  training: 'standard' | 'sam' | 'augreg';
  /** Input resolution the position embedding (token-mixing MLP) fixes. */
  resolution: number;
  /** Blocks. */
  depth: number;
  /** Table 1's column. */
  label: string;
  /** How it was trained, in one line. */
  description: string;
}

/** Host of the public buckets (`gs://vit_models`, `gs://mixer_models`). */
export const VISION_CHECKPOINT_BASE_URL = 'https://storage.googleapis.com/';

const vit = (size: 'B' | 'L', patch: 16 | 32, sam: boolean): VisionCheckpointSource => ({
  path: sam ? `vit_models/sam/ViT-${size}_${patch}.npz` : `vit_models/imagenet21k%2Bimagenet2012/ViT-${size}_${patch}.npz`,
  architecture: 'vit',
  training: sam ? 'sam' : 'standard',
  resolution: sam ? 224 : 384,
  depth: size === 'B' ? 12 : 24,
  label: `ViT-${size}/${patch}`,
  description: sam
    ? 'trained from scratch on ImageNet-1k with SAM (Chen et al., 2022), 224 px'
    : 'pre-trained on ImageNet-21k, fine-tuned on ImageNet-1k, 384 px',
});

/**
 * The known checkpoints by name: Table 1's ten (ViT-B/16, B/32, L/16, L/32 and Mixer-B/16, each standard and SAM)
 * and the AugReg R+Ti/16 the MS-COCO experiments start from.
 */
export const VISION_CHECKPOINTS = Object.freeze({
  'vit-b16': vit('B', 16, false),
  'vit-b16-sam': vit('B', 16, true),
  'vit-b32': vit('B', 32, false),
  'vit-b32-sam': vit('B', 32, true),
  'vit-l16': vit('L', 16, false),
  'vit-l16-sam': vit('L', 16, true),
  'vit-l32': vit('L', 32, false),
  'vit-l32-sam': vit('L', 32, true),
  'mixer-b16': {
    path: 'mixer_models/imagenet1k/Mixer-B_16.npz',
    architecture: 'mixer',
    training: 'standard',
    resolution: 224,
    depth: 12,
    label: 'Mixer-B/16',
    description: 'trained on ImageNet-1k, 224 px',
  },
  'mixer-b16-sam': {
    path: 'mixer_models/sam/Mixer-B_16.npz',
    architecture: 'mixer',
    training: 'sam',
    resolution: 224,
    depth: 12,
    label: 'Mixer-B/16',
    description: 'trained from scratch on ImageNet-1k with SAM (Chen et al., 2022), 224 px',
  },
  'r-ti16-augreg': {
    path: 'vit_models/augreg/R_Ti_16-i21k-300ep-lr_0.001-aug_none-wd_0.03-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_384.npz',
    architecture: 'vit',
    training: 'augreg',
    resolution: 384,
    depth: 12,
    label: 'R+Ti/16',
    description: 'AugReg hybrid (ResNet root + ViT-Ti), ImageNet-21k then ImageNet-1k at 384 px',
  },
} satisfies Record<string, VisionCheckpointSource>);

/** A known checkpoint name. */
export type VisionCheckpointName = keyof typeof VISION_CHECKPOINTS;

/** True for a name of {@link VISION_CHECKPOINTS}. */
export function isVisionCheckpointName(name: string): name is VisionCheckpointName {
  return Object.hasOwn(VISION_CHECKPOINTS, name);
}

/** `$SAMRANK_CHECKPOINT_DIR`, else `~/.cache/samrank/checkpoints`. */
export function defaultCheckpointDir(): string {
  return process.env['SAMRANK_CHECKPOINT_DIR'] ?? join(homedir(), '.cache', 'samrank', 'checkpoints');
}

/** Where a known checkpoint is stored under `dir`. */
export function visionCheckpointPath(name: VisionCheckpointName, dir = defaultCheckpointDir()): string {
  return join(dir, `${name}.npz`);
}

/**
 * Checks that `path` is a complete .npz of float arrays: the zip's central directory, every entry's CRC-32, every
 * array header (float32 or float64). Throws `CorruptFileError` or `NpyFormatError`. Returns the array count.
 */
export function checkNpzStructure(path: string): number {
  const npz = new NpzFile(path);
  try {
    if (npz.names.length === 0) throw new NpyFormatError(path, 'header', 'the archive holds no .npy arrays');
    for (const name of npz.names) {
      const { dtype } = npz.header(name);
      if (dtype === '|u1') throw new NpyFormatError(`${path}:${name}`, 'dtype', "dtype '|u1' is not a float array");
    }
    return npz.names.length;
  } finally {
    npz.close();
  }
}

/** Options of {@link downloadVisionCheckpoint}. */
export interface VisionCheckpointDownloadOptions {
  /** Folder of the checkpoints (default {@link defaultCheckpointDir}). */
  dir?: string;
  /** Replaces {@link VISION_CHECKPOINT_BASE_URL} (a mirror; the tests' local server). */
  baseUrl?: string;
  /** false: only look for the file (a missing one is a `DatasetNotFoundError`). Default true. */
  download?: boolean;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

/**
 * The local path of a known checkpoint, downloading it first when missing (resumable: an interrupted download
 * continues from `<file>.part`). The file is accepted only complete and structurally sound (see the module
 * comment); a damaged part is removed. Returns whether it was fetched now.
 */
export async function downloadVisionCheckpoint(
  name: VisionCheckpointName,
  options: VisionCheckpointDownloadOptions = {},
): Promise<{ path: string; downloaded: boolean; url: string }> {
  const source = VISION_CHECKPOINTS[name];
  const dir = options.dir ?? defaultCheckpointDir();
  const path = visionCheckpointPath(name, dir);
  const base = options.baseUrl ?? VISION_CHECKPOINT_BASE_URL;
  const url = new URL(source.path, base.endsWith('/') ? base : `${base}/`).toString();
  if (options.download === false) {
    if (!existsSync(path)) {
      throw new DatasetNotFoundError(`checkpoint ${name}`, [path], `Download it (${url}) into that folder, or run without --no-download.`);
    }
    checkNpzStructure(path);
    return { path, downloaded: false, url };
  }
  mkdirSync(dir, { recursive: true });
  const result = await downloadChecked(url, path, {
    check: (p) => {
      checkNpzStructure(p);
    },
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { path, downloaded: result.downloaded, url };
}
