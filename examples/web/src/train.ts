/**
 * The demo's training session, without any DOM: the teacher-student student of the paper's Section 4 trained
 * the way `samrank-repro teacher-student` trains it — every ρ of one seed as one batched two-layer net
 * (`@samrank/models/two-layer`), one example per step, SAM (`@samrank/optim`) with the fused one-op loss for the
 * first half and plain SGD after — evaluated with `@samrank/rank`'s feature rank and active units.
 *
 * Runs on whatever tfjs backend is active (the page sets cpu). Training advances in time slices so that a page
 * can repaint between them; the evaluations happen at fixed iterations, so the numbers do not depend on how the
 * slices fall.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRng, twoLayerForward, twoLayerHidden, type TwoLayerParams } from '@samrank/core';
import { makeTeacherStudentData, type TeacherStudentData } from '@samrank/data/teacher-student';
import { type TwoLayerModel, fusedSquaredLoss, plainSgdStep, readTwoLayerParams, twoLayer } from '@samrank/models/two-layer';
import { SAM } from '@samrank/optim';
import { ACTIVE_UNIT_PRESETS, activeUnits, featureRank } from '@samrank/rank';

/** The student's variables by name (the subpath exports the model, not the package's record types). */
type Params = ReturnType<TwoLayerModel['initRuns']>['params'];

/** The paper's ρ grid for ReLU students. */
export const PAPER_RHOS: readonly number[] = Object.freeze([0, 0.1, 0.2, 0.4, 0.6]);
/** int(10^4.3) + 1, the paper's iteration count. */
export const PAPER_ITERATIONS = 19_953;

/** What one session trains: every ρ of `rhos` on the data, init and example order of `seed`. */
export interface DemoConfig {
  seed: number;
  rhos: readonly number[];
  iterations: number;
  /** Evaluations spread over training, plus one after the last step (default 70, as the CLI). */
  evaluations?: number;
}

/** The paper's fixed settings of the ReLU teacher-student experiment (the CLI's `paper` preset). */
export const SETTINGS = Object.freeze({
  activation: 'relu' as const,
  learningRate: 0.1,
  width: 100,
  initStd: 0.3,
  nTrain: 20,
  nTest: 1000,
  inputDim: 3,
  teacherWidth: 3,
  maxAbsLabel: 2,
  regularizedFraction: 0.5,
  rankThreshold: 0.9999,
});

/** One evaluation of one run. Losses are mean squared errors (no ½); a diverged run has NaN everywhere. */
export interface Evaluation {
  iteration: number;
  seed: number;
  rho: number;
  trainLoss: number;
  testLoss: number;
  featureRank: number;
  activeUnits: number;
  diverged: boolean;
}

/** The iterations at which the runs are evaluated (before that iteration's step), ending with `iterations` itself. */
export function evaluationIterations(iterations: number, evaluations: number): number[] {
  const out = new Set<number>();
  for (let k = 0; k < evaluations; k++) out.add(Math.round((k * iterations) / evaluations));
  out.add(iterations);
  return [...out].sort((a, b) => a - b);
}

/** The example drawn at each iteration: uniform with replacement, the CLI's stream for the same seed. */
export function exampleOrder(seed: number, nTrain: number, iterations: number): Int32Array {
  const rng = createRng(seed).fork('example-order');
  const order = new Int32Array(iterations);
  for (let i = 0; i < iterations; i++) order[i] = rng.int(nTrain);
  return order;
}

function meanSquaredError(pred: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    // e * e, not e ** 2: V8 versions round pow differently in the last bit (Node 20 and Chromium disagreed).
    const e = pred[i]! - y[i]!;
    s += e * e;
  }
  return s / y.length;
}

/** The CLI's teacher-student metrics of one run: float64 losses, rank of act(XWᵀ + b) uncentered at 99.99 %. */
export function evaluateRun(params: TwoLayerParams, data: TeacherStudentData): Omit<Evaluation, 'iteration' | 'seed' | 'rho'> {
  const d = data.inputDim;
  const trainLoss = meanSquaredError(twoLayerForward(params, SETTINGS.activation, data.xTrain, d), data.yTrain);
  const testLoss = meanSquaredError(twoLayerForward(params, SETTINGS.activation, data.xTest, d), data.yTest);
  const phi = twoLayerHidden(params, SETTINGS.activation, data.xTrain, d);
  if (!Number.isFinite(trainLoss) || !Number.isFinite(testLoss) || !phi.every(Number.isFinite)) {
    return { trainLoss: Number.NaN, testLoss: Number.NaN, featureRank: Number.NaN, activeUnits: Number.NaN, diverged: true };
  }
  const matrix = { data: phi, rows: data.nTrain, cols: phi.length / data.nTrain };
  return {
    trainLoss,
    testLoss,
    featureRank: featureRank(matrix, { threshold: SETTINGS.rankThreshold, center: 'none', rule: 'original' }),
    activeUnits: activeUnits(matrix, ACTIVE_UNIT_PRESETS.relu),
    diverged: false,
  };
}

/** A batched student being trained; call {@link TrainingSession.advance} until `done`, then `dispose`. */
export class TrainingSession {
  readonly config: Required<DemoConfig>;
  readonly data: TeacherStudentData;
  /** The next iteration to run (iterations done so far). */
  iteration = 0;
  /** Every evaluation so far, in order. */
  readonly history: Evaluation[] = [];
  private readonly model: TwoLayerModel;
  private readonly params: Params;
  private readonly sam: SAM;
  private readonly order: Int32Array;
  private readonly x32: Float32Array;
  private readonly y32: Float32Array;
  private readonly schedule: number[];
  private nextEvaluation = 0;
  private readonly lastRegularized: number;
  private disposed = false;

  constructor(config: DemoConfig) {
    const { seed, rhos, iterations } = config;
    if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`seed must be an integer ≥ 0, got ${seed}`);
    if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`iterations must be a positive integer, got ${iterations}`);
    if (rhos.length === 0 || !rhos.every((r) => Number.isFinite(r) && r >= 0))
      throw new RangeError(`ρ values must be finite and ≥ 0, got ${rhos.join(', ')}`);
    this.config = { seed, rhos: [...rhos], iterations, evaluations: config.evaluations ?? 70 };
    const s = SETTINGS;
    this.data = makeTeacherStudentData({
      seed,
      activation: s.activation,
      nTrain: s.nTrain,
      nTest: s.nTest,
      inputDim: s.inputDim,
      teacherWidth: s.teacherWidth,
      maxAbsLabel: s.maxAbsLabel,
    });
    this.x32 = Float32Array.from(this.data.xTrain);
    this.y32 = Float32Array.from(this.data.yTrain);
    this.order = exampleOrder(seed, s.nTrain, iterations);
    this.schedule = evaluationIterations(iterations, this.config.evaluations);
    this.lastRegularized = Math.floor(s.regularizedFraction * iterations);
    this.model = twoLayer({
      inputDim: s.inputDim,
      hiddenUnits: s.width,
      activation: s.activation,
      biases: true,
      initStd: s.initStd,
      runs: rhos.length,
    });
    // Every run starts from the init of its seed, as in the CLI's sweep.
    this.params = this.model.initRuns(rhos.map(() => seed)).params;
    // epsilon 0 as the paper's two-layer code; no per-step finiteness read-back (evaluations find divergence).
    this.sam = new SAM(tf.train.sgd(s.learningRate), { rho: [...rhos], epsilon: 0, runs: rhos.length, checkFinite: false });
  }

  get done(): boolean {
    return this.nextEvaluation >= this.schedule.length;
  }

  /**
   * Trains until `budgetMs` have passed (checked every few steps) or training ends; returns the evaluations made
   * meanwhile (all runs at each evaluated iteration).
   */
  advance(budgetMs: number, now: () => number = () => performance.now()): Evaluation[] {
    if (this.disposed) throw new Error('the session was disposed');
    const start = now();
    const out: Evaluation[] = [];
    const { rhos } = this.config;
    const R = rhos.length;
    const d = SETTINGS.inputDim;
    const x = new Float32Array(R * d);
    const y = new Float32Array(R);
    const variables = Object.values(this.params);
    while (!this.done) {
      if (this.iteration === this.schedule[this.nextEvaluation]) {
        out.push(...this.evaluate());
        this.nextEvaluation++;
        continue;
      }
      const i = this.order[this.iteration]!;
      for (let r = 0; r < R; r++) {
        x.set(this.x32.subarray(i * d, (i + 1) * d), r * d);
        y[r] = this.y32[i]!;
      }
      if (this.iteration <= this.lastRegularized) {
        tf.tidy(() => {
          this.sam.minimize(() => fusedSquaredLoss(this.model, this.params, x, y), false, variables);
        });
      } else {
        plainSgdStep(this.model, this.params, x, y, SETTINGS.learningRate);
      }
      this.iteration++;
      if (this.iteration % 16 === 0 && now() - start >= budgetMs) break;
    }
    return out;
  }

  /** The last evaluation of each run (after the final step once `done`). */
  finals(): Evaluation[] {
    return this.history.slice(-this.config.rhos.length);
  }

  private evaluate(): Evaluation[] {
    const values = readTwoLayerParams(this.model, this.params);
    const rows = values.map((p, r) => ({
      iteration: this.iteration,
      seed: this.config.seed,
      rho: this.config.rhos[r]!,
      ...evaluateRun(p, this.data),
    }));
    this.history.push(...rows);
    return rows;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.sam.dispose();
    for (const v of Object.values(this.params)) v.dispose();
  }
}

/** Trains a whole config at once (tests, scripts): every evaluation, and each run's final one. */
export function trainToEnd(config: DemoConfig): { history: Evaluation[]; finals: Evaluation[] } {
  const session = new TrainingSession(config);
  try {
    while (!session.done) session.advance(Number.POSITIVE_INFINITY);
    return { history: session.history, finals: session.finals() };
  } finally {
    session.dispose();
  }
}
