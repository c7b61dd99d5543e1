/**
 * Test helper (not exported): a tiny pure-JS experiment that exercises every part of the runner in
 * milliseconds. Each run holds one number that grows by ρ + seed/1000 per step; the metrics read it. Runs can
 * be told to diverge at a step (the step reports them) or at an evaluation (a metric throws).
 */
import { z } from 'zod';
import { ExperimentConfigError, RunDivergedError } from '../src/errors.js';
import type { ExperimentDefinition, Metric, RunKey, TrainingJob } from '../src/runner/definition.js';
import { flag, numberList, wholeNumber } from '../src/runner/flags.js';
import { summarizeList } from '../src/runner/text.js';

const configSchema = z.object({
  preset: z.enum(['smoke', 'paper']),
  rhos: z.array(z.number().nonnegative()).min(1),
  seeds: z.array(z.number().int().nonnegative()).min(1),
  steps: z.number().int().positive(),
  evalEvery: z.number().int().positive(),
  /** All runs in one job (like teacher-student) or a job per run (like classification). */
  batched: z.boolean(),
  /** A run whose ρ equals this diverges at `divergeStep` (in a step) or at the evaluation there. */
  divergeRho: z.number().nullable(),
  divergeStep: z.number().int().nonnegative(),
  divergeWhere: z.enum(['step', 'eval']),
  /** Bytes the sweep claims to need (tests the memory check). */
  memory: z.number().nonnegative(),
});
export type CounterConfig = z.infer<typeof configSchema>;

const stateSchema = z.object({ values: z.array(z.number()) });
type State = z.infer<typeof stateSchema>;

interface Context {
  value: number;
  diverged: boolean;
}

/** Calls the jobs made, for assertions. */
export const counterLog = { retired: [] as number[][], disposed: 0, created: 0 };

const flags = {
  rho: flag('--rho <list>', 'ρ values', numberList()),
  evalEvery: flag('--eval-every <n>', 'evaluate every n steps', wholeNumber(1)),
};

/** A config with defaults. */
export function counterConfig(overrides: Partial<CounterConfig> = {}): CounterConfig {
  return configSchema.parse({
    preset: 'smoke',
    rhos: [0, 1],
    seeds: [1, 2],
    steps: 10,
    evalEvery: 3,
    batched: false,
    divergeRho: null,
    divergeStep: 0,
    divergeWhere: 'step',
    memory: 0,
    ...overrides,
  });
}

function job(config: CounterConfig, runs: RunKey[], resume?: State): TrainingJob<Context, State> {
  counterLog.created++;
  const values = resume ? [...resume.values] : runs.map(() => 0);
  const retired = new Set<number>();
  return {
    step(step) {
      const failed: number[] = [];
      runs.forEach((run, i) => {
        if (retired.has(i)) return;
        if (config.divergeWhere === 'step' && run.rho === config.divergeRho && step === config.divergeStep) {
          values[i] = Number.NaN;
          failed.push(i);
          return;
        }
        values[i] = values[i]! + run.rho + run.seed / 1000;
      });
      return failed;
    },
    evaluate: (step, live) =>
      runs.map((run, i) => ({
        value: values[i]!,
        diverged: live[i]! && config.divergeWhere === 'eval' && run.rho === config.divergeRho && step >= config.divergeStep,
      })),
    retire(indices) {
      counterLog.retired.push([...indices]);
      for (const i of indices) {
        retired.add(i);
        values[i] = 0;
      }
    },
    save: () => ({ values: values.map((v) => (Number.isFinite(v) ? v : 0)) }),
    dispose() {
      counterLog.disposed++;
    },
  };
}

const metrics: Metric<Context>[] = [
  {
    key: 'value',
    title: 'value',
    column: 'value',
    compute: (e) => {
      if (e.diverged) throw new RunDivergedError('diverged at evaluation');
      return e.value;
    },
    plot: { curve: true, final: true },
    expect: 'rises',
  },
  { key: 'twice', title: 'twice the value', compute: (e) => 2 * e.value, plot: { final: true } },
  { key: 'thrice', title: 'thrice the value', compute: (e) => 3 * e.value, table: false },
];

/** The counter experiment. */
export const counterExperiment: ExperimentDefinition<CounterConfig, null, Context, State, typeof flags> = {
  name: 'counter',
  summary: 'a test experiment',
  presets: ['smoke', 'paper'],
  flags,
  configSchema,
  resolveConfig(common, values) {
    if (common.preset === 'paper') throw new ExperimentConfigError('the counter has no paper preset');
    return counterConfig({
      ...(values.rho ? { rhos: values.rho } : {}),
      ...(values.evalEvery ? { evalEvery: values.evalEvery } : {}),
      ...(common.seeds ? { seeds: Array.from({ length: common.seeds }, (_, i) => (common.seed ?? 1) + i) } : {}),
      ...(common.iterations ? { steps: common.iterations } : {}),
    });
  },
  estimateMemory: (config) => config.memory,
  outName: () => 'counter',
  parameter: () => ({ symbol: 'ρ', name: 'rho' }),
  banner: (config) => `rho ${summarizeList(config.rhos)}, seeds ${summarizeList(config.seeds)}`,
  jobs: (config) => {
    const runs = config.seeds.flatMap((seed) => config.rhos.map((rho) => ({ rho, seed })));
    return config.batched ? [runs] : runs.map((r) => [r]);
  },
  prepare: async (config) => ({
    prepared: null,
    config,
    notes: ['counted, not trained'],
    sources: [{ name: 'none', location: 'generated' }],
  }),
  steps: (config) => config.steps,
  evaluationSteps(config) {
    const steps: number[] = [];
    for (let s = 0; s < config.steps; s += config.evalEvery) steps.push(s);
    return [...steps, config.steps];
  },
  createJob: (config, _prepared, runs, resume) => job(config, runs, resume),
  stateSchema,
  checkState: (_config, runs, state) =>
    state.values.length === runs.length ? null : `${state.values.length} values for ${runs.length} runs`,
  metrics: () => metrics,
  series: () => [{ key: 'pair', compute: (e) => [e.value, e.value + 1] }],
  extraFigures: () => [{ name: 'thrice', title: 'Thrice', kind: 'final', metrics: ['thrice'], caption: 'three times the value' }],
  progress: () => ({ field: 'step', label: 'step' }),
  report: (config) => ({
    title: 'Counter',
    settings: [`${config.steps} steps`],
    paper: {
      source: 'made up',
      rows: new Map([
        [0, { value: 0 }],
        [1, { value: 10 }],
      ]),
    },
  }),
};
