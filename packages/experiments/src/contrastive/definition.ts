/**
 * Contrastive image–text learning with SAM (paper §3.3, Fig. 4; §5, Fig. 7; §6, Fig. 8) as a runner definition:
 * every (seed, ρ) run — or (seed, h) run of a bottleneck sweep — is a job of its own, evaluated every `evalEvery`
 * steps on in-batch retrieval and the ranks of both towers' embeddings; the first and last evaluations also rank
 * the towers' outputs before the heads and every tensor of the image tower's analysed blocks.
 */
import { VIT_TENSORS } from '@samrank/models';
import { ExperimentConfigError } from '../errors.js';
import { type ExperimentDefinition, type Metric, everyNSteps } from '../runner/definition.js';
import { type RunState, checkSavedRun, runStateSchema } from '../runner/run-state.js';
import { summarizeList } from '../runner/text.js';
import {
  CONTRASTIVE_FLAGS,
  CONTRASTIVE_PRESETS,
  type ContrastiveConfig,
  contrastiveConfigSchema,
  resolveContrastiveConfig,
  sweptValues,
} from './config.js';
import { loadPairs } from './data.js';
import { type ContrastiveData, type ContrastiveEvaluation, createContrastiveJob, layerKey } from './job.js';
import { contrastivePaperValues } from './paper.js';

const twoDecimals = (v: number) => v.toFixed(2);

function metrics(config: ContrastiveConfig): Metric<ContrastiveEvaluation>[] {
  // The claim is about ρ; across bottleneck widths the rank follows h by construction.
  const falls = config.sweep === 'rho' ? { expect: 'falls' as const } : {};
  const list: Metric<ContrastiveEvaluation>[] = [
    {
      key: 'imagewiseError',
      title: 'imagewise retrieval error (%)',
      column: 'img%',
      compute: (e) => e.imagewiseError,
      format: twoDecimals,
      plot: { curve: true, final: true },
    },
    {
      key: 'textwiseError',
      title: 'textwise retrieval error (%)',
      column: 'txt%',
      compute: (e) => e.textwiseError,
      format: twoDecimals,
      plot: { curve: true, final: true },
    },
    {
      key: 'imageRank',
      title: `image embedding rank (${100 * config.rankThreshold} %)`,
      column: 'imgRank',
      compute: (e) => e.imageRank,
      plot: { curve: true, final: true },
      ...falls,
    },
    {
      key: 'textRank',
      title: `text embedding rank (${100 * config.rankThreshold} %)`,
      column: 'txtRank',
      compute: (e) => e.textRank,
      plot: { curve: true, final: true },
      ...falls,
    },
    {
      key: 'trainLoss',
      title: 'train InfoNCE loss',
      column: 'loss',
      compute: (e) => e.trainLoss,
      format: (v) => v.toFixed(4),
      plot: { curve: true, log: true },
      trainingQuality: true,
    },
    { key: 'testLoss', title: 'test InfoNCE loss', compute: (e) => e.testLoss, format: (v) => v.toFixed(4), table: false },
    {
      key: 'imagePreHeadRank',
      title: 'image tower output rank, before the head (test)',
      compute: (e) => e.analysis?.imagePreHead ?? null,
      ...falls,
    },
    {
      key: 'textPreHeadRank',
      title: 'text tower output rank, before the head (test)',
      compute: (e) => e.analysis?.textPreHead ?? null,
      ...falls,
    },
  ];
  for (const l of config.analysisLayers) {
    for (const t of VIT_TENSORS) {
      list.push({
        key: `layers.${layerKey(l, t)}`,
        title: `image tower block ${l}, ${t} rank (test)`,
        compute: (e) => e.analysis?.layers[layerKey(l, t)] ?? null,
        table: false,
      });
    }
  }
  return list;
}

/** final.layers: the image tower's ranks as a list of { block, tensor, rank } (the flat keys stay beside it). */
function layerDetails(final: Readonly<Record<string, number | null>>, config: ContrastiveConfig): Record<string, unknown> {
  return {
    layers: config.analysisLayers.flatMap((block) =>
      VIT_TENSORS.map((tensor) => ({ block, tensor, rank: final[`layers.${layerKey(block, tensor)}`] ?? null })),
    ),
  };
}

/** Resident bytes: the training and test images and tokens (Fashion-MNIST is kept whole), the model and Adam, the rank matrices. */
function estimateMemory(config: ContrastiveConfig): number {
  const pixels = config.image.imageSize ** 2 * config.image.inChannels;
  const images = config.data === 'coco' ? config.batchSize * 4 : (config.trainExamples ?? 60_000) + 10_000;
  const tokens = ((config.trainExamples ?? 120_000) * 5 + 10_000) * config.maxTokens * 4;
  const embeddings = config.rankExamples * (config.embedDim + config.image.mlpDim) * 4 * 8;
  return images * pixels * 4 + tokens + embeddings + 2 ** 28;
}

const towerText = (config: ContrastiveConfig) => {
  const i = config.image;
  const t = config.text;
  return (
    `ViT ${i.imageSize} px, ${i.patchSize}×${i.patchSize} patches${i.resnetRoot ? `, ResNet root ${i.resnetRoot}` : ''}, width ${i.hiddenSize}, ${i.depth} blocks, ${i.heads} heads, MLP ${i.mlpDim}` +
    ` · BERT width ${t.hiddenSize}, ${t.depth} block${t.depth === 1 ? '' : 's'}, ${t.heads} heads, MLP ${t.intermediateSize}`
  );
};

/**
 * The evaluation sizes lowered to what the splits hold (a miniature or a subset of COCO), each change stated in the
 * report; a training split smaller than one batch, or a test split without two pairs to retrieve among, is an error.
 */
export function fitToData(
  config: ContrastiveConfig,
  trainCount: number,
  testCount: number,
): { config: ContrastiveConfig; notes: string[] } {
  if (trainCount < config.batchSize) {
    throw new ExperimentConfigError(
      `the training split holds ${trainCount} images, fewer than one batch of ${config.batchSize} (--batch-size)`,
    );
  }
  if (testCount < 2) throw new ExperimentConfigError(`the test split holds ${testCount} pairs; retrieval needs at least 2`);
  const evalBatchSize = Math.min(config.evalBatchSize, testCount);
  const evalBatches = Math.min(config.evalBatches, Math.floor(testCount / evalBatchSize));
  const rankExamples = Math.min(config.rankExamples, trainCount);
  const notes: string[] = [];
  if (evalBatchSize !== config.evalBatchSize || evalBatches !== config.evalBatches) {
    notes.push(
      `The test split holds ${testCount} pairs: retrieval uses ${evalBatches} batch${evalBatches === 1 ? '' : 'es'} of ${evalBatchSize} instead of ${config.evalBatches} of ${config.evalBatchSize}.`,
    );
  }
  if (rankExamples !== config.rankExamples)
    notes.push(`The ranks use all ${rankExamples} training pairs (fewer than the preset's ${config.rankExamples}).`);
  return { config: { ...config, evalBatchSize, evalBatches, rankExamples }, notes };
}

export const contrastiveDefinition: ExperimentDefinition<
  ContrastiveConfig,
  ContrastiveData,
  ContrastiveEvaluation,
  RunState,
  typeof CONTRASTIVE_FLAGS
> = {
  name: 'contrastive',
  summary: 'image–text dual encoder (ViT + BERT, InfoNCE) with SAM: retrieval error and embedding ranks vs ρ (Figs. 4, 7, 8)',
  presets: CONTRASTIVE_PRESETS,
  flags: CONTRASTIVE_FLAGS,
  resumeFlags: ['dataDir', 'download'],
  configSchema: contrastiveConfigSchema,
  resolveConfig: resolveContrastiveConfig,
  estimateMemory,
  outName: (config) =>
    `contrastive-${config.preset}${config.bottlenecks ? `-bottleneck${config.sweep === 'rho' ? config.bottlenecks[0] : ''}` : ''}`,
  parameter: (config) => (config.sweep === 'bottleneck' ? { symbol: 'h', name: 'bottleneck' } : { symbol: 'ρ', name: 'rho' }),
  banner: (config) =>
    `${config.preset} preset, ${config.data}, ${config.sweep === 'bottleneck' ? `bottleneck h ${summarizeList(config.bottlenecks!)} at ρ ${config.rhos[0]}` : `ρ ${summarizeList(config.rhos)}${config.bottlenecks ? `, bottleneck h ${config.bottlenecks[0]}` : ''}`}${config.freezeText ? ', text tower frozen' : ''}, seeds ${summarizeList(config.seeds)}`,
  jobs: (config) => config.seeds.flatMap((seed) => sweptValues(config).map((value) => [{ rho: value, seed }])),
  async prepare(config, log, options) {
    const loaded = await loadPairs(config, {
      ...(typeof options['dataDir'] === 'string' ? { dataDir: options['dataDir'] } : {}),
      download: Boolean(options['download']),
      log,
    });
    const sized = fitToData(loaded.config, loaded.data.train.count, loaded.data.test.count);
    const iterations = config.iterations ?? config.epochs * loaded.data.stepsPerEpoch;
    return {
      prepared: loaded.data,
      config: { ...sized.config, iterations },
      notes: [...loaded.notes, ...sized.notes],
      sources: loaded.sources,
    };
  },
  steps: (config) => config.iterations!,
  evaluationSteps: (config) => everyNSteps(config.iterations!, config.evalEvery),
  createJob: (config, prepared, runs, resume) => createContrastiveJob(config, prepared, runs, resume),
  stateSchema: runStateSchema,
  // The model's vocabulary comes from the data, so names and shapes are checked when the job is built.
  checkState: (_config, _runs, state) => checkSavedRun(null, [], state),
  metrics,
  finalDetails: layerDetails,
  extraFigures: (config) => [
    {
      name: 'pre-head-ranks',
      title: 'contrastive: ranks before and after the heads (like Fig. 15)',
      kind: 'final',
      metrics: ['imagePreHeadRank', 'textPreHeadRank', 'imageRank', 'textRank'],
      caption: 'final ranks of each tower before its head (test pairs) and of the embeddings (training pairs)',
    },
    ...(['res', 'premlp', 'preatt'] as const).map((tensor) => ({
      name: `image-tower-${tensor}-ranks`,
      title: `contrastive: image tower ${tensor} rank after each block (like Fig. 7)`,
      kind: 'profile' as const,
      metrics: config.analysisLayers.map((l) => `layers.${layerKey(l, tensor)}`),
      profile: { positions: config.analysisLayers, label: 'block', panel: `${tensor} rank (token 0, test)` },
      caption: `rank of the image tower's \`${tensor}\` tensor at the class token after each analysed block, median over seeds, one line per ${config.sweep === 'bottleneck' ? 'h' : 'ρ'}`,
    })),
  ],
  progress: (_config, prepared) => ({
    field: 'step',
    label: 'step',
    extra: (step) => ({ epoch: step / prepared.stepsPerEpoch }),
    axis: { field: 'epoch', label: 'epoch' },
  }),
  report(config) {
    const source =
      config.data === 'coco'
        ? 'MS-COCO captions, Karpathy splits (training: the `train` split, one of five captions at random; evaluation: the `test` split, first caption)'
        : 'Fashion-MNIST images with generated captions (class name + measured brightness, size and shape, five templates per image; evaluation: test images, first caption)';
    return {
      title: `contrastive image–text: SAM ${config.sweep === 'bottleneck' ? 'vs a linear bottleneck' : 'ρ'} vs retrieval and embedding rank (${config.preset} preset)`,
      settings: [
        '| setting | value |',
        '|---|---|',
        `| data | ${source}; ${config.trainExamples ?? 'all'} training images |`,
        `| towers | ${towerText(config)}; heads into ${config.embedDim} dimensions${config.bottlenecks ? ` through a linear bottleneck of width ${config.sweep === 'bottleneck' ? 'h' : config.bottlenecks[0]}` : ''}; both L2-normalised |`,
        `| start | image tower ${config.imageCheckpoint ? `from ${config.imageCheckpoint}` : 'from scratch'}, text tower ${config.textModel ? `from ${config.textModel}` : 'from scratch (generated vocabulary)'}${config.freezeText ? '; **text tower and head frozen**' : ''} |`,
        `| training | ${config.iterations} steps (${config.epochs} epochs) of ${config.batchSize} pairs; symmetric InfoNCE at temperature 0.05; Adam, lr ${config.lr} with cosine decay to 0 |`,
        `| SAM | ε = ρ·g/‖g‖ over every trainable parameter${config.samEpsilon ? ` (+${config.samEpsilon} in the norm)` : ' (no stabiliser, as the original)'}; ${config.sweep === 'bottleneck' ? `ρ = ${config.rhos[0]}` : `ρ ${config.rhos.join(', ')}`} |`,
        `| evaluation | every ${config.evalEvery} steps: retrieval within each of ${config.evalBatches} test batches of ${config.evalBatchSize}; ${100 * config.rankThreshold} % ranks (row-centred, original rule) of the embeddings of the first ${config.rankExamples} training pairs; at the start and end also the towers before their heads and blocks ${config.analysisLayers.join(', ')} of the image tower (token 0, ${config.rankExamples} test pairs) |`,
        `| seeds | ${summarizeList(config.seeds)} (initialisation, batch order, caption choice) |`,
      ],
      paper: contrastivePaperValues(config.sweep, config.preset !== 'paper'),
      figureCaptions: {
        curves: 'retrieval errors, embedding ranks and training loss against the epoch, median over seeds (like Fig. 4)',
        [`final-vs-${config.sweep === 'bottleneck' ? 'bottleneck' : 'rho'}`]:
          config.sweep === 'bottleneck'
            ? 'final values against the bottleneck width h: a dot per seed, the median line and the min–max band (like Fig. 8)'
            : 'final values against ρ: a dot per seed, the median line and the min–max band (like Fig. 4, right)',
      },
    };
  },
};
