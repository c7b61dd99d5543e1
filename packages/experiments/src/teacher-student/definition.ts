/**
 * The teacher-student experiment (paper §4, Figs. 5, 12, 13) as a runner definition: all (seed, ρ) runs of a
 * sweep train as ONE batched student (one job), so batch-1 SGD costs a handful of kernel launches per step for
 * the whole grid.
 */
import type { TwoLayerActivation } from '@samrank/core';
import { z } from 'zod';
import type { ExperimentDefinition, Metric, RunKey, TrainingJob } from '../runner/definition.js';
import { choice, flag, numberList } from '../runner/flags.js';
import { summarizeList } from '../runner/text.js';
import {
  ACTIVATIONS,
  METHODS,
  PRESETS,
  type TeacherStudentConfig,
  type TeacherStudentMethod,
  evaluationIterations,
  lastRegularizedIteration,
  resolveTeacherStudentConfig,
  teacherStudentConfigSchema,
} from './config.js';
import { type StudentEvaluation, studentActiveUnits, studentEvaluation, studentFeatureRank, studentTestLoss } from './metrics.js';
import { paperNumbers } from './report.js';
import { createStudentTrainer, exampleOrder, sweepData } from './train.js';
import type { TeacherStudentData } from '@samrank/data';
import type { TwoLayerParams } from '@samrank/core';
import { createModel, disposeState, readTwoLayerParams, twoLayerLayout, writeTwoLayerParams } from '@samrank/models';

const flags = {
  activation: flag('--activation <name>', `hidden activation: ${ACTIVATIONS.join(' | ')} (default relu)`, choice(ACTIVATIONS)),
  method: flag('--method <name>', 'sam | gradnorm (gradient-norm regularizer, Fig. 13) (default sam)', choice(METHODS)),
  rho: flag('--rho <list>', "comma-separated ρ (or λ for gradnorm) values (default: the paper's grid)", numberList()),
};

/** Each seed's data and example order, made once per sweep. */
interface Prepared {
  data: TeacherStudentData[];
  /** Float32 copies of the training inputs and labels, what a step feeds. */
  x32: Float32Array[];
  y32: Float32Array[];
  orders: Int32Array[];
}

/** One run's parameters in a checkpoint (float32 values stored as numbers: exact). */
const paramsSchema = z.object({ W: z.array(z.number()), b: z.array(z.number()), a: z.array(z.number()), c: z.number() });
const stateSchema = z.object({ params: z.array(paramsSchema) });
type State = z.infer<typeof stateSchema>;

const lossFormat = (x: number) => (x < 1e-3 ? x.toExponential(1) : x.toFixed(4));
const countFormat = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

function metrics(config: TeacherStudentConfig): Metric<StudentEvaluation>[] {
  const units = config.activation === 'relu' ? 'active ReLUs' : `active ${config.activation} units`;
  return [
    {
      key: 'trainLoss',
      title: 'train loss',
      column: 'train',
      compute: (e) => e.trainLoss,
      format: lossFormat,
      plot: { curve: true, log: true },
      trainingQuality: true,
    },
    // Fig. 5's generalization panel: every ρ > 0 ends below ρ = 0 in the authors' run.
    {
      key: 'testLoss',
      title: 'test loss',
      column: 'test',
      compute: studentTestLoss,
      format: lossFormat,
      plot: { curve: true, final: true, log: true },
      expect: 'falls',
    },
    {
      key: 'featureRank',
      title: `feature rank (${100 * config.rankThreshold} %)`,
      column: 'rank',
      compute: (e) => studentFeatureRank(e.features(), e.data.yTrain.length, e.options),
      format: countFormat,
      plot: { curve: true, final: true },
      expect: 'falls',
    },
    {
      key: 'activeUnits',
      title: units,
      column: 'active',
      compute: (e) => studentActiveUnits(e.features(), e.data.yTrain.length, e.options),
      format: countFormat,
      plot: { curve: true, final: true },
      expect: 'falls',
    },
    {
      key: 'weightNorm',
      title: 'ℓ2 norm',
      column: 'norm',
      compute: (e) => e.weightNorm,
      format: (x) => x.toFixed(2),
      plot: { curve: true, final: true },
    },
  ];
}

const toState = (params: TwoLayerParams[]): State => ({
  params: params.map((p) => ({ W: Array.from(p.W), b: Array.from(p.b), a: Array.from(p.a), c: p.c })),
});

/** One two-layer student holding every run of the sweep (run r starts from its seed's init). */
function createJob(
  config: TeacherStudentConfig,
  prepared: Prepared,
  runs: RunKey[],
  resume?: State,
): TrainingJob<StudentEvaluation, State> {
  const seedIndex = runs.map((r) => config.seeds.indexOf(r.seed));
  const { inputDim, width } = config;
  const model = createModel('two-layer', {
    inputDim,
    hiddenUnits: width,
    activation: config.activation,
    biases: true,
    initStd: config.initStd,
    runs: runs.length,
  });
  const params = resume
    ? model.createParams(
        resume.params.map((p) => ({ W: Float64Array.from(p.W), b: Float64Array.from(p.b), a: Float64Array.from(p.a), c: p.c })),
      )
    : model.initRuns(runs.map((r) => r.seed)).params;
  const trainer = createStudentTrainer(model, params, {
    method: config.method,
    rhos: runs.map((r) => r.rho),
    learningRate: config.learningRate,
    epsilon: 0,
  });
  const lastReg = lastRegularizedIteration(config);
  const options = { activation: config.activation, rankThreshold: config.rankThreshold, activeThreshold: config.activeThreshold };
  const R = runs.length;
  return {
    step(it) {
      const x = new Float32Array(R * inputDim);
      const y = new Float32Array(R);
      for (let r = 0; r < R; r++) {
        const s = seedIndex[r]!;
        const i = prepared.orders[s]![it]!;
        x.set(prepared.x32[s]!.subarray(i * inputDim, (i + 1) * inputDim), r * inputDim);
        y[r] = prepared.y32[s]![i]!;
      }
      trainer.step(x, y, it <= lastReg);
      // The optimizers do not check finiteness per step (one diverging run must not stop the batch): the
      // evaluations find non-finite runs.
      return [];
    },
    evaluate(_step, live) {
      const values = readTwoLayerParams(model, params);
      return runs.map((_, r) => (live[r] ? studentEvaluation(values[r]!, prepared.data[seedIndex[r]!]!, options) : null));
    },
    retire(indices) {
      // Parked at zero weights, a diverged run's NaNs cannot reach the others through shared reductions.
      const values = readTwoLayerParams(model, params);
      for (const r of indices)
        values[r] = { W: new Float64Array(width * inputDim), b: new Float64Array(width), a: new Float64Array(width), c: 0 };
      writeTwoLayerParams(model, params, values);
    },
    save: () => toState(readTwoLayerParams(model, params)),
    dispose() {
      trainer.dispose();
      disposeState(params);
    },
  };
}

/** The teacher-student experiment. */
export const teacherStudentDefinition: ExperimentDefinition<TeacherStudentConfig, Prepared, StudentEvaluation, State, typeof flags> = {
  name: 'teacher-student',
  summary: 'two-layer teacher-student regression: feature rank vs SAM ρ (paper §4, Figs. 5, 12, 13)',
  presets: PRESETS,
  flags,
  configSchema: teacherStudentConfigSchema,
  resolveConfig: (common, values) =>
    resolveTeacherStudentConfig({
      preset: common.preset as TeacherStudentConfig['preset'] | undefined,
      activation: values.activation as TwoLayerActivation | undefined,
      method: values.method as TeacherStudentMethod | undefined,
      rhos: values.rho,
      seeds: common.seeds,
      seed: common.seed,
      iterations: common.iterations,
    }),
  estimateMemory(config) {
    const runs = config.rhos.length * config.seeds.length;
    const perRun = twoLayerLayout(config.width, config.inputDim, true).size;
    // Example orders, per-run parameters (float64 copies and tfjs' float32 ones, a few of each) and the history.
    return 4 * config.iterations * config.seeds.length + 64 * perRun * runs + 400 * runs * config.evaluations + 2 ** 26;
  },
  outName: (config) => `teacher-student-${config.activation}-${config.method}`,
  parameter: (config) => (config.method === 'sam' ? { symbol: 'ρ', name: 'rho' } : { symbol: 'λ', name: 'lambda' }),
  banner: (config) =>
    `${config.activation}, ${config.method}, ${config.method === 'sam' ? 'rho' : 'lambda'} ${summarizeList(config.rhos)}, seeds ${summarizeList(config.seeds)}, ${config.iterations} iterations`,
  jobs: (config) => [config.seeds.flatMap((seed) => config.rhos.map((rho) => ({ rho, seed })))],
  async prepare(config) {
    const data = sweepData(config);
    return {
      prepared: {
        data,
        x32: data.map((d) => Float32Array.from(d.xTrain)),
        y32: data.map((d) => Float32Array.from(d.yTrain)),
        orders: config.seeds.map((seed) => exampleOrder(seed, config.nTrain, config.iterations)),
      },
      config,
      notes: [],
      sources: config.seeds.map((seed, i) => ({
        name: `teacher-student seed ${seed}`,
        location: `generated (${data[i]!.attempts} draw${data[i]!.attempts === 1 ? '' : 's'})`,
      })),
    };
  },
  steps: (config) => config.iterations,
  evaluationSteps: (config) => evaluationIterations(config.iterations, config.evaluations),
  createJob,
  stateSchema,
  checkState(config, runs, state) {
    if (state.params.length !== runs.length) return `the checkpoint holds ${state.params.length} runs' parameters, expected ${runs.length}`;
    const m = config.width;
    for (const [r, p] of state.params.entries()) {
      if (p.W.length !== m * config.inputDim || p.b.length !== m || p.a.length !== m) {
        return `run ${r}'s parameters have ${p.W.length}/${p.b.length}/${p.a.length} values, expected ${m * config.inputDim}/${m}/${m}`;
      }
      if (![...p.W, ...p.b, ...p.a, p.c].every(Number.isFinite)) return `run ${r}'s parameters are not all finite`;
    }
    return null;
  },
  metrics,
  progress: () => ({ field: 'iteration', label: 'iteration' }),
  report(config) {
    const method = config.method === 'sam' ? 'SAM' : 'gradient-norm regularizer';
    const paper = paperNumbers(config);
    return {
      title: `Teacher-student (${config.activation}, ${method})`,
      settings: [
        `Preset \`${config.preset}\`: n = ${config.nTrain} training / ${config.nTest} test points on the unit sphere in R^${config.inputDim}, ` +
          `teacher with ${config.teacherWidth} ${config.activation} units, student m = ${config.width}, init std ${config.initStd}, ` +
          `SGD batch 1, lr ${config.learningRate}, ${config.iterations} iterations, ${method} for i ≤ ${lastRegularizedIteration(config)}. ` +
          `Data seeds ${summarizeList(config.seeds)} (labels redrawn until max |y| ≤ ${config.maxAbsLabel}). ` +
          `Final values are the last evaluation, before iteration ${Math.max(...evaluationIterations(config.iterations, config.evaluations))}.`,
      ],
      ...(paper
        ? {
            paper: {
              source: "the authors' notebook, one seed (paper §4; docs/paper-notes.md §9.4)",
              rows: new Map([...paper].map(([rho, row]) => [rho, { ...row }])),
            },
          }
        : {}),
      figureCaptions: {
        curves: `each metric against the iteration, median over seeds, one line per ${config.method === 'sam' ? 'ρ' : 'λ'}`,
        [`final-vs-${config.method === 'sam' ? 'rho' : 'lambda'}`]:
          'final values: a dot per seed, the median line and the min–max band (like Fig. 5)',
      },
    };
  },
};
