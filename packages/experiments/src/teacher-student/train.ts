/**
 * The teacher-student sweep: every (seed, ρ) pair is one run of a batched student trained with
 * @samrank/optim's SAM (or GradientNormRegularizer) — one example per run per step, per-run gradient
 * norms. The loop is pure apart from the hooks, which the CLI uses for progress, checkpoints and Ctrl-C.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GradientNormRegularizer, SAM } from '@samrank/optim';
import { createRng } from '@samrank/core';
import { makeTeacherStudentData, type TeacherStudentData, type TwoLayerParams } from '@samrank/data';
import {
  evaluationIterations,
  lastRegularizedIteration,
  type TeacherStudentConfig,
  type TeacherStudentMethod,
} from './config.js';
import { evaluateStudent, type StudentMetrics } from './metrics.js';
import {
  batchedSquaredLoss,
  createBatchedStudent,
  disposeStudent,
  fusedSquaredLoss,
  initStudentParams,
  plainSgdStep,
  readStudentParams,
  writeStudentParams,
  type BatchedStudent,
} from './model.js';

/** How a run ended: `diverged` once its training loss turned NaN or infinite. */
export type RunStatus = 'ok' | 'diverged';

/** One line of history.jsonl: one run at one evaluation point (before that iteration's update). */
export interface HistoryRecord extends StudentMetrics {
  iteration: number;
  rho: number;
  seed: number;
}

/** The final state of one run. `final` is the last evaluation (iteration 19 668 in the paper); null if diverged. */
export interface RunResult {
  rho: number;
  seed: number;
  status: RunStatus;
  /** Evaluation iteration at which the loss was first found non-finite. */
  divergedAt: number | null;
  final: StudentMetrics | null;
}

/** Everything needed to continue a sweep exactly where it stopped (JSON-serializable). */
export interface SweepState {
  /** Next iteration to run (its evaluation is skipped if `history` already has it). */
  iteration: number;
  /** Per-run parameters, float32 values stored as numbers (exact). */
  params: { W: number[]; b: number[]; a: number[]; c: number }[];
  history: HistoryRecord[];
  status: RunStatus[];
  divergedAt: (number | null)[];
}

/** Callbacks of {@link runTeacherStudentSweep}. */
export interface SweepHooks {
  /** Called every few dozen iterations and at the end. */
  onProgress?(iteration: number, total: number): void;
  /** Called after each evaluation with that point's records. */
  onEvaluation?(iteration: number, records: HistoryRecord[]): void;
  /** Polled between iterations; returning true stops the sweep and returns its state. */
  shouldStop?(): boolean;
  /** Called with the state after each evaluation (periodic checkpoint). */
  onCheckpoint?(state: SweepState): void | Promise<void>;
  /** Continue from this state instead of the init. */
  resume?: SweepState;
}

/** Outcome of a sweep: finished with results, or stopped with a resumable state. */
export type SweepOutcome =
  | { completed: true; runs: RunResult[]; history: HistoryRecord[] }
  | { completed: false; state: SweepState };

/** Step options of {@link createStudentTrainer}. */
export interface TrainerOptions {
  method: TeacherStudentMethod;
  /** ρ (SAM) or λ (regularizer) per run. */
  rhos: number[];
  learningRate: number;
  /** SAM's normalization guard: g/(‖g‖ + epsilon). The paper's two-layer code uses 0. */
  epsilon?: number;
}

/** One optimizer step of the batched student on one example per run. */
export interface StudentTrainer {
  /** x: [R · d] row-major, y: [R]; `regularized` false runs the plain SGD phase. */
  step(x: Float32Array, y: Float32Array, regularized: boolean): void;
  dispose(): void;
}

/**
 * Wraps SAM / GradientNormRegularizer around a batched student. SAM steps take the fused one-op loss
 * ({@link fusedSquaredLoss}); the exact regularizer keeps the differentiable tfjs-op loss. After the regularized
 * window (and for an all-zero λ grid) each step is plain SGD, done by {@link plainSgdStep} without kernels.
 */
export function createStudentTrainer(student: BatchedStudent, options: TrainerOptions): StudentTrainer {
  const { runs, inputDim } = student;
  if (options.rhos.length !== runs) throw new RangeError(`rhos has ${options.rhos.length} values for ${runs} runs`);
  let phase: 'regularized' | 'plain' = 'regularized';
  const sam =
    options.method === 'sam'
      ? new SAM(tf.train.sgd(options.learningRate), { rho: options.rhos, epsilon: options.epsilon ?? 0, runs, checkFinite: false })
      : undefined;
  const reg =
    options.method === 'gradnorm'
      ? new GradientNormRegularizer(tf.train.sgd(options.learningRate), {
          lambda: options.rhos,
          // Exact double backprop as in the paper; optim registers the gradient fixes that make it
          // correct for tanh (stock tfjs differentiates tanh through its saved output).
          mode: 'exact',
          runs,
          checkFinite: false,
        })
      : undefined;
  // The optimizers' own finiteness check would read a scalar back every step and abort the whole batch
  // when one run diverges; the sweep checks losses itself at each evaluation instead (checkFinite: false).
  const allZero = options.rhos.every((r) => r === 0);
  return {
    step(xData, yData, regularized) {
      if (!regularized) phase = 'plain';
      const regularizing = phase === 'regularized' && (sam !== undefined || (reg !== undefined && !allZero));
      if (!regularizing) {
        // Plain SGD needs no optimizer state: one hand-rolled step, rounded like tf.train.sgd.
        plainSgdStep(student, xData, yData, options.learningRate);
        return;
      }
      tf.tidy(() => {
        if (sam) {
          // SAM is first-order: the fused one-kernel loss.
          sam.minimize(() => fusedSquaredLoss(student, xData, yData), false, student.variables);
        } else {
          // The exact regularizer differentiates its own gradient: the differentiable tfjs-op loss.
          const x = tf.tensor2d(xData, [runs, inputDim]);
          const y = tf.tensor1d(yData);
          reg!.minimize(() => batchedSquaredLoss(student, x, y), false, student.variables);
        }
      });
    },
    dispose() {
      sam?.dispose();
      reg?.dispose();
    },
  };
}

/** The example index drawn at each iteration for one seed (uniform with replacement, shared by all ρ). */
export function exampleOrder(seed: number, nTrain: number, iterations: number): Int32Array {
  const rng = createRng(seed).fork('example-order');
  const order = new Int32Array(iterations);
  for (let i = 0; i < iterations; i++) order[i] = rng.int(nTrain);
  return order;
}

/** The teacher-student data of every seed of a config. */
export function sweepData(config: TeacherStudentConfig): TeacherStudentData[] {
  return config.seeds.map((seed) =>
    makeTeacherStudentData({
      seed,
      activation: config.activation,
      nTrain: config.nTrain,
      nTest: config.nTest,
      inputDim: config.inputDim,
      teacherWidth: config.teacherWidth,
      maxAbsLabel: config.maxAbsLabel,
    }),
  );
}

/** Run r of a sweep is seed ⌊r / #ρ⌋ with ρ index r mod #ρ. */
export function sweepRuns(config: TeacherStudentConfig): { rho: number; seed: number; seedIndex: number }[] {
  return config.seeds.flatMap((seed, seedIndex) => config.rhos.map((rho) => ({ rho, seed, seedIndex })));
}

function toState(
  iteration: number,
  params: TwoLayerParams[],
  history: HistoryRecord[],
  status: RunStatus[],
  divergedAt: (number | null)[],
): SweepState {
  return {
    iteration,
    params: params.map((p) => ({ W: Array.from(p.W), b: Array.from(p.b), a: Array.from(p.a), c: p.c })),
    history: [...history],
    status: [...status],
    divergedAt: [...divergedAt],
  };
}

function fromState(state: SweepState): TwoLayerParams[] {
  return state.params.map((p) => ({
    W: Float64Array.from(p.W),
    b: Float64Array.from(p.b),
    a: Float64Array.from(p.a),
    c: p.c,
  }));
}

const YIELD_EVERY = 64;

/**
 * Trains every (seed, ρ) run of `config` as one batched student and evaluates all of them at the
 * evaluation points. Diverged runs are parked at zero parameters so they cannot disturb the batch, and the
 * sweep goes on. Yields to the event loop every few dozen steps so a SIGINT handler can set `shouldStop`.
 */
export async function runTeacherStudentSweep(config: TeacherStudentConfig, hooks: SweepHooks = {}): Promise<SweepOutcome> {
  const runs = sweepRuns(config);
  const data = sweepData(config);
  const { inputDim, nTrain, iterations } = config;
  const orders = config.seeds.map((seed) => exampleOrder(seed, nTrain, iterations));
  const x32 = data.map((d) => Float32Array.from(d.xTrain));
  const y32 = data.map((d) => Float32Array.from(d.yTrain));
  const evalAt = new Set(evaluationIterations(iterations, config.evaluations));
  const lastReg = lastRegularizedIteration(config);

  const resume = hooks.resume;
  if (resume && resume.params.length !== runs.length) {
    throw new RangeError(`checkpoint has ${resume.params.length} runs, the config has ${runs.length}`);
  }
  const initial = resume
    ? fromState(resume)
    : config.seeds.flatMap((seed) => {
        const p = initStudentParams(seed, config.width, inputDim, config.initStd, true);
        return config.rhos.map(() => p);
      });
  const history: HistoryRecord[] = resume ? [...resume.history] : [];
  const status: RunStatus[] = resume ? [...resume.status] : runs.map(() => 'ok');
  const divergedAt: (number | null)[] = resume ? [...resume.divergedAt] : runs.map(() => null);
  const evaluated = new Set(history.map((h) => h.iteration));
  const start = resume?.iteration ?? 0;

  const student = createBatchedStudent(
    { width: config.width, inputDim, biases: true, activation: config.activation },
    initial,
  );
  const trainer = createStudentTrainer(student, {
    method: config.method,
    rhos: runs.map((r) => r.rho),
    learningRate: config.learningRate,
    epsilon: 0,
  });
  const metricOptions = {
    activation: config.activation,
    rankThreshold: config.rankThreshold,
    activeThreshold: config.activeThreshold,
  };
  const R = runs.length;
  try {
    for (let it = start; it < iterations; it++) {
      if (evalAt.has(it) && !evaluated.has(it)) {
        const params = readStudentParams(student);
        const records: HistoryRecord[] = [];
        let parked = false;
        runs.forEach((run, r) => {
          const m = evaluateStudent(params[r]!, data[run.seedIndex]!, metricOptions);
          if (status[r] === 'ok' && !Number.isFinite(m.trainLoss)) {
            status[r] = 'diverged';
            divergedAt[r] = it;
          }
          if (status[r] === 'diverged') {
            params[r] = { W: new Float64Array(params[r]!.W.length), b: new Float64Array(config.width), a: new Float64Array(config.width), c: 0 };
            parked = true;
            records.push({ iteration: it, rho: run.rho, seed: run.seed, trainLoss: NaN, testLoss: NaN, featureRank: -1, activeUnits: -1, weightNorm: NaN });
          } else {
            records.push({ iteration: it, rho: run.rho, seed: run.seed, ...m });
          }
        });
        if (parked) writeStudentParams(student, params);
        history.push(...records);
        evaluated.add(it);
        hooks.onEvaluation?.(it, records);
        if (hooks.onCheckpoint) await hooks.onCheckpoint(toState(it, params, history, status, divergedAt));
      }
      if (it % YIELD_EVERY === 0) {
        hooks.onProgress?.(it, iterations);
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (hooks.shouldStop?.()) {
          return { completed: false, state: toState(it, readStudentParams(student), history, status, divergedAt) };
        }
      }
      const x = new Float32Array(R * inputDim);
      const y = new Float32Array(R);
      for (let r = 0; r < R; r++) {
        const s = runs[r]!.seedIndex;
        const i = orders[s]![it]!;
        x.set(x32[s]!.subarray(i * inputDim, (i + 1) * inputDim), r * inputDim);
        y[r] = y32[s]![i]!;
      }
      trainer.step(x, y, it <= lastReg);
    }
    hooks.onProgress?.(iterations, iterations);
    const lastEval = Math.max(...evalAt);
    const results: RunResult[] = runs.map((run, r) => {
      const rec = history.find((h) => h.iteration === lastEval && h.rho === run.rho && h.seed === run.seed);
      const final =
        status[r] === 'ok' && rec
          ? {
              trainLoss: rec.trainLoss,
              testLoss: rec.testLoss,
              featureRank: rec.featureRank,
              activeUnits: rec.activeUnits,
              weightNorm: rec.weightNorm,
            }
          : null;
      return { rho: run.rho, seed: run.seed, status: status[r]!, divergedAt: divergedAt[r]!, final };
    });
    return { completed: true, runs: results, history };
  } finally {
    trainer.dispose();
    disposeStudent(student);
  }
}
