/**
 * Settings of the teacher-student experiment (paper §4, App. D; docs/paper-notes.md §9): the paper's values per activation and method,
 * a small smoke preset, and validation of user overrides. Pure data, no tfjs.
 */
import { TWO_LAYER_ACTIVATIONS, type TwoLayerActivation } from '@samrank/core';
import { z } from 'zod';
import { ExperimentConfigError } from '../errors.js';

/** How the first half of training is regularized: SAM (ρ) or the gradient-norm penalty (λ). */
export type TeacherStudentMethod = 'sam' | 'gradnorm';

/** The activations and methods in a stable order (CLI choices, report order). */
export const ACTIVATIONS: readonly TwoLayerActivation[] = TWO_LAYER_ACTIVATIONS;
export const METHODS: readonly TeacherStudentMethod[] = ['sam', 'gradnorm'];
export const PRESETS = ['paper', 'smoke'] as const;
/** `paper`: the settings of docs/paper-notes.md §9.2 exactly; `smoke`: the same model on a short schedule, for tests and a quick look. */
export type Preset = (typeof PRESETS)[number];

const positiveInt = z.number().int().positive();
const distinct = (values: number[]) => new Set(values).size === values.length;

/** Everything one sweep needs; `rhos` holds λ for the gradient-norm regularizer. */
export const teacherStudentConfigSchema = z.object({
  experiment: z.literal('teacher-student'),
  preset: z.enum(PRESETS),
  activation: z.enum(['relu', 'tanh', 'abs']),
  method: z.enum(['sam', 'gradnorm']),
  /** ρ (SAM) or λ (regularizer) grid; every value of a seed starts from the same init and example order. */
  rhos: z.array(z.number().nonnegative()).min(1).refine(distinct, 'values must be distinct'),
  /** Data seeds; each has its own data, teacher, init and example order. */
  seeds: z.array(z.number().int().nonnegative()).min(1).refine(distinct, 'seeds must be distinct'),
  iterations: positiveInt,
  learningRate: z.number().positive(),
  /** Student hidden units. */
  width: positiveInt,
  initStd: z.number().positive(),
  nTrain: positiveInt,
  nTest: positiveInt,
  inputDim: positiveInt,
  teacherWidth: positiveInt,
  /** SAM / the regularizer act at iterations i ≤ floor(regularizedFraction · iterations). */
  regularizedFraction: z.number().min(0).max(1),
  /** Number of evaluation points, at round(k · iterations / evaluations), k = 0 … evaluations − 1. */
  evaluations: positiveInt,
  /** Variance threshold of the feature rank. */
  rankThreshold: z.number().gt(0).max(1),
  /** |act| ≥ this counts a tanh / abs unit as active (ReLU: act > 0). */
  activeThreshold: z.number().nonnegative(),
  /** The data generator's label-scale rule (resample while max |y| exceeds it). */
  maxAbsLabel: z.number().positive(),
});

/** A resolved teacher-student config (written to results.json and the checkpoint). */
export type TeacherStudentConfig = z.infer<typeof teacherStudentConfigSchema>;

/** The user-facing knobs; anything left out comes from the preset. */
export interface TeacherStudentOverrides {
  preset?: Preset;
  activation?: TwoLayerActivation;
  method?: TeacherStudentMethod;
  rhos?: number[];
  /** Number of seeds, counted up from `seed`. */
  seeds?: number;
  /** First data seed. */
  seed?: number;
  iterations?: number;
}

/** The paper's ρ / λ grid for each activation and method (docs/paper-notes.md §9.2). */
export function paperGrid(activation: TwoLayerActivation, method: TeacherStudentMethod): number[] {
  if (method === 'gradnorm') return [0, 0.1, 0.2, 0.3, 0.35, 0.38];
  switch (activation) {
    case 'relu':
      return [0, 0.1, 0.2, 0.4, 0.6];
    case 'abs':
      return [0, 0.1, 0.2, 0.3, 0.4];
    case 'tanh':
      return [0, 0.2, 0.4, 0.6, 0.8];
  }
}

/** The paper's learning rate: 0.1 for ReLU (SAM and regularizer), 0.01 for abs, 0.005 for tanh. */
export function paperLearningRate(activation: TwoLayerActivation): number {
  return activation === 'relu' ? 0.1 : activation === 'abs' ? 0.01 : 0.005;
}

/** The paper's init std: 0.3, raised to 1.0 for tanh to leave its linear regime. */
export function paperInitStd(activation: TwoLayerActivation): number {
  return activation === 'tanh' ? 1.0 : 0.3;
}

/** int(10^4.3) + 1, the paper's iteration count. */
export const PAPER_ITERATIONS = 19_953;
/** Seeds used when the user gives none: five, so medians over seeds are meaningful and cheap when batched. */
export const DEFAULT_SEEDS = 5;
export const DEFAULT_FIRST_SEED = 1;

function checkNumbers(name: string, values: number[]): void {
  if (values.length === 0) throw new ExperimentConfigError(`${name} needs at least one value`);
  for (const v of values) {
    if (!Number.isFinite(v) || v < 0) throw new ExperimentConfigError(`${name} values must be finite and ≥ 0, got ${v}`);
  }
}

/** Builds a full config from a preset plus overrides; throws {@link ExperimentConfigError} on bad values. */
export function resolveTeacherStudentConfig(overrides: TeacherStudentOverrides = {}): TeacherStudentConfig {
  const preset = overrides.preset ?? 'paper';
  if (!PRESETS.includes(preset)) throw new ExperimentConfigError(`preset must be one of ${PRESETS.join(', ')}, got ${preset}`);
  const activation = overrides.activation ?? 'relu';
  if (!ACTIVATIONS.includes(activation)) {
    throw new ExperimentConfigError(`activation must be one of ${ACTIVATIONS.join(', ')}, got ${activation}`);
  }
  const method = overrides.method ?? 'sam';
  if (!METHODS.includes(method)) throw new ExperimentConfigError(`method must be one of ${METHODS.join(', ')}, got ${method}`);
  const rhos = overrides.rhos ?? paperGrid(activation, method);
  checkNumbers(method === 'sam' ? 'rho' : 'lambda', rhos);
  if (new Set(rhos).size !== rhos.length)
    throw new ExperimentConfigError(`${method === 'sam' ? 'rho' : 'lambda'} values must be distinct, got ${rhos.join(',')}`);
  const nSeeds = overrides.seeds ?? (preset === 'smoke' ? 2 : DEFAULT_SEEDS);
  const first = overrides.seed ?? DEFAULT_FIRST_SEED;
  if (!Number.isInteger(nSeeds) || nSeeds < 1) throw new ExperimentConfigError(`seeds must be a positive integer, got ${nSeeds}`);
  if (!Number.isInteger(first) || first < 0) throw new ExperimentConfigError(`seed must be an integer ≥ 0, got ${first}`);
  const iterations = overrides.iterations ?? (preset === 'smoke' ? 1_000 : PAPER_ITERATIONS);
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new ExperimentConfigError(`iterations must be a positive integer, got ${iterations}`);
  }
  return {
    experiment: 'teacher-student',
    preset,
    activation,
    method,
    rhos: [...rhos],
    seeds: Array.from({ length: nSeeds }, (_, i) => first + i),
    iterations,
    learningRate: paperLearningRate(activation),
    width: 100,
    initStd: paperInitStd(activation),
    nTrain: 20,
    nTest: 1000,
    inputDim: 3,
    teacherWidth: 3,
    regularizedFraction: 0.5,
    evaluations: Math.min(70, iterations),
    rankThreshold: 0.9999,
    activeThreshold: 0.05,
    maxAbsLabel: 2,
  };
}

/** Rounds half to even, as numpy's `round` does (9976.5 → 9976). */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d !== 0.5) return Math.round(x);
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The iterations at which metrics are taken (before that iteration's update): numpy's
 * `round(linspace(0, N, E + 1))[:-1]`, reproduced exactly — linspace's k·(N/E) and round half to even, so the
 * paper grid's point k = 35 is 9976 (not 9977).
 */
export function evaluationIterations(iterations: number, evaluations: number): number[] {
  const out: number[] = [];
  const step = iterations / evaluations;
  for (let k = 0; k < evaluations; k++) {
    const it = roundHalfEven(k * step);
    if (it < iterations && (out.length === 0 || it > out[out.length - 1]!)) out.push(it);
  }
  return out;
}

/** Last iteration (inclusive) at which SAM / the regularizer is on: floor(fraction · N), i.e. i ≤ 0.5 · N. */
export function lastRegularizedIteration(config: Pick<TeacherStudentConfig, 'iterations' | 'regularizedFraction'>): number {
  return Math.floor(config.regularizedFraction * config.iterations);
}
