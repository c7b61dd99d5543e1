/**
 * One vit-ranks job: one checkpoint. Each runner step is one batch of images through the model (eval mode, no
 * head, stopping after the deepest probed block); the probed tensors stream into Gram accumulators (and, with
 * --save-features, into .npy files), the GeLU outputs of every block run into the active-unit counter. Zero
 * training: the single evaluation after the last batch reads the ranks off the accumulators. At Ctrl-C the
 * accumulators go to a partial-state file in the run folder, so --resume continues with the next batch.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { NpyMatrixWriter, type VisionImageSource, openVisionImages, readNpz } from '@samrank/data';
import { type Model, type ParamValues, disposeState, visionCheckpoint } from '@samrank/models';
import { z } from 'zod';
import { ResumeError } from '../errors.js';
import { writeFileAtomic } from '../runner/files.js';
import type { TrainingJob } from '../runner/definition.js';
import { type ActiveUnits, SampleCenteredGram, TopActivations, decodePartial, encodePartial } from './accumulators.js';
import type { CheckpointEntry, VitRanksConfig } from './config.js';

/** What a finished job's evaluation hands the metrics. */
export interface VitRanksContext {
  /** Rank per `L<layer>.<tensor>`. */
  ranks: Record<string, number>;
  /** Active GeLU units per block (ViT only). */
  active: Record<number, ActiveUnits>;
  examples: number;
}

export const vitRanksStateSchema = z.object({
  /** Batches already added (the runner's step count at the stop). */
  batches: z.number().int().nonnegative(),
  /** Partial-state file (relative to the run folder) and its sha256; null when no batch was done. */
  partial: z.object({ file: z.string(), sha256: z.string() }).nullable(),
});
export type VitRanksState = z.infer<typeof vitRanksStateSchema>;

/** What the job needs from prepare. */
export interface VitRanksPrepared {
  runDir: string | null;
}

/** The probed (layer, tensor) pairs of a checkpoint, deepest-last. */
export function probes(config: VitRanksConfig, c: CheckpointEntry): { layer: number; tensor: string; tap: string }[] {
  const layers = [...(c.layers ?? [])].sort((a, b) => a - b);
  return layers.flatMap((layer) => config.tensors.map((tensor) => ({ layer, tensor, tap: `L${layer}.${tensor}` })));
}

/** Feature files of a checkpoint: features/ for a single checkpoint, features/<id>/ with several. */
export function featureDir(config: VitRanksConfig, c: CheckpointEntry): string {
  return config.checkpoints.length === 1 ? 'features' : join('features', c.id);
}

/** Folder of the partial-state files of interrupted jobs, in the run folder. */
export const PARTIAL_DIR = 'vit-ranks-partial';
const partialName = (index: number) => join(PARTIAL_DIR, `checkpoint-${index}.bin`);

/** Builds the job of checkpoint `index`, fresh or from a saved state. */
export function createVitRanksJob(
  config: VitRanksConfig,
  prepared: VitRanksPrepared,
  index: number,
  resume?: VitRanksState,
): TrainingJob<VitRanksContext, VitRanksState> {
  const entry = config.checkpoints[index]!;
  if (!entry.path || !entry.architecture || !entry.resolution || !entry.layers || !entry.depth)
    throw new Error(`internal: checkpoint ${entry.id} was not prepared`);
  const { model, params } = loadModel(entry.path);
  const resolution = entry.resolution;
  const wanted = probes(config, entry);
  const deepest = Math.max(...entry.layers);
  const isVit = entry.architecture === 'vit';
  // The GeLU count covers every block the pass runs anyway (1 … deepest probed block).
  const geluBlocks = isVit ? Array.from({ length: deepest }, (_, i) => i + 1) : [];
  const taps = [...new Set([...wanted.map((w) => w.tap), ...geluBlocks.map((b) => `L${b}.gelu`)])];
  const dims = new Map<string, number>();
  for (const w of wanted) dims.set(w.tap, w.tensor === 'pregelu' || w.tensor === 'gelu' ? entry.mlpDim! : tapWidth(model));
  const activeExamples = Math.min(config.activeExamples, config.examples);

  let batches = 0;
  const grams = new Map<string, SampleCenteredGram>();
  const tops = new Map<number, TopActivations>();
  if (resume && resume.batches > 0) {
    if (!resume.partial || !prepared.runDir) throw new ResumeError(`the checkpoint of ${entry.id} has no partial state to continue from`);
    const file = join(prepared.runDir, resume.partial.file);
    if (!existsSync(file)) throw new ResumeError(`${file} (the accumulated features of ${entry.id}) is missing; rerun with --force`);
    const bytes = new Uint8Array(readFileSync(file));
    if (createHash('sha256').update(bytes).digest('hex') !== resume.partial.sha256)
      throw new ResumeError(`${file} does not have the sha256 the checkpoint recorded; rerun with --force`);
    const saved = decodePartial(bytes);
    for (const w of wanted)
      grams.set(
        w.tap,
        new SampleCenteredGram(dims.get(w.tap)!, {
          rows: saved.header[`rows:${w.tap}`] as number,
          gram: saved.arrays[`gram:${w.tap}`] as Float64Array,
        }),
      );
    for (const b of geluBlocks) {
      const h = saved.header[`top:${b}`] as { max: number; seen: number };
      tops.set(
        b,
        new TopActivations(entry.mlpDim!, activeExamples, {
          top: saved.arrays[`top:${b}`] as Float32Array,
          max: h.max ?? -Infinity,
          seen: h.seen,
        }),
      );
    }
    batches = resume.batches;
  } else {
    for (const w of wanted) grams.set(w.tap, new SampleCenteredGram(dims.get(w.tap)!));
    for (const b of geluBlocks) tops.set(b, new TopActivations(entry.mlpDim!, activeExamples));
  }

  const writers = new Map<string, NpyMatrixWriter>();
  if (config.saveFeatures) {
    if (!prepared.runDir) throw new Error('internal: --save-features needs the run folder');
    const dir = join(prepared.runDir, featureDir(config, entry));
    mkdirSync(dir, { recursive: true });
    for (const w of wanted) {
      writers.set(
        w.tap,
        new NpyMatrixWriter(
          join(dir, `L${w.layer}-${w.tensor}.npy`),
          config.examples,
          dims.get(w.tap)!,
          batches > 0 ? { resumeRows: batches * config.batchSize } : {},
        ),
      );
    }
  }
  let images: VisionImageSource | null = openVisionImages(config.images, { limit: config.examples });

  return {
    step(step) {
      const start = step * config.batchSize;
      const count = Math.min(config.batchSize, config.examples - start);
      const pixels = images!.read(start, count, resolution);
      const finite = tf.tidy(() => {
        const x = tf.tensor4d(pixels, [count, resolution, resolution, 3]);
        const out = model.apply(params, null, x, { training: false, output: false, taps });
        const values = Object.values(out.taps);
        if (!tf.all(tf.stack(values.map((t) => tf.all(tf.isFinite(t))))).dataSync()[0]) return false;
        for (const w of wanted) {
          const t = out.taps[w.tap]!;
          grams.get(w.tap)!.add(t);
          writers.get(w.tap)?.writeRows(start, t.dataSync() as Float32Array);
        }
        for (const b of geluBlocks) tops.get(b)!.add(out.taps[`L${b}.gelu`]!);
        return true;
      });
      batches = step + 1;
      return finite ? [] : [0];
    },
    evaluate(_step, live) {
      if (!live[0]) return [null];
      for (const w of writers.values()) w.finish();
      writers.clear();
      const ranks: Record<string, number> = {};
      for (const [tap, g] of grams) ranks[tap] = g.rank(config.threshold);
      const active: Record<number, ActiveUnits> = {};
      for (const [b, t] of tops) active[b] = t.result();
      return [{ ranks, active, examples: config.examples }];
    },
    async save() {
      if (batches === 0 || !prepared.runDir) return { batches: 0, partial: null };
      const header: Record<string, unknown> = { checkpoint: entry.id, batches };
      const arrays: Record<string, Float64Array | Float32Array> = {};
      for (const [tap, g] of grams) {
        header[`rows:${tap}`] = g.rows;
        arrays[`gram:${tap}`] = g.gram;
      }
      for (const [b, t] of tops) {
        header[`top:${b}`] = { max: Number.isFinite(t.max) ? t.max : null, seen: t.seen };
        arrays[`top:${b}`] = t.top;
      }
      const bytes = encodePartial({ header, arrays });
      const file = partialName(index);
      mkdirSync(join(prepared.runDir, PARTIAL_DIR), { recursive: true });
      await writeFileAtomic(join(prepared.runDir, file), bytes);
      return { batches, partial: { file, sha256: createHash('sha256').update(bytes).digest('hex') } };
    },
    dispose() {
      for (const w of writers.values()) w.close();
      images?.close();
      images = null;
      disposeState(params as Record<string, tf.Tensor>);
      // A finished job's partial state is no longer needed.
      if (prepared.runDir && batches * config.batchSize >= config.examples) {
        rmSync(join(prepared.runDir, partialName(index)), { force: true });
        if (index === config.checkpoints.length - 1) rmSync(join(prepared.runDir, PARTIAL_DIR), { recursive: true, force: true });
      }
    },
  };
}

function tapWidth(model: Model): number {
  const cfg = (model as unknown as { config: { hiddenSize?: number; hiddenDim?: number } }).config;
  return cfg.hiddenSize ?? cfg.hiddenDim!;
}

function loadModel(path: string): { model: Model; params: ParamValues } {
  const ck = visionCheckpoint(readNpz(path));
  return { model: ck.model, params: ck.params };
}
