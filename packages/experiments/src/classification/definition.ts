/**
 * The classification experiments (CIFAR-10 / CIFAR-100 / Tiny ImageNet, Figs. 1–3 and 6, and Fashion-MNIST,
 * which is not in the paper) as runner definitions: every (seed, ρ) run is a job of its own, trained with SAM
 * and evaluated every `evalEvery` steps.
 */
import { createPipeline } from '@samrank/data';
import type { ExperimentDefinition, Metric } from '../runner/definition.js';
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
import { type ClassificationEvaluation, activeReluFraction } from './evaluation.js';
import { type PreparedData, type RunState, checkRunState, createRunJob, runStateSchema, sweepRuns } from './job.js';
import { paperValues } from './paper.js';

const NUM_CLASSES: Record<ClassificationDataset, number> = { cifar10: 10, cifar100: 100, 'tiny-imagenet': 200, 'fashion-mnist': 10 };

const SUMMARIES: Record<ClassificationDataset, string> = {
  cifar10: 'CIFAR-10, PreAct ResNet-18: test error, k-NN (CIFAR-100) and feature rank vs SAM ρ (Fig. 1; Fig. 6 with --model resnet18)',
  cifar100: 'CIFAR-100, PreAct ResNet-18: test error, k-NN (CIFAR-10) and feature rank vs SAM ρ (Fig. 2)',
  'tiny-imagenet': 'Tiny ImageNet, PreAct ResNet-18: test error, k-NN (CIFAR-10) and feature rank vs SAM ρ (Fig. 3)',
  'fashion-mnist': "Fashion-MNIST (not in the paper), ResNet-18 on 32×32 padded images: the same measurements; runs on Debian's copy",
};

const percent = (v: number) => (100 * v).toFixed(2);

function metrics(config: ClassificationConfig): Metric<ClassificationEvaluation>[] {
  const list: Metric<ClassificationEvaluation>[] = [
    { key: 'testError', title: 'test error (%)', column: 'test%', compute: (e) => e.testError(), format: percent, plot: { curve: true, final: true, scale: 100 } },
    { key: 'trainLoss', title: 'train loss', column: 'loss', compute: (e) => e.trainLoss, format: (v) => v.toFixed(4), plot: { curve: true, log: true }, trainingQuality: true },
  ];
  for (const b of config.blocks) {
    list.push({
      key: `rank${b}`,
      title: `feature rank, block ${b}`,
      column: `rank${b}`,
      compute: (e) => e.featureRank(b),
      // The paper's figures and claims use block 3.
      ...(b === 3 ? { plot: { curve: true, final: true }, expect: 'falls' as const } : {}),
    });
  }
  list.push({ key: 'knnError', title: 'k-NN error (%)', column: 'knn%', compute: (e) => e.knnError(), format: percent, plot: { curve: true, final: true, scale: 100 } });
  if (config.model === 'resnet18') {
    for (const b of config.blocks) {
      list.push({ key: `activeRelus${b}`, title: `active ReLUs, block ${b} (%)`, compute: (e) => activeReluFraction(e.rankFeatures(b)), format: percent });
    }
  }
  return list;
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
      const stepsPerEpoch = Math.floor(Math.min(config.trainSubset ?? Number.POSITIVE_INFINITY, train - Math.round(0.001 * train)) / config.batchSize);
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
            : { name: data.dataset.name, location: data.dataset.source ?? 'unknown', ...(data.dataset.digest ? { sha256: data.dataset.digest } : {}) },
          ...(data.knn && data.knn.dataset !== data.dataset.name
            ? [
                {
                  name: data.knn.dataset,
                  location: data.data === 'synthetic' || !data.knn.source ? 'transfer set for k-NN' : `${data.knn.source} (transfer set for k-NN)`,
                  ...(data.data !== 'synthetic' && data.knn.digest ? { sha256: data.knn.digest } : {}),
                },
              ]
            : []),
        ],
      };
    },
    steps: (config) => config.iterations!,
    evaluationSteps(config) {
      const total = config.iterations!;
      const steps: number[] = [];
      for (let s = 0; s < total; s += config.evalEvery) steps.push(s);
      steps.push(total);
      return steps;
    },
    createJob: (config, prepared, runs, resume) => createRunJob(config, prepared, runs, resume),
    stateSchema: runStateSchema,
    checkState: (config, _runs, state) => checkRunState(config, NUM_CLASSES[config.dataset], state),
    metrics,
    progress: (_config, prepared) => ({ field: 'step', label: 'epoch', extra: (step) => ({ epoch: step / prepared.stepsPerEpoch }) }),
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
        ],
        ...(paper ? { paper } : {}),
        figureCaptions: {
          curves: 'test error, train loss, block-3 rank and k-NN error against the epoch, median over seeds, one line per ρ (like Figs. 1–3)',
          'final-vs-rho': 'final values: a dot per seed, the median line and the min–max band',
        },
      };
    },
  };
}

/** The four classification experiments, in `--help` order. */
export const classificationDefinitions = (['cifar10', 'cifar100', 'tiny-imagenet', 'fashion-mnist'] as const).map(classificationDefinition);
