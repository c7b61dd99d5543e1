/**
 * What a checkpoint file is, before any tensor is made: its keys and shapes (array headers only) give the
 * architecture, sizes and resolution; the blocks and tensors asked for are checked against them. A local file is
 * inspected while the flags are resolved (so a wrong file is one line and exit 2 before anything is written); a
 * known checkpoint once it is downloaded.
 */
import { NpyFormatError, NpzFile } from '@samrank/data';
import { inspectVisionCheckpoint } from '@samrank/models';
import { ExperimentConfigError } from '../errors.js';
import { type CheckpointEntry, defaultLayers } from './config.js';

/** `entry` with the fields the file tells filled in; throws for a file that is not a usable ViT / Mixer checkpoint. */
export function inspectCheckpointFile(
  entry: CheckpointEntry,
  path: string,
  layers: readonly number[] | null,
  tensors: readonly string[],
): CheckpointEntry {
  const npz = new NpzFile(path);
  const shapes: Record<string, number[]> = {};
  try {
    for (const name of npz.names) {
      const h = npz.peekHeader(name);
      if (h.dtype === '|u1')
        throw new NpyFormatError(`${path}:${name}`, 'dtype', "dtype '|u1' is not a float array (float32 '<f4' or float64 '<f8')");
      shapes[name] = h.shape;
    }
  } finally {
    npz.close();
  }
  const info = inspectVisionCheckpoint(shapes);
  const depth = info.options.depth;
  const chosen = layers ? [...layers] : defaultLayers(depth);
  const bad = chosen.filter((l) => l > depth);
  if (bad.length)
    throw new ExperimentConfigError(`${entry.id} has ${depth} blocks: --layers ${bad.join(',')} is out of range (1…${depth})`);
  if (info.architecture === 'mixer') {
    const other = tensors.filter((t) => t !== 'res');
    if (other.length)
      throw new ExperimentConfigError(
        `${entry.id} is an MLP-Mixer: only the block output 'res' is probed (averaged over tokens), not ${other.join(', ')}`,
      );
  }
  return {
    ...entry,
    path,
    architecture: info.architecture,
    description: info.description + (info.naming === 'pre-linen' ? ' (pre-Linen names)' : ''),
    resolution: info.options.imageSize,
    depth,
    mlpDim: info.architecture === 'vit' ? info.options.mlpDim : info.options.channelsMlpDim,
    layers: chosen,
  };
}
