/**
 * `samrank-repro vit-ranks`: ranks of the features inside pretrained ViTs and MLP-Mixers (paper Table 1, Fig. 7;
 * docs/paper-notes.md §13) through the runner: one job per checkpoint, one runner step per batch of images, zero
 * training, one evaluation at the end. results.json, report.md, the folder checks, the lock, Ctrl-C and --resume
 * are the runner's; the definition adds the per-checkpoint rank lists to results.json and Table 1 to report.md.
 */
import { existsSync, statSync } from 'node:fs';
import { DatasetNotFoundError, downloadVisionCheckpoint, hashFileSync, isVisionCheckpointName, openVisionImages } from '@samrank/data';
import { ExperimentConfigError } from '../errors.js';
import { inspectCheckpointFile } from './inspect.js';
import type { DataSourceRecord, ExperimentDefinition, Metric } from '../runner/definition.js';
import { finalValue, type RunResult } from '../runner/results.js';
import {
  type CheckpointEntry,
  TABLE1_COLUMNS,
  TABLE1_PAPER,
  VIT_RANKS_FLAGS,
  VIT_RANKS_PRESETS,
  type VitRanksConfig,
  type VitRanksFlags,
  resolveVitRanksConfig,
  vitRanksConfigSchema,
} from './config.js';
import {
  PARTIAL_DIR,
  type VitRanksContext,
  type VitRanksPrepared,
  type VitRanksState,
  createVitRanksJob,
  featureDir,
  probes,
  vitRanksStateSchema,
} from './job.js';

const rankKey = (layer: number, tensor: string) => `rank.L${layer}.${tensor}`;
const activeKey = (block: number) => `activeGelu.L${block}`;

/** Every (layer, tensor) probed by some checkpoint, by layer then tensor order. */
function allProbes(config: VitRanksConfig): { layer: number; tensor: string }[] {
  const seen = new Map<string, { layer: number; tensor: string }>();
  for (const c of config.checkpoints) for (const p of probes(config, c)) seen.set(rankKey(p.layer, p.tensor), p);
  return [...seen.values()].sort(
    (a, b) => a.layer - b.layer || config.tensors.indexOf(a.tensor as never) - config.tensors.indexOf(b.tensor as never),
  );
}

function geluBlocks(config: VitRanksConfig): number[] {
  const deepest = Math.max(0, ...config.checkpoints.filter((c) => c.architecture === 'vit').map((c) => Math.max(...(c.layers ?? [0]))));
  return Array.from({ length: deepest }, (_, i) => i + 1);
}

function metrics(config: VitRanksConfig): Metric<VitRanksContext>[] {
  const single = config.checkpoints.length === 1;
  return [
    ...allProbes(config).map(
      ({ layer, tensor }): Metric<VitRanksContext> => ({
        key: rankKey(layer, tensor),
        title: `rank, block ${layer} ${tensor}`,
        // The CLI's summary table: every tensor of one checkpoint, the residual stream of several.
        ...(single || tensor === 'res' ? { column: `L${layer}.${tensor}` } : {}),
        compute: (e) => e.ranks[`L${layer}.${tensor}`] ?? null,
      }),
    ),
    ...geluBlocks(config).map(
      (b): Metric<VitRanksContext> => ({
        key: activeKey(b),
        title: `active GeLU units, block ${b}`,
        table: false,
        compute: (e) => e.active[b]?.active ?? null,
      }),
    ),
  ];
}

/** The per-checkpoint view of the results: ranks per (layer, tensor) and active GeLU units per block. */
function checkpointResults(config: VitRanksConfig, runs: readonly RunResult[]) {
  return config.checkpoints.map((c, i) => {
    const run = runs.find((r) => r.rho === i);
    const value = (key: string) => (run ? finalValue(run, key) : null);
    const blocks = c.architecture === 'vit' ? Array.from({ length: Math.max(...(c.layers ?? [0])) }, (_, b) => b + 1) : [];
    return {
      checkpoint: c.id,
      file: c.path,
      ...(c.known ? { known: c.known } : {}),
      architecture: c.architecture,
      description: c.description,
      resolution: c.resolution,
      status: run?.status ?? 'missing',
      layers: c.layers,
      ranks: probes(config, c).map((p) => ({ layer: p.layer, tensor: p.tensor, rank: value(rankKey(p.layer, p.tensor)) })),
      activeGelu: blocks.map((b) => {
        const active = value(activeKey(b));
        return { layer: b, active, units: c.mlpDim, fraction: active === null || !c.mlpDim ? null : active / c.mlpDim };
      }),
      ...(c.table1 ? { table1: c.table1 } : {}),
    };
  });
}

/** Our Table 1 beside the paper's: per row (block position, training) and column, both values and the block. */
function table1Rows(config: VitRanksConfig, runs: readonly RunResult[]) {
  const rows: {
    row: string;
    training: 'standard' | 'sam';
    column: string;
    checkpoint: string;
    layer: number;
    ours: number | null;
    paper: number;
  }[] = [];
  for (const [pi, p] of TABLE1_PAPER.entries()) {
    for (const training of ['standard', 'sam'] as const) {
      TABLE1_COLUMNS.forEach((col, ci) => {
        const i = config.checkpoints.findIndex((c) => c.table1?.column === col.column && c.table1.training === training);
        const c = config.checkpoints[i];
        if (!c?.layers) return;
        // layers are stored in Table 1's row order: last, 2/3, 1/2 (1/3).
        const layer = c.layers[pi]!;
        const run = runs.find((r) => r.rho === i);
        rows.push({
          row: p.position,
          training,
          column: col.column,
          checkpoint: c.id,
          layer,
          ours: run ? finalValue(run, rankKey(layer, 'res')) : null,
          paper: p[training][ci]!,
        });
      });
    }
  }
  return rows;
}

function reportTables(runs: readonly RunResult[], config: VitRanksConfig): string[] {
  const lines: string[] = [];
  const fmt = (v: number | null) => (v === null ? '–' : String(v));
  if (config.preset === 'table1') {
    const rows = table1Rows(config, runs);
    lines.push(
      '## Table 1: ours beside the paper',
      '',
      `Feature rank (${100 * config.threshold} % of the variance, row-centred) of the residual stream after the block, ${config.examples} training images; each cell **ours** / paper, block in parentheses. ` +
        "Blocks as in the original README's commands: the last, 2/3 of the depth, and 1/2 (ViT-B, Mixer-B: 12, 8, 6) or 1/3 (ViT-L: 24, 16, 8); the paper's table labels the middle row 3/4 and its fourth column ViT-L/16, which is the L/32 checkpoint.",
      '',
      `| block | training | ${TABLE1_COLUMNS.map((c) => c.column).join(' | ')} |`,
      `|---|---|${TABLE1_COLUMNS.map(() => '---').join('|')}|`,
    );
    for (const p of TABLE1_PAPER) {
      for (const training of ['standard', 'sam'] as const) {
        const cells = TABLE1_COLUMNS.map((col) => {
          const r = rows.find((x) => x.row === p.position && x.training === training && x.column === col.column);
          return r ? `**${fmt(r.ours)}** / ${r.paper} (L${r.layer})` : '–';
        });
        lines.push(`| ${p.label} | ${training === 'sam' ? 'SAM' : 'standard'} | ${cells.join(' | ')} |`);
      }
    }
    const pairs = TABLE1_PAPER.flatMap((p) =>
      TABLE1_COLUMNS.map((col) => {
        const find = (t: 'standard' | 'sam') =>
          rows.find((x) => x.row === p.position && x.training === t && x.column === col.column)?.ours ?? null;
        return { std: find('standard'), sam: find('sam') };
      }),
    ).filter((x) => x.std !== null && x.sam !== null);
    if (pairs.length) {
      const lower = pairs.filter((x) => x.sam! < x.std!).length;
      lines.push(
        '',
        `SAM's checkpoint has the lower rank in ${lower} of ${pairs.length} (block, architecture) pairs (the paper: 14 of 15).`,
      );
    }
    lines.push('');
  }
  for (const c of checkpointResults(config, runs)) {
    lines.push(
      `## ${c.checkpoint}`,
      '',
      `${c.description ?? ''}${c.file ? ` — \`${c.file}\`` : ''}${c.status !== 'ok' ? ` — **${c.status}**` : ''}`,
      '',
    );
    const layers = [...new Set(c.ranks.map((r) => r.layer))];
    lines.push(`| block | ${config.tensors.join(' | ')} |`, `|---|${config.tensors.map(() => '---').join('|')}|`);
    for (const l of layers)
      lines.push(
        `| ${l} | ${config.tensors.map((t) => fmt(c.ranks.find((r) => r.layer === l && r.tensor === t)?.rank ?? null)).join(' | ')} |`,
      );
    if (c.activeGelu.length) {
      const n = Math.min(config.activeExamples, config.examples);
      lines.push(
        '',
        `Active GeLU units (> max/10 on more than 1 % of the first ${n} images, token 0): ` +
          c.activeGelu.map((a) => `block ${a.layer} ${a.fraction === null ? '–' : `${(100 * a.fraction).toFixed(1)} %`}`).join(', ') +
          '.',
      );
    }
    lines.push('');
  }
  return lines;
}

/** Memory of the largest checkpoint twice (arrays, then tensors), the Gram matrices and a batch's activations. */
function estimateMemory(config: VitRanksConfig): number {
  let largest = 0;
  for (const c of config.checkpoints) {
    const path = c.path ?? (c.known ? null : c.source);
    if (path && existsSync(path)) largest = Math.max(largest, statSync(path).size);
    else largest = Math.max(largest, 1.3e9);
  }
  const grams = config.checkpoints.length
    ? config.tensors.length * 3 * 8 * (config.tensors.some((t) => t === 'pregelu' || t === 'gelu') ? 4096 ** 2 : 1024 ** 2)
    : 0;
  return 2 * largest + grams + config.batchSize * 60e6;
}

/** The vit-ranks definition. */
export const vitRanksDefinition: ExperimentDefinition<VitRanksConfig, VitRanksPrepared, VitRanksContext, VitRanksState, VitRanksFlags> = {
  name: 'vit-ranks',
  summary: 'feature ranks inside pretrained ViT / MLP-Mixer checkpoints (Table 1, --preset table1)',
  presets: VIT_RANKS_PRESETS,
  flags: VIT_RANKS_FLAGS,
  resumeFlags: ['checkpointDir', 'offline'],
  configSchema: vitRanksConfigSchema,
  resolveConfig: resolveVitRanksConfig,
  estimateMemory,
  outName: (config) => (config.preset === 'table1' ? 'vit-ranks-table1' : `vit-ranks-${config.checkpoints[0]!.id}`),
  parameter: () => ({ symbol: 'checkpoint', name: 'checkpoint' }),
  banner: (config) =>
    `${config.checkpoints.length === 1 ? config.checkpoints[0]!.id : `${config.checkpoints.length} checkpoints`}, ${config.examples} images from ${config.images}, tensors ${config.tensors.join(',')}`,
  jobs: (config) => config.checkpoints.map((_, i) => [{ rho: i, seed: 0 }]),
  async prepare(config, log, options) {
    const runDir = typeof options['runDir'] === 'string' ? options['runDir'] : null;
    const notes: string[] = [];
    const sources: DataSourceRecord[] = [];
    const checkpoints: CheckpointEntry[] = [];
    for (const c of config.checkpoints) {
      let path = c.path;
      if (!path) {
        if (c.known && isVisionCheckpointName(c.known)) {
          let last = -1;
          const got = await downloadVisionCheckpoint(c.known, {
            ...(config.checkpointDir ? { dir: config.checkpointDir } : {}),
            download: !config.offline,
            onProgress: (p) => {
              const pct = p.totalBytes ? Math.floor((100 * p.bytes) / p.totalBytes) : -1;
              if (p.phase === 'download' && pct >= last + 10) {
                last = pct;
                log(`downloading ${c.known}: ${pct >= 0 ? `${pct} %` : `${(p.bytes / 2 ** 20).toFixed(0)} MiB`}`);
              }
            },
          });
          if (got.downloaded) log(`downloaded ${got.url} -> ${got.path}`);
          path = got.path;
        } else {
          if (!existsSync(c.source))
            throw new DatasetNotFoundError(`checkpoint ${c.id}`, [c.source], 'Pass --checkpoint an .npz file or a known name.');
          path = c.source;
        }
      }
      const inspected = c.architecture && c.path === path ? c : inspectCheckpointFile(c, path, config.layers, config.tensors);
      const sha256 = c.sha256 ?? hashFileSync(path).sha256;
      sources.push({ name: `checkpoint ${c.id}`, location: path, sha256 });
      checkpoints.push({ ...inspected, sha256 });
    }
    const images = openVisionImages(config.images, { limit: config.examples });
    const examples = images.count;
    notes.push(
      `images: ${images.kind === 'npy' ? 'the .npy array' : 'JPEG folder'} ${images.location}, first ${examples} in ${images.order}; resized bilinearly to each checkpoint's resolution, mapped to [-1, 1]`,
    );
    images.close();
    if (examples < config.examples)
      notes.push(`only ${examples} images were available (asked for ${config.examples}): ranks can be at most ${examples}`);
    if (config.preset === 'table1' && examples !== 12_800) notes.push(`the paper used 12800 images; this run used ${examples}`);
    if (checkpoints.some((c) => c.architecture === 'mixer'))
      notes.push('MLP-Mixer: the block output is averaged over the tokens; no active-unit count (its GELUs are not probed)');
    sources.push({ name: 'images', location: images.location });
    if (config.saveFeatures && !runDir) throw new ExperimentConfigError('--save-features needs a local run folder');
    return { prepared: { runDir }, config: { ...config, checkpoints, examples }, notes, sources };
  },
  steps: (config) => Math.ceil(config.examples / config.batchSize),
  evaluationSteps: (config) => [Math.ceil(config.examples / config.batchSize)],
  createJob: (config, prepared, runs, resume) => createVitRanksJob(config, prepared, runs[0]!.rho, resume),
  stateSchema: vitRanksStateSchema,
  checkState: (config, _runs, state) =>
    state.batches <= Math.ceil(config.examples / config.batchSize)
      ? null
      : `${state.batches} batches saved, the run has ${Math.ceil(config.examples / config.batchSize)}`,
  metrics,
  comparisons: false,
  sideOutputs: ['features', PARTIAL_DIR],
  resultsFields(runs, config) {
    const per = checkpointResults(config, runs);
    const first = per[0]!;
    return {
      examples: config.examples,
      threshold: config.threshold,
      ...(per.length === 1
        ? { architecture: first.architecture, checkpoint: first.checkpoint, ranks: first.ranks, activeGelu: first.activeGelu }
        : {}),
      checkpoints: per,
      ...(config.preset === 'table1' ? { table1: table1Rows(config, runs) } : {}),
      ...(config.saveFeatures ? { features: config.checkpoints.map((c) => featureDir(config, c)) } : {}),
    };
  },
  reportTables: (runs, config) => reportTables(runs, config),
  progress: () => ({ field: 'batch', label: 'batches' }),
  report: (config) => ({
    title:
      config.preset === 'table1'
        ? 'Table 1: feature ranks of standard and SAM-trained ViTs and Mixers'
        : `Feature ranks of ${config.checkpoints[0]!.id}`,
    settings: [
      `- checkpoints: ${config.checkpoints.map((c) => `${c.id} (${c.resolution ?? '?'} px, blocks ${c.layers?.join(', ') ?? '?'})`).join('; ')}`,
      `- images: ${config.images}, the first ${config.examples}; batches of ${config.batchSize}`,
      `- rank: fewest principal components holding more than ${100 * config.threshold} % of Σσ² (the original code's rule), each example's features minus their own mean (row-centred, as the paper's code); ViT features at token 0, Mixer features averaged over tokens`,
      `- tensors: ${config.tensors.join(', ')}${config.saveFeatures ? '; features written to features/' : ''}`,
    ],
  }),
};
