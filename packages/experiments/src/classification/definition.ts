/**
 * The classification experiments (CIFAR-10 / CIFAR-100 / Tiny ImageNet, Figs. 1–3 and 6, and Fashion-MNIST,
 * which is not in the paper) as runner definitions: every (seed, ρ) run is a job of its own, trained with SAM
 * and evaluated every `evalEvery` steps.
 */
import { createPipeline } from '@samrank/data';
import { type ExperimentDefinition, type Metric, everyNSteps } from '../runner/definition.js';
import { summarizeList } from '../runner/text.js';
import {
  CLASSIFICATION_FLAGS,
  CLASSIFICATION_PRESETS,
  type ClassificationConfig,
  type ClassificationDataset,
  RHO_GRIDS,
  classificationConfigSchema,
  imageSizeOf,
  resolveClassificationConfig,
} from './config.js';
import { loadExperimentData } from './data.js';
import { type ClassificationEvaluation, type Split, activeReluFraction, normalisedSpectrumHead } from './evaluation.js';
import { type RunState, runStateSchema } from '../runner/run-state.js';
import { type PreparedData, checkRunState, createRunJob, sweepRuns } from './job.js';
import { paperValues } from './paper.js';

const NUM_CLASSES: Record<ClassificationDataset, number> = { cifar10: 10, cifar100: 100, 'tiny-imagenet': 200, 'fashion-mnist': 10 };

const SUMMARIES: Record<ClassificationDataset, string> = {
  cifar10: 'CIFAR-10, PreAct ResNet-18: test error, k-NN (CIFAR-100) and feature rank vs SAM ρ (Fig. 1; Fig. 6 with --model resnet18)',
  cifar100: 'CIFAR-100, PreAct ResNet-18: test error, k-NN (CIFAR-10) and feature rank vs SAM ρ (Fig. 2)',
  'tiny-imagenet': 'Tiny ImageNet, PreAct ResNet-18: test error, k-NN (CIFAR-10) and feature rank vs SAM ρ (Fig. 3)',
  'fashion-mnist': "Fashion-MNIST (not in the paper), ResNet-18 on 32×32 padded images: the same measurements; runs on Debian's copy",
};

const percent = (v: number) => (100 * v).toFixed(2);

/** Thresholds of the ranks kept at every evaluation: the paper's 99 % and the 95 / 99.9 % of its Fig. 10. */
export const RANK_THRESHOLDS = [0.95, 0.99, 0.999] as const;
const SPLITS: readonly Split[] = ['train', 'test'];
/** `rank3.test.99.9`: the key of a block's rank on a split at a threshold (the 99 % train rank is `rank3`). */
const rankKey = (block: number, split: Split, threshold: number) =>
  split === 'train' && threshold === 0.99 ? `rank${block}` : `rank${block}.${split}.${Number((100 * threshold).toPrecision(3))}`;

function metrics(config: ClassificationConfig): Metric<ClassificationEvaluation>[] {
  const list: Metric<ClassificationEvaluation>[] = [
    {
      key: 'testError',
      title: 'test error (%)',
      column: 'test%',
      compute: (e) => e.testError(),
      format: percent,
      plot: { curve: true, final: true, scale: 100 },
    },
    {
      key: 'trainLoss',
      title: 'train loss',
      column: 'loss',
      compute: (e) => e.trainLoss,
      format: (v) => v.toFixed(4),
      plot: { curve: true, log: true },
      trainingQuality: true,
    },
  ];
  for (const b of config.blocks) {
    list.push({
      key: rankKey(b, 'train', 0.99),
      title: `feature rank, block ${b}`,
      column: `rank${b}`,
      compute: (e) => e.rank('train', b, 0.99),
      // The paper's figures and claims use block 3.
      ...(b === 3 ? { plot: { curve: true, final: true }, expect: 'falls' as const } : {}),
    });
  }
  list.push({
    key: 'knnError',
    title: 'k-NN error (%)',
    column: 'knn%',
    compute: (e) => e.knnError(),
    format: percent,
    plot: { curve: true, final: true, scale: 100 },
  });
  if (config.model === 'resnet18') {
    for (const b of config.blocks) {
      list.push({
        key: `activeRelus${b}`,
        title: `active ReLUs, block ${b} (%)`,
        compute: (e) => activeReluFraction(e.features('train', b)),
        format: percent,
      });
    }
  }
  // Figs. 9 and 10: every block's rank on both splits at every threshold, from one spectrum per split and block.
  for (const b of config.blocks) {
    for (const split of SPLITS) {
      for (const t of RANK_THRESHOLDS) {
        if (split === 'train' && t === 0.99) continue;
        list.push({
          key: rankKey(b, split, t),
          title: `rank, block ${b}, ${split}, ${100 * t} %`,
          compute: (e) => e.rank(split, b, t),
          table: false,
          ...(b === 3 && split === 'test' && t === 0.99 ? { expect: 'falls' as const } : {}),
        });
      }
    }
  }
  return list;
}

/** final.ranks: every block's rank by split and threshold, as a list (the flat keys stay beside it). */
function rankDetails(final: Readonly<Record<string, number | null>>, config: ClassificationConfig): Record<string, unknown> {
  const ranks = config.blocks.flatMap((block) =>
    SPLITS.flatMap((split) =>
      RANK_THRESHOLDS.map((threshold) => ({ block, split, threshold, rank: final[rankKey(block, split, threshold)] ?? null })),
    ),
  );
  return { ranks };
}

/**
 * What micro-batching changes against the paper (empty without it): BatchNorm normalises ghost batches and its
 * running statistics move once per micro-batch and pass.
 */
export function microBatchNote(config: ClassificationConfig): string[] {
  const k = config.microBatches;
  if (k === 1) return [];
  const passes = config.bnMode === 'frozen' ? 0 : config.bnMode === 'first' ? 1 : 2;
  const perStep = (updates: number) => (1 - 0.9 ** updates).toFixed(3);
  return [
    '',
    `**BatchNorm under micro-batching** (\`--micro-batches ${k}\`): each batch of ${config.batchSize} runs as ${k} micro-batches of ${config.batchSize / k} ` +
      `(ghost batches), so BatchNorm normalises with the statistics of ${config.batchSize / k} examples instead of ${config.batchSize}` +
      (!passes
        ? '.'
        : config.bnStats === 'pass'
          ? `; its running statistics still move once per pass with the statistics of the whole batch (\`--bn-stats pass\`), as in the paper.`
          : `, and its running statistics move ${passes * k} times per SAM step (momentum 0.1 each): the newest statistics weigh ${perStep(passes * k)} per step instead of the paper's ${perStep(passes)} (\`--bn-stats pass\` keeps the paper's count).`) +
      ' The SAM perturbation is still one for the whole batch. Backends with room for the whole batch (tfjs-node, WebGPU) run the paper preset without micro-batches.',
  ];
}

/** Resident bytes a run needs: the data sets, the model with optimizer and activations, the feature matrices. */
function estimateMemory(config: ClassificationConfig): number {
  const size = imageSizeOf(config.dataset);
  const pixels = size * size * config.inChannels;
  const images = (config.trainSubset ?? 100_000) + config.evalExamples + config.knnTrain + config.knnTest;
  const features = config.rankExamples * 8 * config.width * (size / 8) ** 2 * 4 * 2;
  const history = config.rhos.length * config.seeds.length * 2000;
  return images * pixels * 2 + features + history + 2 ** 28;
}

/** The definition of one classification data set. */
export function classificationDefinition(
  dataset: ClassificationDataset,
): ExperimentDefinition<ClassificationConfig, PreparedData, ClassificationEvaluation, RunState, typeof CLASSIFICATION_FLAGS> {
  return {
    name: dataset,
    summary: SUMMARIES[dataset],
    presets: CLASSIFICATION_PRESETS,
    flags: CLASSIFICATION_FLAGS,
    resumeFlags: ['dataDir', 'download'],
    configSchema: classificationConfigSchema,
    resolveConfig: (common, v) =>
      resolveClassificationConfig(dataset, {
        ...v,
        preset: common.preset as ClassificationConfig['preset'] | undefined,
        seeds: common.seeds,
        seed: common.seed,
        iterations: common.iterations,
        ...(common.backend ? { backend: common.backend } : {}),
        rhos: v.rho,
        ...(v.synthetic ? { data: 'synthetic' as const } : {}),
      }),
    estimateMemory,
    outName: (config) => `${dataset}-${config.setting}-${config.preset}`,
    parameter: () => ({ symbol: 'ρ', name: 'rho' }),
    banner: (config) =>
      `${config.preset} preset, ${config.setting}, ${config.model} width ${config.width}, rho ${summarizeList(config.rhos)}, seeds ${summarizeList(config.seeds)}`,
    jobs: (config) => sweepRuns(config).map((run) => [run]),
    async prepare(config, log, options) {
      const data = await loadExperimentData(config, {
        ...(typeof options.dataDir === 'string' ? { dataDir: options.dataDir } : {}),
        download: Boolean(options.download),
        onProgress: log,
      });
      const train = data.dataset.train.count;
      // Steps per epoch of the (subset) training set after the 0.1 % validation split; fixed before the first checkpoint.
      const stepsPerEpoch = Math.floor(
        Math.min(config.trainSubset ?? Number.POSITIVE_INFINITY, train - Math.round(0.001 * train)) / config.batchSize,
      );
      const resolved: ClassificationConfig = { ...config, data: data.data, iterations: config.iterations ?? config.epochs * stepsPerEpoch };
      const pipelines = new Map<number, ReturnType<typeof createPipeline>>();
      return {
        prepared: {
          ...data,
          stepsPerEpoch,
          pipeline(seed) {
            let p = pipelines.get(seed);
            if (!p) {
              p = createPipeline(data.dataset, {
                seed,
                ...(config.trainSubset !== null ? { trainSubset: config.trainSubset } : {}),
                rankExamples: config.rankExamples,
                channels: config.inChannels,
              });
              pipelines.set(seed, p);
            }
            return p;
          },
        },
        config: resolved,
        notes: data.notes,
        // Where each data set was read from and the SHA-256 over its files, so a result names its exact data.
        sources: [
          data.data === 'synthetic'
            ? { name: data.dataset.name, location: 'generated' }
            : {
                name: data.dataset.name,
                location: data.dataset.source ?? 'unknown',
                ...(data.dataset.digest ? { sha256: data.dataset.digest } : {}),
              },
          ...(data.knn && data.knn.dataset !== data.dataset.name
            ? [
                {
                  name: data.knn.dataset,
                  location:
                    data.data === 'synthetic' || !data.knn.source ? 'transfer set for k-NN' : `${data.knn.source} (transfer set for k-NN)`,
                  ...(data.data !== 'synthetic' && data.knn.digest ? { sha256: data.knn.digest } : {}),
                },
              ]
            : []),
        ],
      };
    },
    steps: (config) => config.iterations!,
    evaluationSteps: (config) => everyNSteps(config.iterations!, config.evalEvery),
    createJob: (config, prepared, runs, resume) => createRunJob(config, prepared, runs, resume),
    stateSchema: runStateSchema,
    checkState: (config, _runs, state) => checkRunState(config, NUM_CLASSES[config.dataset], state),
    metrics,
    finalDetails: rankDetails,
    series: () =>
      SPLITS.map((split) => ({
        key: `spectrum3.${split}`,
        compute: (e: ClassificationEvaluation) => normalisedSpectrumHead(e.spectrum(split, 3)),
      })),
    extraFigures: (config) => [
      {
        name: 'train-vs-test-rank',
        title: `${dataset}: block-3 rank on training vs test images (99 %), median over seeds`,
        kind: 'curves',
        metrics: [rankKey(3, 'train', 0.99), rankKey(3, 'test', 0.99)],
        caption: 'block-3 feature rank on the training subset and on test images against the epoch, one line per ρ (like Fig. 9)',
      },
      {
        name: 'rank-thresholds',
        title: `${dataset}: final block-3 rank at 95 / 99 / 99.9 % of the variance`,
        kind: 'final',
        metrics: RANK_THRESHOLDS.map((t) => rankKey(3, 'train', t)),
        caption: `final block-3 rank (training subset) against ρ at the three thresholds (like Fig. 10), ${config.seeds.length} seed${config.seeds.length === 1 ? '' : 's'}`,
      },
    ],
    progress: (_config, prepared) => ({
      field: 'step',
      label: 'step',
      extra: (step) => ({ epoch: step / prepared.stepsPerEpoch }),
      axis: { field: 'epoch', label: 'epoch' },
    }),
    report(config) {
      const paper = paperValues(dataset, config.setting);
      const grids = RHO_GRIDS[dataset];
      return {
        title: `${dataset}: SAM ρ vs feature rank (${config.preset} preset, ${config.setting} setting)`,
        settings: [
          '| setting | value |',
          '|---|---|',
          `| model | ${config.model}, width ${config.width}, ${config.inChannels}-channel input |`,
          `| data | ${config.data === 'synthetic' ? '**generated stand-in images** (not the real data set)' : 'real files'}; train subset ${config.trainSubset ?? 'all'} |`,
          `| training | ${config.iterations} steps (${config.epochs} epochs) of batch ${config.batchSize}${config.microBatches > 1 ? ` in ${config.microBatches} micro-batches` : ''}; lr ${config.lr} ${config.schedule}, momentum ${config.momentum}, weight decay ${config.weightDecay} |`,
          `| SAM | ε = ρ·g/(‖g‖ + ${config.samEpsilon}), BatchNorm mode ${config.bnMode}; the paper's grids: minimal ${grids.minimal.join(', ')}, sota ${grids.sota.join(', ')} |`,
          `| evaluation | every ${config.evalEvery} steps; test error on ${config.evalExamples} test images; rank (row-centred, 99 %, original rule) on the first ${config.rankExamples} training images; k-NN (k = 10, cosine, block 3) on ${config.knnDataset} (${config.knnTrain} / ${config.knnTest}) |`,
          `| seeds | ${summarizeList(config.seeds)} |`,
          ...microBatchNote(config),
        ],
        ...(paper ? { paper } : {}),
        figureCaptions: {
          curves:
            'test error, train loss, block-3 rank and k-NN error against the epoch, median over seeds, one line per ρ (like Figs. 1–3)',
          'final-vs-rho': 'final values: a dot per seed, the median line and the min–max band',
        },
      };
    },
  };
}

/** The four classification experiments, in `--help` order. */
export const classificationDefinitions = (['cifar10', 'cifar100', 'tiny-imagenet', 'fashion-mnist'] as const).map(classificationDefinition);
