/** The `cifar10`, `cifar100`, `tiny-imagenet` and `fashion-mnist` subcommands of samrank-repro. */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseChoice, parseInteger, parseNumberList } from '../cli-parsers.js';
import { selectBackend } from '../backend.js';
import { checkResumeFlags, outDirStamp, resolveOrUsage, resumeHint, runLog, stopFlag, toJsonLine } from '../cli-run.js';
import { EXIT, type CliIO, type CommonOptions, type ExperimentDefinition } from '../experiment.js';
import { createProgress } from '../progress.js';
import {
  BN_MODES,
  MODELS,
  PRESETS,
  RHO_GRIDS,
  SETTINGS,
  resolveClassificationConfig,
  type BnMode,
  type ClassificationDataset,
  type ClassificationModel,
  type ClassificationOverrides,
  type ClassificationSetting,
} from './config.js';
import { runClassificationExperiment, type ClassificationResults } from './run.js';

/** `samrank-results/<dataset>-<setting>-<preset>-<UTC timestamp>`. */
export function classificationOutDir(dataset: string, setting: string, preset: string, now = new Date()): string {
  return resolve('samrank-results', `${dataset}-${setting}-${preset}-${outDirStamp(now)}`);
}

/** The final table printed at the end. */
export function classificationTable(results: ClassificationResults): string {
  // A ρ whose runs all diverged has NaN medians: shown as '–'.
  const num = (v: number | null | undefined, f: (x: number) => string) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : f(v));
  const rows = results.summary.map((s) =>
    [
      String(s.rho).padEnd(6),
      num(s.testError, (v) => (100 * v).toFixed(2)).padStart(8),
      num(s.trainLoss, (v) => v.toFixed(4)).padStart(8),
      ...results.config.blocks.map((b) => num(s.featureRank[String(b)], String).padStart(7)),
      num(s.knnError, (v) => (100 * v).toFixed(2)).padStart(8),
      `${s.seeds}/${s.seeds + s.diverged}`.padStart(6),
    ].join(' '),
  );
  const head = ['rho'.padEnd(6), 'test%'.padStart(8), 'loss'.padStart(8), ...results.config.blocks.map((b) => `rank${b}`.padStart(7)), 'knn%'.padStart(8), 'ok'.padStart(6)].join(' ');
  return [head, ...rows].join('\n');
}

const SUMMARIES: Record<ClassificationDataset, string> = {
  cifar10: 'CIFAR-10, PreAct ResNet-18: test error, k-NN (CIFAR-100) and feature rank vs SAM ρ (Fig. 1; Fig. 6 with --model resnet18)',
  cifar100: 'CIFAR-100, PreAct ResNet-18: test error, k-NN (CIFAR-10) and feature rank vs SAM ρ (Fig. 2)',
  'tiny-imagenet': 'Tiny ImageNet, PreAct ResNet-18: test error, k-NN (CIFAR-10) and feature rank vs SAM ρ (Fig. 3)',
  'fashion-mnist': 'Fashion-MNIST (not in the paper), ResNet-18 on 32×32 padded images: the same measurements; runs on Debian\'s copy',
};

/** Builds the subcommand of one data set. */
export function classificationExperiment(dataset: ClassificationDataset): ExperimentDefinition {
  return {
    name: dataset,
    summary: SUMMARIES[dataset],
    addOptions(command: Command) {
      const grids = RHO_GRIDS[dataset];
      command
        .option('--setting <name>', 'minimal (SGD, lr 0.05 constant) | sota (momentum 0.9, lr 0.1 piecewise, wd 5e-4) (default minimal; sota with --preset small)', parseChoice(SETTINGS))
        .option('--model <name>', 'preact-resnet18 | resnet18 (post-activation; adds active-ReLU counts) (default preact-resnet18)', parseChoice(MODELS))
        .option('--rho <list>', `comma-separated ρ values (default: minimal ${grids.minimal.join(',')}; sota ${grids.sota.join(',')}; --preset small ${PRESETS.small.rhos?.join(',')}; smoke ${PRESETS.smoke.rhos?.join(',')})`, parseNumberList)
        .option('--width <n>', 'ResNet base width (paper 64)', parseInteger(1))
        .option('--epochs <n>', 'training epochs (paper 200)', parseInteger(1))
        .option('--batch-size <n>', 'batch size (paper 256)', parseInteger(1))
        .option('--micro-batches <n>', 'split each batch into n micro-batches, gradients accumulated, one SAM perturbation (paper preset: 4, for the wasm heap)', parseInteger(1))
        .option('--train-subset <n>', 'train on the first N training images after the validation split', parseInteger(1))
        .option('--eval-examples <n>', 'test images for the test error (paper 10,000)', parseInteger(1))
        .option('--eval-every <n>', 'evaluate every N optimizer steps (paper 1,000)', parseInteger(1))
        .option('--bn-mode <mode>', 'BatchNorm in the SAM passes: both (paper) | first | frozen (default both)', parseChoice(BN_MODES))
        .option('--data-dir <dir>', 'folder holding the data sets (default $SAMRANK_DATA_DIR or ~/.cache/samrank/datasets)')
        .option('--download', 'download missing data sets (official archives, MD5-checked)', false)
        .option('--synthetic', 'use generated images with the data set\'s shape instead of the real files', false);
    },
    async run(flags, common: CommonOptions, io: CliIO) {
      const overrides: ClassificationOverrides = {
        preset: common.preset,
        setting: flags['setting'] as ClassificationSetting | undefined,
        model: flags['model'] as ClassificationModel | undefined,
        width: flags['width'] as number | undefined,
        epochs: flags['epochs'] as number | undefined,
        iterations: common.iterations,
        batchSize: flags['batchSize'] as number | undefined,
        microBatches: flags['microBatches'] as number | undefined,
        trainSubset: flags['trainSubset'] as number | undefined,
        evalExamples: flags['evalExamples'] as number | undefined,
        evalEvery: flags['evalEvery'] as number | undefined,
        bnMode: flags['bnMode'] as BnMode | undefined,
        rhos: flags['rho'] as number[] | undefined,
        seeds: common.seeds,
        seed: common.seed,
        ...(flags['synthetic'] ? { data: 'synthetic' as const } : {}),
      };
      const resolved = resolveOrUsage(io, () => resolveClassificationConfig(dataset, overrides));
      if ('code' in resolved) return resolved.code;
      const { config } = resolved;
      const { preset, ...rest } = overrides;
      const settingsGiven = preset !== undefined || Object.values(rest).some((v) => v !== undefined);
      const resumeCode = checkResumeFlags(io, common, settingsGiven, '--backend, --data-dir');
      if (resumeCode !== null) return resumeCode;
      const outDir = common.out ? resolve(common.out) : classificationOutDir(dataset, config.setting, config.preset);
      const backend = await selectBackend(common.backend, { threads: common.threads });
      const log = runLog(io, common);
      log(
        `samrank-repro ${dataset}: ${common.resume ? 'resuming' : `${config.preset} preset, ${config.setting}, ${config.model} width ${config.width}, rho ${config.rhos.join(',')}, seeds ${config.seeds.join(',')}`} on ${backend} -> ${outDir}`,
      );
      const progress = createProgress(dataset, { stream: io.stderr, plain: io.plainProgress, quiet: common.json });
      const stop = stopFlag(io);
      try {
        const outcome = await runClassificationExperiment({
          config,
          outDir,
          backend,
          resume: common.resume,
          command: io.commandLine,
          ...(flags['dataDir'] ? { dataDir: resolve(flags['dataDir'] as string) } : {}),
          download: Boolean(flags['download']),
          onProgress: (done, total) => progress.update(done, total),
          onEvaluation: (r) =>
            progress.log(
              `  rho ${r.rho} seed ${r.seed} step ${r.step}: test ${(100 * r.testError).toFixed(2)} %, loss ${r.trainLoss.toFixed(4)}, rank ${Object.entries(r.featureRank).map(([b, v]) => `b${b} ${v}`).join(' ')}` +
                (r.knnError !== null ? `, knn ${(100 * r.knnError).toFixed(2)} %` : ''),
            ),
          shouldStop: stop.stopped,
          onLog: log,
        });
        progress.stop();
        if (outcome.status === 'interrupted') {
          io.stderr.write(
            `samrank-repro: interrupted in run ${outcome.runIndex + 1} at step ${outcome.step}; state saved to ${join(outDir, 'checkpoint.json')}\n` +
              resumeHint(dataset, outDir, common),
          );
          return EXIT.interrupted;
        }
        const { results } = outcome;
        if (common.json) {
          io.stdout.write(toJsonLine({ outDir, wallSeconds: outcome.wallSeconds, ...results }) + '\n');
        } else {
          const diverged = results.runs.filter((r) => r.status === 'diverged');
          io.stdout.write(
            `${classificationTable(results)}\n` +
              (diverged.length ? `diverged (NaN/Inf loss): ${diverged.map((r) => `rho ${r.rho} seed ${r.seed} at step ${r.divergedAt}`).join('; ')}\n` : '') +
              (results.rankTrend
                ? `block-3 rank at rho ${results.rankTrend.rhoMax}: ${results.rankTrend.rankMax} vs ${results.rankTrend.rank0} at rho 0 (${results.rankTrend.lower ? 'lower' : 'not lower'})\n`
                : '') +
              `${outcome.wallSeconds.toFixed(1)} s; wrote ${join(outDir, 'results.json')}, history.jsonl, report.md, figures/\n`,
          );
        }
        return EXIT.ok;
      } finally {
        progress.stop();
        stop.remove();
      }
    },
  };
}

/** The four classification subcommands, in `--help` order. */
export const classificationExperiments: ExperimentDefinition[] = (['cifar10', 'cifar100', 'tiny-imagenet', 'fashion-mnist'] as const).map(classificationExperiment);
