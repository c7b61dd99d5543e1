/**
 * Sharpness-aware minimization (Foret et al. 2021) as a TensorFlow.js optimizer wrapping any base
 * optimizer, with unnormalized SAM, ASAM, m-sharpness, micro-batching, coupled weight decay, schedules
 * and independent runs along axis 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from './errors.js';
import type { LossClosure, LossGradients } from './loss-gradients.js';
import { perturbedGradients } from './perturbed-gradients.js';
import { type PerturbationSpec, samPerturbation } from './perturbation.js';
import { evaluateSchedule, type Schedule } from './schedules.js';
import { PerRunTensorCache, perRunValues, WrappedOptimizer, type WrapperOptions } from './wrapped-optimizer.js';

/** Options of {@link SAM}. */
export interface SAMOptions extends WrapperOptions {
  /**
   * Neighbourhood radius ρ (default 0.05); with `runs`, a number for all runs or one per run.
   * ρ = 0 (for every run) makes the step exactly the base optimizer's step.
   */
  rho?: number | number[];
  /**
   * Stabilizer in ρ·g/(‖g‖ + epsilon) (default 1e-12 as davda54/sam; the paper's classification code
   * used 1e-7, its two-layer code 0). With 0, a zero gradient gives ε = 0, never NaN.
   */
  epsilon?: number;
  /** true (default): ε = ρ·g/‖g‖; false: unnormalized SAM, ε = ρ·g. */
  normalize?: boolean;
  /**
   * With `normalize: false`: project ε onto the ρ-ball, ε = min(ρ, ρ‖g‖)·g/‖g‖ — what the paper's classification
   * code does for its unnormalized variant (`--sam_no_grad_norm`: an ascent step of size ρ, then the projection),
   * which is clipped, not purely unnormalized. Default false. Ignored when ε is normalized (‖ε‖ ≤ ρ already).
   */
  clipToBall?: boolean;
  /** ASAM (Kwon et al. 2021): ε = ρ·T²g/‖T g‖ with T = |w| + eta, applied to every variable. */
  adaptive?: boolean;
  /** η of ASAM's T = |w| + η (default 0.01, the ASAM paper's; davda54/sam uses 0). */
  eta?: number;
  /** ρ schedule `(step, rho) => rho_t`, applied to each run's ρ (e.g. `windowSchedule` for SAM in the first half). */
  rhoSchedule?: Schedule;
}

/**
 * SAM around a base optimizer. `minimize(f)` performs the whole SAM step: g = ∇L(w); ε from g over all
 * variables jointly (per run); g' = ∇L(w + ε) on the same batch; w restored from a saved copy
 * (bit-identical); coupled weight decay; base optimizer step with g'. Returns the loss at w. With
 * `microBatches: k` both gradients are averaged over k closure calls (one ε from the accumulated
 * full-batch gradient); with `mSharpness: m` each of the m sub-batches gets its own ε.
 *
 * @example
 * const sam = new SAM(tf.train.momentum(0.1, 0.9), { rho: 0.05, weightDecay: 5e-4 });
 * sam.minimize(({ pass }) => loss(model(x, { training: pass === 'first' }), y));
 */
export class SAM extends WrappedOptimizer {
  /** Serialization name (registered with `tf.serialization.registerClass`). */
  static get className(): string {
    return 'SAM';
  }

  /** Whether ε is normalized by the gradient norm. */
  readonly normalize: boolean;
  /** Whether an unnormalized ε is projected onto the ρ-ball. */
  readonly clipToBall: boolean;
  /** Stabilizer added to the gradient norm. */
  readonly epsilon: number;
  /** Whether ASAM scaling is on. */
  readonly adaptive: boolean;
  /** ASAM η. */
  readonly eta: number;
  /** ρ schedule (may be replaced between steps). */
  rhoSchedule: Schedule | undefined;

  private rhoValues: number[];
  private readonly rhoTensors: PerRunTensorCache;
  private readonly epsilonTensor: tf.Scalar;
  private readonly etaTensor: tf.Scalar | null;

  constructor(base: tf.Optimizer, options: SAMOptions = {}) {
    super(base, options);
    const epsilon = options.epsilon ?? 1e-12;
    if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon < 0) {
      throw new InvalidOptionError('epsilon', `must be a finite number >= 0, got ${epsilon}`);
    }
    const eta = options.eta ?? 0.01;
    if (typeof eta !== 'number' || !Number.isFinite(eta) || eta < 0) {
      throw new InvalidOptionError('eta', `must be a finite number >= 0, got ${eta}`);
    }
    if (options.rhoSchedule !== undefined && typeof options.rhoSchedule !== 'function') {
      throw new InvalidOptionError('rhoSchedule', 'must be a function (step, rho) => rho');
    }
    this.rhoValues = perRunValues(options.rho ?? 0.05, this.runs, 'rho');
    this.normalize = options.normalize ?? true;
    if (options.clipToBall !== undefined && typeof options.clipToBall !== 'boolean') {
      throw new InvalidOptionError('clipToBall', `must be a boolean, got ${String(options.clipToBall)}`);
    }
    this.clipToBall = options.clipToBall ?? false;
    this.epsilon = epsilon;
    this.adaptive = options.adaptive ?? false;
    this.eta = eta;
    this.rhoSchedule = options.rhoSchedule;
    this.rhoTensors = new PerRunTensorCache(this.runs);
    this.epsilonTensor = tf.keep(tf.scalar(epsilon));
    this.etaTensor = this.adaptive ? tf.keep(tf.scalar(eta)) : null;
    // Built now so the tensor count stays constant from construction on (rebuilt only when ρ changes).
    this.rhoTensors.get(this.rhoValues);
  }

  /** ρ as configured (a number, or one per run with `runs`), before any schedule. */
  get rho(): number | number[] {
    return this.perRunPublic(this.rhoValues);
  }

  /** Sets ρ: a number (all runs) or, with `runs`, one value per run. Throws on negative/NaN values. */
  setRho(rho: number | number[]): void {
    this.rhoValues = perRunValues(rho, this.runs, 'rho');
  }

  /** The ρ of each run (length 1 without runs) that the step at `step` uses, schedule applied. */
  rhoAt(step: number = this.iterations): number[] {
    const schedule = this.rhoSchedule;
    if (schedule === undefined) return this.rhoValues.slice();
    return this.rhoValues.map((r) => evaluateSchedule(schedule, step, r, 'rho'));
  }

  protected override stepGradients(f: LossClosure, vars: tf.Variable[]): LossGradients {
    const rhoNow = this.rhoAt(this.iterations);
    if (rhoNow.every((r) => r === 0)) {
      // Inactive SAM is the base optimizer's step: one pass over the whole batch (BatchNorm updated once).
      return this.plainGradients(f, vars);
    }
    const spec: PerturbationSpec = {
      rho: this.rhoTensors.get(rhoNow),
      normalize: this.normalize,
      clipToBall: this.clipToBall,
      epsilon: this.epsilonTensor,
      epsilonIsZero: this.epsilon === 0,
      adaptiveEta: this.etaTensor,
      runs: this.runs,
    };
    return perturbedGradients(f, vars, this.chunkLayout, this.checkFinite, (first, saved) => samPerturbation(first, saved, spec));
  }

  protected override ownState(): Array<{ name: string; values: number[] }> {
    return [{ name: 'sam/rho', values: this.rhoValues.slice() }];
  }

  protected override setOwnState(name: string, values: number[]): boolean {
    if (name !== 'sam/rho') return false;
    this.setRho(this.perRunPublic(values));
    return true;
  }

  /** Serializable config: base optimizer (class + config) and every option except the schedules. */
  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...this.wrapperConfig(),
      rho: this.perRunPublic(this.rhoValues),
      epsilon: this.epsilon,
      normalize: this.normalize,
      clipToBall: this.clipToBall,
      adaptive: this.adaptive,
      eta: this.eta,
    };
  }

  /** Rebuilds a SAM from `getConfig()` (schedules are functions: set them again afterwards). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const { base, options } = WrappedOptimizer.wrapperFromConfig(config);
    const samOptions: SAMOptions = {
      ...options,
      rho: config['rho'] as number | number[],
      epsilon: config['epsilon'] as number,
      normalize: config['normalize'] as boolean,
      clipToBall: (config['clipToBall'] as boolean | undefined) ?? false,
      adaptive: config['adaptive'] as boolean,
      eta: config['eta'] as number,
    };
    return new (cls as unknown as new (b: tf.Optimizer, o: SAMOptions) => T)(base, samOptions);
  }

  /** Frees the base optimizer and SAM's own tensors. */
  override dispose(): void {
    this.rhoTensors.dispose();
    this.epsilonTensor.dispose();
    this.etaTensor?.dispose();
    super.dispose();
  }
}

tf.serialization.registerClass(SAM);
