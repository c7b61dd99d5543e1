/** A fully connected network of any depth with TF-layout kernels [in, out]. */
import * as tf from '@tensorflow/tfjs-core';
import { InputShapeError, ModelConfigError, ParamsMismatchError } from './errors.js';
import { countParams, createParams } from './init.js';
import { type Activation, activate, dense } from './layers.js';
import type { InitSpec, ParamSpec, ParamValues, Params } from './types.js';

/** Options of an MLP. */
export interface MlpOptions {
  inputDim: number;
  /** Widths of the hidden layers (any number, including none). */
  hiddenDims: readonly number[];
  outputDim: number;
  /** Hidden activation (the output layer is linear). */
  activation?: Activation;
  bias?: boolean;
  /**
   * 'pytorch' (default): weights and biases U(−1/√fan_in, 1/√fan_in) as nn.Linear; or a Gaussian of the given
   * std for every entry.
   */
  init?: 'pytorch' | { std: number };
}

/** An MLP; layer i has `fc{i}.weight` [in, out] and (with bias) `fc{i}.bias` [out]. */
export class Mlp {
  readonly config: Readonly<Required<MlpOptions>>;
  readonly paramSpecs: readonly ParamSpec[];
  readonly numParams: number;
  private readonly dims: number[];

  constructor(options: MlpOptions) {
    const cfg = { activation: 'relu' as Activation, bias: true, init: 'pytorch' as const, ...options };
    this.dims = [cfg.inputDim, ...cfg.hiddenDims, cfg.outputDim];
    for (const d of this.dims) {
      if (!Number.isInteger(d) || d < 1) throw new ModelConfigError(`layer sizes must be positive integers, got [${this.dims}]`);
    }
    if (cfg.init !== 'pytorch' && !(cfg.init.std > 0)) throw new ModelConfigError(`init std must be positive, got ${cfg.init.std}`);
    this.config = Object.freeze(cfg);
    const specs: ParamSpec[] = [];
    for (let i = 0; i + 1 < this.dims.length; i++) {
      const fanIn = this.dims[i]!;
      const init: InitSpec = cfg.init === 'pytorch' ? { kind: 'uniform', bound: 1 / Math.sqrt(fanIn) } : { kind: 'normal', std: cfg.init.std };
      specs.push({ name: `fc${i}.weight`, shape: [fanIn, this.dims[i + 1]!], init });
      if (cfg.bias) specs.push({ name: `fc${i}.bias`, shape: [this.dims[i + 1]!], init });
    }
    this.paramSpecs = Object.freeze(specs);
    this.numParams = countParams(specs);
  }

  /** Seeded initialisation. */
  init(seed: number): Params {
    return createParams(this.paramSpecs, seed);
  }

  /** Outputs [n, outputDim] and the post-activation output of every hidden layer ([n, width] each). */
  forward(params: ParamValues, x: tf.Tensor2D): { output: tf.Tensor2D; hidden: tf.Tensor2D[] } {
    if (x.rank !== 2 || x.shape[1] !== this.config.inputDim) {
      throw new InputShapeError(`expected input [n, ${this.config.inputDim}], got [${x.shape}]`);
    }
    for (const s of this.paramSpecs) {
      const t = params[s.name];
      if (!t || t.shape.some((d, i) => d !== s.shape[i]) || t.rank !== s.shape.length) {
        throw new ParamsMismatchError(`parameter '${s.name}' is ${t ? `of shape [${t.shape}]` : 'missing'}, expected [${s.shape}]`);
      }
    }
    const hidden: tf.Tensor2D[] = [];
    let h = x;
    const layers = this.dims.length - 1;
    for (let i = 0; i < layers; i++) {
      const b = this.config.bias ? (params[`fc${i}.bias`] as tf.Tensor1D) : undefined;
      h = dense(h, params[`fc${i}.weight`] as tf.Tensor2D, b);
      if (i + 1 < layers) {
        h = activate(h, this.config.activation);
        hidden.push(h);
      }
    }
    return { output: h, hidden };
  }

  /** Outputs [n, outputDim]. */
  apply(params: ParamValues, x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.forward(params, x).output);
  }
}

/** Creates an MLP. */
export function mlp(options: MlpOptions): Mlp {
  return new Mlp(options);
}
