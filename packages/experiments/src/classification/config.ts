/**
 * Settings of the classification experiments (CIFAR-10, CIFAR-100, Tiny ImageNet, Fashion-MNIST): the
 * paper's minimal and state-of-the-art settings (paper §3, Figs. 1–3; docs/paper-notes.md §7.2), its ρ grids (§7.3), and three presets —
 * `paper` (the paper's settings exactly, docs/paper-notes.md §7.1), `small` (a CPU-sized run that still shows the rank trend), `smoke` (CI).
 */
import type { ImageDatasetName } from '@samrank/data';
import { z } from 'zod';
import { ExperimentConfigError } from '../errors.js';
import { type FlagValues, choice, flag, numberList, text, toggle, wholeNumber } from '../runner/flags.js';

/** The four experiments. */
export type ClassificationDataset = ImageDatasetName;
/** The paper's minimal and state-of-the-art settings (docs/paper-notes.md §7.2). */
export type ClassificationSetting = 'minimal' | 'sota';
/** Presets. */
export type ClassificationPreset = 'paper' | 'small' | 'smoke';
/** PreAct ResNet-18 (main results) or post-activation ResNet-18 (Section 5, Fig. 6). */
export type ClassificationModel = 'preact-resnet18' | 'resnet18';
/**
 * BatchNorm in the two SAM passes: `both` = batch statistics in both passes and running statistics updated
 * twice (the paper's code); `first` = only the first pass updates running statistics; `frozen` = running
 * statistics in both passes (the original `--freeze_bn_stats`).
 */
export type BnMode = 'both' | 'first' | 'frozen';
/** Where images come from: the real files, or generated stand-ins with the same shapes (smoke runs). */
export type DataSource = 'real' | 'synthetic';

/** The classification experiments (= subcommands), in `--help` order. */
export const CLASSIFICATION_DATASETS: readonly ClassificationDataset[] = ['cifar10', 'cifar100', 'tiny-imagenet', 'fashion-mnist'];
/** `--setting` values. */
export const SETTINGS: readonly ClassificationSetting[] = ['minimal', 'sota'];
/** `--preset` values of the classification experiments. */
export const CLASSIFICATION_PRESETS: readonly ClassificationPreset[] = ['paper', 'small', 'smoke'];
/** `--model` values. */
export const MODELS: readonly ClassificationModel[] = ['preact-resnet18', 'resnet18'];
/** `--bn-mode` values. */
export const BN_MODES: readonly BnMode[] = ['both', 'first', 'frozen'];

const positiveInt = z.number().int().positive();
const distinct = (values: number[]) => new Set(values).size === values.length;

/** Fully resolved configuration of one classification sweep (written to results.json and the checkpoint). */
export const classificationConfigSchema = z
  .object({
    dataset: z.enum(['cifar10', 'cifar100', 'tiny-imagenet', 'fashion-mnist']),
    preset: z.enum(['paper', 'small', 'smoke']),
    setting: z.enum(['minimal', 'sota']),
    model: z.enum(['preact-resnet18', 'resnet18']),
    width: positiveInt,
    epochs: positiveInt,
    /** Total optimizer steps (epochs × steps per epoch unless --iterations overrides). Filled in when the data is known. */
    iterations: positiveInt.optional(),
    batchSize: positiveInt,
    /**
     * Micro-batches per step (gradient accumulation with ONE SAM perturbation over the whole batch, optim's
     * `microBatches`): the wasm heap (4 GiB) cannot hold a width-64 ResNet's activations at batch 256.
     * BatchNorm then normalizes with statistics per micro-batch. Must divide the batch size.
     */
    microBatches: positiveInt,
    /** Train on the first N training images after the validation split (null: all). */
    trainSubset: positiveInt.nullable(),
    /** Test images used for the test error (the first N; the paper: all 10,000). */
    evalExamples: positiveInt,
    /** Training images (first N, unaugmented) for rank and active ReLUs (paper 10,240). */
    rankExamples: positiveInt,
    /** k-NN: first N training and test images of the transfer data set (paper 10,240 and 10,000). */
    knnTrain: positiveInt,
    knnTest: positiveInt,
    /** Evaluate every N optimizer steps (and at step 0 and the last step). Paper 1,000. */
    evalEvery: positiveInt,
    /** Augmented training batches (eval mode) averaged for the logged train loss (paper 7). */
    trainLossBatches: positiveInt,
    rhos: z.array(z.number().nonnegative()).min(1).refine(distinct, 'ρ values must be distinct'),
    seeds: z.array(z.number().int().nonnegative()).min(1).refine(distinct, 'seeds must be distinct'),
    lr: z.number().positive(),
    momentum: z.number().min(0).lt(1),
    weightDecay: z.number().nonnegative(),
    schedule: z.enum(['constant', 'piecewise_05epochs']),
    bnMode: z.enum(['both', 'first', 'frozen']),
    /**
     * With micro-batches, when BatchNorm's running statistics move: once per micro-batch ('micro-batch', the
     * default) or once per pass with the statistics of the whole batch ('pass': the paper's update count).
     */
    bnStats: z.enum(['micro-batch', 'pass']),
    /** ε = ρ·g/(‖g‖ + samEpsilon): 1e-7 in the paper's classification code. */
    samEpsilon: z.number().nonnegative(),
    /** Feature blocks evaluated (rank / active ReLUs); the plots use block 3. */
    blocks: z.array(z.number().int().min(1).max(5)).min(1),
    /** k-NN data set (docs/paper-notes.md §8.3: the *other* CIFAR; Fashion-MNIST has no transfer partner, so its own images). */
    knnDataset: z.enum(['cifar10', 'cifar100', 'tiny-imagenet', 'fashion-mnist']),
    /** Channels fed to the network (Fashion-MNIST: 1). */
    inChannels: z.union([z.literal(1), z.literal(3)]),
    data: z.enum(['real', 'synthetic']),
  })
  .refine((c) => c.batchSize % c.microBatches === 0, { message: 'the micro-batches must divide the batch size', path: ['microBatches'] });

/** A resolved classification config. */
export type ClassificationConfig = z.infer<typeof classificationConfigSchema>;

/** ρ grids of docs/paper-notes.md §7.3. Fashion-MNIST is not in the paper: it uses CIFAR-10's grids. */
export const RHO_GRIDS: Record<ClassificationDataset, Record<ClassificationSetting, number[]>> = {
  cifar10: { minimal: [0, 0.1, 0.2, 0.4, 0.6], sota: [0, 0.1, 0.4, 0.6, 0.8] },
  cifar100: { minimal: [0, 0.1, 0.2, 0.4, 0.6], sota: [0, 0.2, 0.6, 0.9, 1.2] },
  'tiny-imagenet': { minimal: [0, 0.1, 0.4, 0.5, 0.6], sota: [0, 0.1, 0.4, 0.6, 0.7] },
  'fashion-mnist': { minimal: [0, 0.1, 0.2, 0.4, 0.6], sota: [0, 0.1, 0.4, 0.6, 0.8] },
};

/** Optimizer settings of the minimal and state-of-the-art setups (docs/paper-notes.md §7.2). */
export const SETTING_HYPERPARAMETERS: Record<
  ClassificationSetting,
  Pick<ClassificationConfig, 'lr' | 'momentum' | 'weightDecay' | 'schedule'>
> = {
  minimal: { lr: 0.05, momentum: 0, weightDecay: 0, schedule: 'constant' },
  sota: { lr: 0.1, momentum: 0.9, weightDecay: 5e-4, schedule: 'piecewise_05epochs' },
};

/** k-NN transfer sets (docs/paper-notes.md §8.3): CIFAR-10 → CIFAR-100, CIFAR-100 and Tiny ImageNet → CIFAR-10. */
export const KNN_DATASET: Record<ClassificationDataset, ClassificationDataset> = {
  cifar10: 'cifar100',
  cifar100: 'cifar10',
  'tiny-imagenet': 'cifar10',
  'fashion-mnist': 'fashion-mnist',
};

type PresetValues = Pick<
  ClassificationConfig,
  | 'width'
  | 'epochs'
  | 'batchSize'
  | 'trainSubset'
  | 'evalExamples'
  | 'rankExamples'
  | 'knnTrain'
  | 'knnTest'
  | 'evalEvery'
  | 'trainLossBatches'
> & { rhos?: number[]; seedCount: number; setting?: ClassificationSetting; microBatches?: number };

/**
 * Preset values. `small` is sized so one seed of the ρ grid finishes in minutes on a 2-core CPU (wasm backend: 6.7 min
 * with --threads 2, 14 min on one core with the previous release's kernels), and runs 3 seeds by default so the
 * report's paired comparisons with ρ = 0 mean something: PreAct ResNet-18 width 8 (1/8 of the paper's
 * channels), the first 512 training images, 25 epochs of batch 64 (200 optimizer steps), the
 * state-of-the-art setting (momentum 0.9, lr 0.1 with the /10, /100 steps at 50 % and 90 %), ranks on the
 * 512 training images (unaugmented), train loss on 8 augmented batches (the whole subset), k-NN on
 * 512 / 500, test error on 500 test images, evaluations every 50 steps. Why so: SAM's low-rank effect
 * grows late in training, so with a short budget fewer images for more epochs beats more images for fewer
 * (measured: 4,096 images for 160 steps of batch 128 left ρ = 0.8 far from trained and its block-3 rank
 * above ρ = 0). The ρ grid is CIFAR-10's sota grid (0, 0.1, 0.4, 0.6, 0.8) scaled by √(8/64) ≈ 0.35:
 * with Kaiming init (and BatchNorm γ = 1) the squared weight norm grows linearly with the width, so the
 * same ρ is a √8 larger relative perturbation at width 8; unscaled, ρ = 0.8 does not train in this budget
 * (train loss 2.2 after 160 steps, 81 % test error). See docs/results/fashion-mnist-small.md.
 */
export const PRESETS: Record<ClassificationPreset, PresetValues> = {
  paper: {
    width: 64,
    epochs: 200,
    batchSize: 256,
    trainSubset: null,
    evalExamples: 10_000,
    rankExamples: 10_240,
    knnTrain: 10_240,
    knnTest: 10_000,
    evalEvery: 1000,
    trainLossBatches: 7,
    seedCount: 1,
  },
  small: {
    width: 8,
    epochs: 25,
    batchSize: 64,
    trainSubset: 512,
    evalExamples: 500,
    rankExamples: 512,
    knnTrain: 512,
    knnTest: 500,
    evalEvery: 50,
    trainLossBatches: 8,
    seedCount: 3,
    setting: 'sota',
    rhos: [0, 0.035, 0.14, 0.21, 0.28],
  },
  smoke: {
    width: 4,
    epochs: 1,
    batchSize: 32,
    trainSubset: 128,
    evalExamples: 64,
    rankExamples: 64,
    knnTrain: 64,
    knnTest: 32,
    evalEvery: 2,
    trainLossBatches: 1,
    seedCount: 1,
    rhos: [0, 0.4],
  },
};

/** The flags of the classification subcommands: the CLI's options and, through their values, the overrides. */
export const CLASSIFICATION_FLAGS = {
  setting: flag(
    '--setting <name>',
    'minimal (SGD, lr 0.05 constant) | sota (momentum 0.9, lr 0.1 piecewise, wd 5e-4) (default minimal; sota with --preset small)',
    choice(SETTINGS),
  ),
  model: flag(
    '--model <name>',
    'preact-resnet18 | resnet18 (post-activation; adds active-ReLU counts) (default preact-resnet18)',
    choice(MODELS),
  ),
  rho: flag(
    '--rho <list>',
    "comma-separated ρ values (default: the paper's grid for the data set and setting; the preset's own for small and smoke)",
    numberList(),
  ),
  width: flag('--width <n>', 'ResNet base width (paper 64)', wholeNumber(1, 4096)),
  epochs: flag('--epochs <n>', 'training epochs (paper 200)', wholeNumber(1)),
  batchSize: flag('--batch-size <n>', 'batch size (paper 256)', wholeNumber(1, 1 << 20)),
  microBatches: flag(
    '--micro-batches <n>',
    'split each batch into n micro-batches, gradients accumulated, one SAM perturbation (paper preset: 4, for the wasm heap)',
    wholeNumber(1),
  ),
  trainSubset: flag('--train-subset <n>', 'train on the first N training images after the validation split', wholeNumber(1)),
  evalExamples: flag('--eval-examples <n>', 'test images for the test error (paper 10,000)', wholeNumber(1)),
  evalEvery: flag('--eval-every <n>', 'evaluate every N optimizer steps (paper 1,000)', wholeNumber(1)),
  bnMode: flag('--bn-mode <mode>', 'BatchNorm in the SAM passes: both (paper) | first | frozen (default both)', choice(BN_MODES)),
  bnStats: flag(
    '--bn-stats <when>',
    "with --micro-batches: running statistics move per micro-batch (default) | per pass, from the whole batch (the paper's update count)",
    choice(['micro-batch', 'pass'] as const),
  ),
  dataDir: flag('--data-dir <dir>', 'folder holding the data sets (default $SAMRANK_DATA_DIR or ~/.cache/samrank/datasets)', text()),
  download: toggle('--download', 'download missing data sets (official archives, MD5-checked)'),
  synthetic: toggle('--synthetic', "use generated images with the data set's shape instead of the real files"),
};

/**
 * What a caller may set; undefined = the preset's / setting's value. The flag values, with `rhos` and `data`
 * for the `--rho` and `--synthetic` flags, and the common sweep options.
 */
export type ClassificationOverrides = Omit<FlagValues<typeof CLASSIFICATION_FLAGS>, 'rho' | 'synthetic' | 'dataDir' | 'download'> & {
  preset?: ClassificationPreset;
  rhos?: number[];
  data?: DataSource;
  seeds?: number;
  seed?: number;
  iterations?: number;
  /** The backend the run uses: the paper preset splits its batch of 256 into micro-batches only on wasm and cpu. */
  backend?: string;
};

/** Backends whose memory cannot hold a width-64 ResNet's activations at batch 256 in one pass (wasm32's 4 GiB heap). */
const SMALL_HEAP_BACKENDS = new Set(['wasm', 'cpu']);

function positive(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new ExperimentConfigError(`${name} must be a whole number ≥ 1, got ${v}`);
}

/** Resolves flags against the preset and setting; throws {@link ExperimentConfigError} on bad values. */
export function resolveClassificationConfig(dataset: ClassificationDataset, o: ClassificationOverrides = {}): ClassificationConfig {
  if (!CLASSIFICATION_DATASETS.includes(dataset)) throw new ExperimentConfigError(`unknown data set ${dataset}`);
  const preset = o.preset ?? 'paper';
  if (!CLASSIFICATION_PRESETS.includes(preset)) {
    throw new ExperimentConfigError(`unknown preset ${preset}; expected one of ${CLASSIFICATION_PRESETS.join(', ')}`);
  }
  const p = PRESETS[preset];
  const setting = o.setting ?? p.setting ?? 'minimal';
  if (!SETTINGS.includes(setting)) throw new ExperimentConfigError(`unknown setting ${setting}; expected minimal or sota`);
  for (const [k, v] of Object.entries({
    width: o.width,
    epochs: o.epochs,
    iterations: o.iterations,
    batchSize: o.batchSize,
    trainSubset: o.trainSubset,
    evalExamples: o.evalExamples,
    evalEvery: o.evalEvery,
    seeds: o.seeds,
    microBatches: o.microBatches,
  })) {
    positive(k, v);
  }
  const rhos = o.rhos ?? p.rhos ?? RHO_GRIDS[dataset][setting];
  if (rhos.length === 0 || rhos.some((r) => !(r >= 0 && Number.isFinite(r))))
    throw new ExperimentConfigError(`ρ values must be finite and ≥ 0, got ${rhos.join(',')}`);
  const firstSeed = o.seed ?? 0;
  const seedCount = o.seeds ?? p.seedCount;
  const batchSize = o.batchSize ?? p.batchSize;
  // The paper normalises with statistics of the whole batch: split it only where it does not fit (no backend
  // given = the CLI's default, wasm).
  const paperSplit = preset === 'paper' && SMALL_HEAP_BACKENDS.has(o.backend ?? 'wasm') ? 4 : 1;
  const microBatches = o.microBatches ?? p.microBatches ?? paperSplit;
  if (batchSize % microBatches !== 0) {
    throw new ExperimentConfigError(`--micro-batches ${microBatches} must divide the batch size ${batchSize}`);
  }
  const trainSubset = o.trainSubset ?? p.trainSubset;
  if (trainSubset !== null && trainSubset < batchSize) {
    throw new ExperimentConfigError(`--train-subset ${trainSubset} is smaller than one batch of ${batchSize}`);
  }
  const rankExamples = trainSubset !== null ? Math.min(p.rankExamples, trainSubset) : p.rankExamples;
  return {
    dataset,
    preset,
    setting,
    model: o.model ?? 'preact-resnet18',
    width: o.width ?? p.width,
    epochs: o.epochs ?? p.epochs,
    ...(o.iterations !== undefined ? { iterations: o.iterations } : {}),
    batchSize,
    microBatches,
    trainSubset,
    evalExamples: o.evalExamples ?? p.evalExamples,
    rankExamples,
    knnTrain: p.knnTrain,
    knnTest: p.knnTest,
    evalEvery: o.evalEvery ?? p.evalEvery,
    trainLossBatches: p.trainLossBatches,
    rhos: [...rhos],
    seeds: Array.from({ length: seedCount }, (_, i) => firstSeed + i),
    ...SETTING_HYPERPARAMETERS[setting],
    bnMode: o.bnMode ?? 'both',
    bnStats: o.bnStats ?? 'micro-batch',
    samEpsilon: 1e-7,
    blocks: [3, 4, 5],
    knnDataset: KNN_DATASET[dataset],
    inChannels: dataset === 'fashion-mnist' ? 1 : 3,
    data: o.data ?? 'real',
  };
}

/** Image size the network is built for. */
export function imageSizeOf(dataset: ClassificationDataset): number {
  return dataset === 'tiny-imagenet' ? 64 : 32;
}
