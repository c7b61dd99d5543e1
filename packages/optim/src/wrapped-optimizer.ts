/**
 * The part SAM and the gradient-norm regularizer share: a `tf.train.Optimizer` that wraps a base
 * optimizer, forms its own gradient from a loss closure (`stepGradients`), adds coupled weight decay,
 * checks the result is finite, drives the base optimizer's learning rate from a schedule and then lets
 * the base optimizer take the step. It also owns state (de)serialization.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidLambdaError, InvalidOptionError, InvalidRhoError, InvalidStateError, RunsMismatchError } from './errors.js';
import { assertFinite, type LossClosure, type LossGradients, resolveVariables } from './loss-gradients.js';
import { addWeightDecay } from './perturbation.js';
import { accumulatedGradients, type ChunkLayout } from './perturbed-gradients.js';
import { evaluateSchedule, type Schedule } from './schedules.js';

/** A named tensor, as `tf.Optimizer.getWeights` returns them (tfjs-core does not export the type). */
export interface NamedTensor {
  /** The variable's or the slot's name. */
  name: string;
  /** Its value. */
  tensor: tf.Tensor;
}

/** Options every wrapper accepts. */
export interface WrapperOptions {
  /**
   * Coupled (PyTorch `SGD(weight_decay=…)`-style) L2: `wd·w` is added to the final gradient at the
   * restored, unperturbed weights, before the base optimizer (so momentum sees it). Never part of ε.
   * Default 0.
   */
  weightDecay?: number;
  /**
   * Independent runs: axis 0 of every variable indexes `runs` models trained side by side; the loss
   * closure returns the SUM of their losses, and norms (SAM, ASAM, m-sharpness, the penalty) are per run.
   */
  runs?: number;
  /**
   * m-sharpness: number of sub-batches the closure splits the batch into (m = batch size / mSharpness);
   * the perturbation is computed per sub-batch and the resulting gradients averaged. Default 1.
   */
  mSharpness?: number;
  /**
   * Gradient accumulation: each pass of a step (the pass at w, and the pass at the perturbed weights)
   * calls the closure once per micro-batch (`ctx.chunk` of `ctx.chunks`, see `sliceChunk`) and averages
   * the micro-batch gradients, so ONE perturbation is formed from the whole batch's gradient while only
   * one micro-batch is differentiated at a time (memory). The closure returns each micro-batch's MEAN
   * loss, so micro-batches must be equal-sized (batch divisible by `chunks`) for the average to equal the
   * full-batch mean. With `mSharpness: m` each of the m sub-batches is accumulated over `microBatches`
   * micro-batches (`chunks = m · microBatches`). Default 1.
   */
  microBatches?: number;
  /**
   * Learning-rate schedule `(step, baseLr) => lr`, applied to the BASE optimizer before each step
   * (step = `iterations`). `baseLr` is `learningRate` below.
   */
  lrSchedule?: Schedule;
  /** Initial learning rate the lrSchedule modulates (default: the base optimizer's `learningRate`). */
  learningRate?: number;
  /**
   * Read back one scalar per step to reject NaN/Inf gradients before the weights change (default true).
   * Turn off only for speed in a loop that checks its losses itself.
   */
  checkFinite?: boolean;
  /**
   * What happens to tensors the loss closure passes to `tf.keep` on the calls after the first of a step (SAM's
   * second pass, further micro-batches or m-sharpness sub-batches):
   * - `'keep'`: nothing; they belong to the closure (e.g. BatchNorm statistics it stores and replaces itself).
   * - `'dispose'`: disposed when the next step starts, or by `dispose()`. For closures that keep one set of
   *   outputs per call for a caller that reads only the first set: tfjs-layers' `model.fit` keeps every metric
   *   of every call and frees those of the first call only, so without this SAM leaks one tensor per metric per
   *   step. (They stay alive until the next step because `model.trainOnBatch` reads them after the step.)
   * - `'auto'` (default): `'dispose'` for tfjs-layers' training closure (`fit`, `fitDataset`, `trainOnBatch`),
   *   recognized by its function name `totalLossFunction`, `'keep'` for every other closure. A minifier renames
   *   that function: in a minified bundle that trains with `model.fit`, pass `'dispose'`.
   */
  keptOnRepeat?: 'auto' | 'keep' | 'dispose';
}

/** The name of tfjs-layers' loss closure in `LayersModel.makeTrainFunction` (tfjs-layers 1.x to 4.x). */
const LAYERS_TRAINING_CLOSURE = 'totalLossFunction';

/** Validates a ρ / λ value (number, or per-run array) and returns it as an array (length runs or 1). */
export function perRunValues(value: number | readonly number[], runs: number | undefined, name: 'rho' | 'lambda'): number[] {
  const bad = (v: number, where: string) => (name === 'rho' ? new InvalidRhoError(v, where) : new InvalidLambdaError(v, where));
  if (Array.isArray(value)) {
    if (runs === undefined) {
      throw new RunsMismatchError(`${name} is an array of length ${value.length} but the 'runs' option is not set`);
    }
    if (value.length !== runs) {
      throw new RunsMismatchError(`${name} has ${value.length} entries but runs is ${runs}; give one per run`);
    }
    value.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(v, `${name}[${i}]`);
    });
    return value.slice();
  }
  const v = value as number;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(v, name);
  return runs === undefined ? [v] : new Array<number>(runs).fill(v);
}

/**
 * Own state is float64 (ρ, λ); tfjs has no float64 tensors, so each value travels as the two int32 words
 * of its IEEE-754 bit pattern, which makes the getWeights → setWeights round trip exact.
 */
function encodeFloat64(values: readonly number[]): tf.Tensor {
  const words = new Int32Array(new Float64Array(values).buffer);
  return tf.tensor1d(words, 'int32');
}

function decodeFloat64(data: ArrayLike<number>, name: string): number[] {
  if (data.length % 2 !== 0) {
    throw new InvalidStateError(`setWeights: '${name}' must hold float64 bit patterns as int32 pairs`);
  }
  return Array.from(new Float64Array(Int32Array.from(data).buffer));
}

/** Keeps one tensor for the last per-run values and rebuilds it only when they change. */
export class PerRunTensorCache {
  private values: number[] | null = null;
  private tensor: tf.Tensor | null = null;
  constructor(private readonly runs: number | undefined) {}

  /** Scalar (no runs) or [runs] tensor holding `values`; owned by the cache. */
  get(values: readonly number[]): tf.Tensor {
    if (this.tensor != null && this.values != null && sameValues(this.values, values)) return this.tensor;
    this.tensor?.dispose();
    this.tensor = tf.keep(this.runs === undefined ? tf.scalar(values[0]!) : tf.tensor1d(values.slice()));
    this.values = values.slice();
    return this.tensor;
  }

  dispose(): void {
    this.tensor?.dispose();
    this.tensor = null;
    this.values = null;
  }
}

function sameValues(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function checkNonNegative(name: string, v: number | undefined): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
    throw new InvalidOptionError(name, `must be a finite number >= 0, got ${v}`);
  }
}

function checkPositiveInt(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
    throw new InvalidOptionError(name, `must be an integer >= 1, got ${v}`);
  }
}

/**
 * A `tf.train.Optimizer` that wraps a base optimizer. Subclasses supply `stepGradients` (the gradient
 * their rule wants the base optimizer to apply, before weight decay).
 */
export abstract class WrappedOptimizer extends tf.Optimizer {
  /** The wrapped optimizer that applies the final gradient (owned: disposed with this one). */
  readonly base: tf.Optimizer;
  /** Coupled weight decay added at the unperturbed weights. */
  readonly weightDecay: number;
  /** Number of independent runs along axis 0, or undefined. */
  readonly runs: number | undefined;
  /** Number of m-sharpness sub-batches (1 = off). */
  readonly mSharpness: number;
  /** Number of micro-batches each pass accumulates over (1 = off). */
  readonly microBatches: number;
  /** Whether each step rejects NaN/Inf gradients before touching the weights. */
  readonly checkFinite: boolean;
  /** The learning rate `lrSchedule` modulates (undefined when the base optimizer has none). */
  readonly learningRate: number | undefined;
  /** Learning-rate schedule driving the base optimizer (may be replaced between steps). */
  lrSchedule: Schedule | undefined;
  /** What happens to tensors the closure keeps on its repeated calls within a step (see {@link WrapperOptions.keptOnRepeat}). */
  readonly keptOnRepeat: 'auto' | 'keep' | 'dispose';

  private readonly weightDecayTensor: tf.Scalar | null;
  private appliedLearningRate: number | undefined;
  /** Tensors kept by repeated closure calls of the last step, disposed when the next step starts. */
  private repeatKeeps: tf.Tensor[] = [];

  protected constructor(base: tf.Optimizer, options: WrapperOptions) {
    super();
    if (base == null || typeof (base as tf.Optimizer).applyGradients !== 'function') {
      throw new InvalidOptionError('base', 'expected a tf.train optimizer (e.g. tf.train.sgd(0.1))');
    }
    // tf.Optimizer overrides Symbol.hasInstance (duck typing), so `instanceof` cannot tell wrappers apart.
    if (Object.prototype.isPrototypeOf.call(WrappedOptimizer.prototype, base)) {
      throw new InvalidOptionError('base', 'wrapping a SAM/regularizer inside another one is not supported');
    }
    checkNonNegative('weightDecay', options.weightDecay);
    checkPositiveInt('runs', options.runs);
    checkPositiveInt('mSharpness', options.mSharpness);
    checkPositiveInt('microBatches', options.microBatches);
    checkNonNegative('learningRate', options.learningRate);
    if (options.lrSchedule !== undefined && typeof options.lrSchedule !== 'function') {
      throw new InvalidOptionError('lrSchedule', 'must be a function (step, baseLr) => lr');
    }
    const keptOnRepeat = options.keptOnRepeat ?? 'auto';
    if (keptOnRepeat !== 'auto' && keptOnRepeat !== 'keep' && keptOnRepeat !== 'dispose') {
      throw new InvalidOptionError('keptOnRepeat', `must be 'auto', 'keep' or 'dispose', got ${String(keptOnRepeat)}`);
    }
    this.keptOnRepeat = keptOnRepeat;
    this.base = base;
    this.weightDecay = options.weightDecay ?? 0;
    this.runs = options.runs;
    this.mSharpness = options.mSharpness ?? 1;
    this.microBatches = options.microBatches ?? 1;
    this.checkFinite = options.checkFinite ?? true;
    const baseLr = (base as unknown as { learningRate?: unknown }).learningRate;
    this.learningRate = options.learningRate ?? (typeof baseLr === 'number' ? baseLr : undefined);
    this.lrSchedule = options.lrSchedule;
    if (this.lrSchedule !== undefined && this.learningRate === undefined) {
      throw new InvalidOptionError('learningRate', 'lrSchedule needs a learning rate: the base optimizer has none');
    }
    this.weightDecayTensor = this.weightDecay > 0 ? tf.keep(tf.scalar(this.weightDecay)) : null;
  }

  /**
   * The wrapped rule's gradient for variables `vars` (in that order), before weight decay. Must leave
   * every variable exactly as it found it, also when it throws.
   */
  protected abstract stepGradients(f: LossClosure, vars: tf.Variable[]): LossGradients;

  /** The chunk layout of a two-pass step: m-sharpness groups, each over `microBatches` micro-batches. */
  protected get chunkLayout(): ChunkLayout {
    return { groups: this.mSharpness, microBatches: this.microBatches };
  }

  /**
   * The plain gradient (no perturbation) of the whole batch, accumulated over `microBatches`; used when
   * the rule is inactive (ρ = 0, λ = 0), where m-sharpness does not matter and BatchNorm sees one pass.
   */
  protected plainGradients(f: LossClosure, vars: tf.Variable[]): LossGradients {
    return accumulatedGradients(f, vars, 'first', 0, { groups: 1, microBatches: this.microBatches });
  }

  /**
   * One full step: the rule's gradient (`computeGradients`), then the base optimizer's update.
   * Returns the loss at the current weights (before the step) when `returnCost` is true.
   */
  override minimize(f: LossClosure, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    const vars = resolveVariables(varList, this.runs);
    const { value, grads } = this.gradientsFor(f, vars);
    try {
      this.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i] as tf.Tensor })));
    } finally {
      tf.dispose(grads.filter((g): g is tf.Tensor => g != null));
    }
    if (returnCost) return value;
    value.dispose();
    return null;
  }

  /**
   * The loss at the current weights and the gradient this optimizer would apply (the rule's gradient
   * plus weight decay), without changing any weight. The caller disposes both.
   */
  override computeGradients(f: LossClosure, varList?: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
    const vars = resolveVariables(varList, this.runs);
    const { value, grads } = this.gradientsFor(f, vars);
    const named: tf.NamedTensorMap = {};
    vars.forEach((v, i) => {
      const g = grads[i];
      if (g != null) named[v.name] = g;
    });
    return { value, grads: named };
  }

  /**
   * Applies already-formed gradients with the base optimizer (after setting its learning rate from
   * `lrSchedule`) and advances `iterations`. It does not perturb anything: use `minimize` for a step.
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    this.driveLearningRate();
    this.base.applyGradients(variableGradients);
    this.incrementIterations();
  }

  private gradientsFor(f: LossClosure, vars: tf.Variable[]): LossGradients {
    this.releaseRepeatKeeps();
    const { value, grads } = this.stepGradients(this.withRepeatKeeps(f), vars);
    let out = grads;
    if (this.weightDecayTensor != null) {
      const wd = this.weightDecayTensor;
      out = tf.tidy(() => addWeightDecay(grads, vars, wd) as tf.Tensor[]);
      tf.dispose(grads.filter((g): g is tf.Tensor => g != null));
    }
    if (this.checkFinite) {
      try {
        assertFinite(out, vars, value, 'the gradient');
      } catch (err) {
        tf.dispose([value, ...out.filter((g): g is tf.Tensor => g != null)]);
        throw err;
      }
    }
    return { value, grads: out };
  }

  /**
   * `f`, or with `keptOnRepeat` resolving to 'dispose' a closure that records what `f` keeps on its calls after
   * the first. tfjs-layers calls `tf.keep` through the engine, so the engine's `keep` is wrapped for the length of
   * such a call. Tensors the engine itself keeps meanwhile (saved for backprop) are disposed by the tape after the
   * pass; disposing them again later is a no-op.
   */
  private withRepeatKeeps(f: LossClosure): LossClosure {
    const mode = this.keptOnRepeat === 'auto' ? (f.name === LAYERS_TRAINING_CLOSURE ? 'dispose' : 'keep') : this.keptOnRepeat;
    if (mode === 'keep') return f;
    const kept = this.repeatKeeps;
    let calls = 0;
    return (ctx) => {
      if (calls++ === 0) return f(ctx);
      const engine = tf.engine() as unknown as { keep: <T extends tf.Tensor>(t: T) => T };
      const own = Object.hasOwn(engine, 'keep');
      const keep = engine.keep;
      engine.keep = function <T extends tf.Tensor>(this: unknown, t: T): T {
        kept.push(t);
        return keep.call(this, t) as T;
      };
      try {
        return f(ctx);
      } finally {
        if (own) engine.keep = keep;
        else delete (engine as { keep?: unknown }).keep;
      }
    };
  }

  private releaseRepeatKeeps(): void {
    if (this.repeatKeeps.length === 0) return;
    tf.dispose(this.repeatKeeps);
    this.repeatKeeps = [];
  }

  private driveLearningRate(): void {
    if (this.lrSchedule === undefined || this.learningRate === undefined) return;
    const lr = evaluateSchedule(this.lrSchedule, this.iterations, this.learningRate, 'learning-rate');
    if (lr === this.appliedLearningRate) return;
    const b = this.base as unknown as { setLearningRate?: (lr: number) => void; learningRate?: number };
    // SGD/Momentum cache -lr in a tensor that only setLearningRate refreshes; the others read the field.
    if (typeof b.setLearningRate === 'function') b.setLearningRate(lr);
    else b.learningRate = lr;
    this.appliedLearningRate = lr;
  }

  /** The base optimizer's learning rate now (as last set by the schedule, or its own). */
  get currentLearningRate(): number | undefined {
    const lr = (this.base as unknown as { learningRate?: unknown }).learningRate;
    return typeof lr === 'number' ? lr : undefined;
  }

  /**
   * The public form of a per-run coefficient (ρ, λ): the number itself without `runs`, a copy of the
   * per-run list with it — what getters, configs and setters exchange.
   */
  protected perRunPublic(values: number[]): number | number[] {
    return this.runs === undefined ? values[0]! : values.slice();
  }

  /** Own state saved by getWeights (name → values); subclasses list theirs. */
  protected abstract ownState(): Array<{ name: string; values: number[] }>;
  /** Restores one entry of `ownState`. Returns false for an unknown name. */
  protected abstract setOwnState(name: string, values: number[]): boolean;

  /**
   * `[iter, own state…, base/<slot>…]`: this optimizer's iteration count, its own state (e.g. the
   * current ρ), then every weight of the base optimizer under a `base/` prefix (its own `iter` and
   * slots such as momentum). The base slots are the live variables: do not dispose them.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const own = this.ownState().map(({ name, values }) => ({ name, tensor: encodeFloat64(values) }));
    const base = await this.base.getWeights();
    return [await this.saveIterations(), ...own, ...base.map((w) => ({ name: `base/${w.name}`, tensor: w.tensor }))];
  }

  /** Restores what `getWeights` returned (iteration count, own state, base optimizer slots). */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    if (weightValues.length === 0 || weightValues[0]!.name !== 'iter') {
      throw new InvalidStateError("setWeights expects the list from getWeights(), starting with 'iter'");
    }
    const rest = await this.extractIterations(weightValues);
    const baseWeights: NamedTensor[] = [];
    for (const w of rest) {
      if (w.name.startsWith('base/')) {
        baseWeights.push({ name: w.name.slice('base/'.length), tensor: w.tensor });
      } else if (!this.setOwnState(w.name, decodeFloat64(await w.tensor.data(), w.name))) {
        throw new InvalidStateError(`setWeights: unknown weight '${w.name}' for ${this.getClassName()}`);
      }
    }
    if (baseWeights.length > 0) await this.base.setWeights(baseWeights);
    this.appliedLearningRate = undefined;
  }

  /** Config entries every wrapper shares. */
  protected wrapperConfig(): tf.serialization.ConfigDict {
    return {
      base: { className: this.base.getClassName(), config: this.base.getConfig() },
      weightDecay: this.weightDecay,
      runs: this.runs ?? null,
      mSharpness: this.mSharpness,
      microBatches: this.microBatches,
      learningRate: this.learningRate ?? null,
      checkFinite: this.checkFinite,
      keptOnRepeat: this.keptOnRepeat,
    };
  }

  /** Rebuilds the base optimizer and the shared options from a config made by `wrapperConfig`. */
  protected static wrapperFromConfig(config: tf.serialization.ConfigDict): {
    base: tf.Optimizer;
    options: WrapperOptions;
  } {
    const baseEntry = config['base'] as tf.serialization.ConfigDict | undefined;
    const className = baseEntry?.['className'];
    if (typeof className !== 'string') {
      throw new InvalidStateError('fromConfig: config.base.className is missing');
    }
    const registered = tf.serialization.SerializationMap.getMap().classNameMap[className];
    if (registered == null) {
      throw new InvalidStateError(`fromConfig: base optimizer class '${className}' is not registered with tf.serialization.registerClass`);
    }
    const [cls, fromConfig] = registered;
    const base = fromConfig(cls, (baseEntry!['config'] ?? {}) as tf.serialization.ConfigDict) as tf.Optimizer;
    const num = (k: string) => (typeof config[k] === 'number' ? (config[k] as number) : undefined);
    return {
      base,
      options: {
        weightDecay: num('weightDecay'),
        runs: num('runs'),
        mSharpness: num('mSharpness'),
        microBatches: num('microBatches'),
        learningRate: num('learningRate'),
        checkFinite: typeof config['checkFinite'] === 'boolean' ? (config['checkFinite'] as boolean) : undefined,
        keptOnRepeat: typeof config['keptOnRepeat'] === 'string' ? (config['keptOnRepeat'] as WrapperOptions['keptOnRepeat']) : undefined,
      },
    };
  }

  /** Frees the base optimizer and every tensor this optimizer keeps. */
  override dispose(): void {
    this.releaseRepeatKeeps();
    this.base.dispose();
    this.weightDecayTensor?.dispose();
    super.dispose();
  }
}
