/**
 * The paper's two-layer network f(x) = Σ_j a_j·act(w_j·x + b_j) + c (paper-spec §4.4), with W stored as
 * [m, d] (row j = unit j, as in the reference code and the fixtures).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputShapeError, ModelConfigError, ParamsMismatchError } from './errors.js';
import { countParams, createParams } from './init.js';
import { activate } from './layers.js';
import type { ParamSpec, ParamValues, Params } from './types.js';

/** Hidden activation of the two-layer net. */
export type TwoLayerActivation = 'relu' | 'tanh' | 'abs';

/** Options of the two-layer net. */
export interface TwoLayerNetOptions {
  /** Input dimension d (3 in the paper). */
  inputDim: number;
  /** Hidden units m (100 in the paper). */
  hiddenUnits: number;
  activation?: TwoLayerActivation;
  /** Biases b (hidden) and c (output). The paper's figures use them (default true). */
  biases?: boolean;
  /** Std of the i.i.d. Gaussian init of every entry: default 0.3 for ReLU/abs, 1.0 for tanh (paper-spec §4.4). */
  initStd?: number;
}

/** The two-layer network. Parameters: `W` [m, d], `a` [m], and with biases `b` [m], `c` [1]. */
export class TwoLayerNet {
  readonly config: Readonly<Required<TwoLayerNetOptions>>;
  readonly paramSpecs: readonly ParamSpec[];
  readonly numParams: number;

  constructor(options: TwoLayerNetOptions) {
    const activation = options.activation ?? 'relu';
    const cfg = {
      inputDim: options.inputDim,
      hiddenUnits: options.hiddenUnits,
      activation,
      biases: options.biases ?? true,
      initStd: options.initStd ?? (activation === 'tanh' ? 1.0 : 0.3),
    };
    if (!Number.isInteger(cfg.inputDim) || cfg.inputDim < 1) throw new ModelConfigError(`inputDim must be a positive integer, got ${cfg.inputDim}`);
    if (!Number.isInteger(cfg.hiddenUnits) || cfg.hiddenUnits < 1) {
      throw new ModelConfigError(`hiddenUnits must be a positive integer, got ${cfg.hiddenUnits}`);
    }
    if (!['relu', 'tanh', 'abs'].includes(activation)) throw new ModelConfigError(`activation must be relu, tanh or abs, got ${activation}`);
    if (!(cfg.initStd > 0)) throw new ModelConfigError(`initStd must be positive, got ${cfg.initStd}`);
    this.config = Object.freeze(cfg);
    const init = { kind: 'normal', std: cfg.initStd } as const;
    const m = cfg.hiddenUnits;
    const specs: ParamSpec[] = [{ name: 'W', shape: [m, cfg.inputDim], init }];
    if (cfg.biases) specs.push({ name: 'b', shape: [m], init });
    specs.push({ name: 'a', shape: [m], init });
    if (cfg.biases) specs.push({ name: 'c', shape: [1], init });
    this.paramSpecs = Object.freeze(specs);
    this.numParams = countParams(specs);
  }

  /** Seeded Gaussian init of every parameter entry. */
  init(seed: number): Params {
    return createParams(this.paramSpecs, seed);
  }

  /** Hidden features Φ = act(X Wᵀ + b), [n, m] (what the paper's rank and active-unit counts use). */
  hidden(params: ParamValues, x: tf.Tensor2D): tf.Tensor2D {
    this.check(params, x);
    return tf.tidy(() => {
      let h: tf.Tensor2D = tf.matMul(x, params['W'] as tf.Tensor2D, false, true);
      if (this.config.biases) h = tf.add(h, params['b']!) as tf.Tensor2D;
      return activate(h, this.config.activation);
    });
  }

  /** Outputs f(x) for a batch X [n, d], as [n]. */
  apply(params: ParamValues, x: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => {
      const phi = this.hidden(params, x);
      let y = tf.reshape(tf.matMul(phi, tf.reshape(params['a']!, [-1, 1])), [-1]) as tf.Tensor1D;
      if (this.config.biases) y = tf.add(y, params['c']!);
      return y;
    });
  }

  private check(params: ParamValues, x: tf.Tensor2D): void {
    if (x.rank !== 2 || x.shape[1] !== this.config.inputDim) {
      throw new InputShapeError(`expected input [n, ${this.config.inputDim}], got [${x.shape}]`);
    }
    for (const s of this.paramSpecs) {
      const t = params[s.name];
      if (!t) throw new ParamsMismatchError(`parameter '${s.name}' is missing`);
      if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
        throw new ParamsMismatchError(`parameter '${s.name}' has shape [${t.shape}], expected [${s.shape}]`);
      }
    }
  }
}

/** Creates the paper's two-layer net (paper-spec §4.4). */
export function twoLayerNet(options: TwoLayerNetOptions): TwoLayerNet {
  return new TwoLayerNet(options);
}
