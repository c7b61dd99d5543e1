/** A fully connected network of any depth with TF-layout kernels [in, out]. */
import * as tf from '@tensorflow/tfjs-core';
import { InputShapeError, ModelConfigError, ParamsMismatchError } from './errors.js';
import { countParams, createParams } from './init.js';
import { ACTIVATION_NAMES, type Activation, activate, dense } from './layers.js';
import { type ApplyOptions, type Model, type ModelOutput, type ModelState, resolveTaps } from './model.js';
import type { BatchNormSpec, InitSpec, ParamSpec, ParamValues, Params } from './types.js';

/** Options of an MLP. */
export interface MlpOptions {
  inputDim: number;
  /** Widths of the hidden layers (any number, including none). */
  hiddenDims: readonly number[];
  outputDim: number;
  /** Hidden activation (the output layer is linear). Default relu. */
  activation?: Activation;
  /** Biases on every layer (default true). */
  bias?: boolean;
  /**
   * 'pytorch' (default): weights and biases U(−1/√fan_in, 1/√fan_in) as nn.Linear; or a Gaussian of the given
   * std for every entry.
   */
  init?: 'pytorch' | { std: number };
}

/** Fully resolved MLP configuration. */
export type MlpConfig = Required<MlpOptions>;

function resolveConfig(options: MlpOptions): MlpConfig {
  if (typeof options !== 'object' || options === null) {
    throw new ModelConfigError('an MLP needs options { inputDim, hiddenDims, outputDim, activation?, bias?, init? }');
  }
  const cfg = { activation: 'relu' as Activation, bias: true, init: 'pytorch' as const, ...options };
  if (!Array.isArray(cfg.hiddenDims))
    throw new ModelConfigError(`hiddenDims must be an array of layer widths, got ${String(cfg.hiddenDims)}`);
  const dims = [cfg.inputDim, ...cfg.hiddenDims, cfg.outputDim];
  for (const d of dims) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) {
      throw new ModelConfigError(`layer sizes (inputDim, hiddenDims, outputDim) must be positive integers, got [${dims.map(String)}]`);
    }
  }
  if (!ACTIVATION_NAMES.includes(cfg.activation)) {
    throw new ModelConfigError(`activation must be one of ${ACTIVATION_NAMES.join(', ')}, got ${String(cfg.activation)}`);
  }
  if (typeof cfg.bias !== 'boolean') throw new ModelConfigError(`bias must be true or false, got ${String(cfg.bias)}`);
  const init: unknown = cfg.init;
  const std = typeof init === 'object' && init !== null ? (init as { std?: unknown }).std : undefined;
  if (init !== 'pytorch' && !(typeof std === 'number' && std > 0 && Number.isFinite(std))) {
    throw new ModelConfigError(`init must be 'pytorch' or { std } with a positive std, got ${JSON.stringify(init)}`);
  }
  return { ...cfg, hiddenDims: Object.freeze([...cfg.hiddenDims]) };
}

/**
 * An MLP as a {@link Model}: layer i has `fc{i}.weight` [in, out] and (with bias) `fc{i}.bias` [out]; no state;
 * taps `hidden0`, `hidden1`, … are the post-activation outputs of the hidden layers. Create it with `mlp(options)`
 * or `createModel('mlp', options)`.
 */
export class Mlp implements Model {
  readonly name = 'mlp';
  readonly config: Readonly<MlpConfig>;
  readonly paramSpecs: readonly ParamSpec[];
  readonly stateSpecs: readonly BatchNormSpec[] = Object.freeze([]);
  readonly tapNames: readonly string[];
  readonly numParams: number;
  private readonly dims: number[];

  constructor(options: MlpOptions) {
    const cfg = resolveConfig(options);
    this.config = Object.freeze(cfg);
    this.dims = [cfg.inputDim, ...cfg.hiddenDims, cfg.outputDim];
    const specs: ParamSpec[] = [];
    for (let i = 0; i + 1 < this.dims.length; i++) {
      const fanIn = this.dims[i]!;
      const init: InitSpec =
        cfg.init === 'pytorch' ? { kind: 'uniform', bound: 1 / Math.sqrt(fanIn) } : { kind: 'normal', std: cfg.init.std };
      specs.push({ name: `fc${i}.weight`, shape: [fanIn, this.dims[i + 1]!], init });
      if (cfg.bias) specs.push({ name: `fc${i}.bias`, shape: [this.dims[i + 1]!], init });
    }
    this.paramSpecs = Object.freeze(specs);
    this.tapNames = Object.freeze(cfg.hiddenDims.map((_, i) => `hidden${i}`));
    this.numParams = countParams(specs);
  }

  /** Seeded initialisation; no state. */
  init(seed: number): { params: Params; state: ModelState } {
    return { params: createParams(this.paramSpecs, seed), state: {} };
  }

  /** Outputs [n, outputDim] and the requested hidden layers ([n, width] each) of a batch x [n, inputDim]. */
  apply(params: ParamValues, state: ModelState | null, x: tf.Tensor, options: ApplyOptions): ModelOutput<tf.Tensor2D> {
    const taps = resolveTaps(this, options);
    if (x.rank !== 2 || x.shape[1] !== this.config.inputDim) {
      throw new InputShapeError(`expected input [n, ${this.config.inputDim}], got [${x.shape}]`);
    }
    for (const s of this.paramSpecs) {
      const t = params[s.name];
      if (!t || t.shape.some((d, i) => d !== s.shape[i]) || t.rank !== s.shape.length) {
        throw new ParamsMismatchError(`parameter '${s.name}' is ${t ? `of shape [${t.shape}]` : 'missing'}, expected [${s.shape}]`);
      }
    }
    const layers = this.dims.length - 1;
    const last = options.output === false ? Math.max(...taps) : layers - 1;
    const out = tf.tidy(() => {
      const tapped: Record<string, tf.Tensor2D> = {};
      let h = x as tf.Tensor2D;
      for (let i = 0; i <= last; i++) {
        const b = this.config.bias ? (params[`fc${i}.bias`] as tf.Tensor1D) : undefined;
        h = dense(h, params[`fc${i}.weight`] as tf.Tensor2D, b);
        if (i + 1 < layers) {
          h = activate(h, this.config.activation);
          if (taps.has(i)) tapped[this.tapNames[i]!] = h;
        }
      }
      return options.output === false ? { taps: tapped } : { output: h, taps: tapped };
    });
    return { ...out, ...(options.training && state ? { state: {} } : {}) };
  }
}

/** Creates an MLP. */
export function mlp(options: MlpOptions): Mlp {
  return new Mlp(options);
}
