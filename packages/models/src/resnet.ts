/**
 * PreAct ResNet-18 (the paper's main model) and post-activation ResNet-18 (its Section 5), as pure functions of
 * an explicit parameter record and explicit BatchNorm running statistics (docs/paper-notes.md §6.1–6.2). NHWC inputs,
 * HWIO conv kernels, TF-layout linear kernel [in, out]; names follow the PyTorch modules.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputShapeError, ModelConfigError, ParamsMismatchError } from './errors.js';
import { countParams, createBnState, createParams } from './init.js';
import { type BatchNormOptions, PYTORCH_BN, avgPool, batchNormEval, batchNormTrain, conv2d, dense, flatten } from './layers.js';
import { type ApplyOptions, type Model, type ModelOutput, type ModelState, resolveTaps } from './model.js';
import type { BatchNormSpec, BatchStatistics, BnState, ParamSpec, ParamValues, Params } from './types.js';

/** Which residual block: pre-activation (BN-ReLU before each conv) or post-activation (conv-BN-ReLU). */
export type ResNetVariant = 'preact' | 'postact';

/** Options of a ResNet-18. */
export interface ResNet18Options {
  /** Base width w (channels of the first stage; stages have w, 2w, 4w, 8w). Paper: 64. */
  width?: number;
  /** Number of classes. 2 classes use one output unit with a zero logit prepended, as the paper's code does. */
  numClasses?: number;
  /** Training image size (a multiple of 32): 32 for CIFAR, 64 for Tiny ImageNet. Sets the linear layer's inputs. */
  imageSize?: number;
  /** Input channels (3 for RGB). */
  inChannels?: number;
  /** BatchNorm momentum and epsilon (PyTorch defaults 0.1 and 1e-5). */
  batchNorm?: Partial<BatchNormOptions>;
  /**
   * Build training-mode BatchNorm from differentiable ops so gradients of gradients work (e.g. a gradient-norm
   * penalty). Default false: a custom-gradient BatchNorm that is faster but first-order only (SAM needs only
   * first-order gradients).
   */
  doubleBackprop?: boolean;
}

/** Fully resolved ResNet-18 configuration. */
export interface ResNet18Config {
  variant: ResNetVariant;
  width: number;
  numClasses: number;
  imageSize: number;
  inChannels: number;
  batchNorm: BatchNormOptions;
  doubleBackprop: boolean;
}

/**
 * Feature taps of docs/paper-notes.md §3.1: `block1`–`block4` = stage outputs (block 4 of PreAct after the final
 * BN-ReLU), `block5` = the pooled classifier input.
 */
export type ResNetTap = 'block1' | 'block2' | 'block3' | 'block4' | 'block5';

/** The taps in depth order; tap i is block i + 1. */
const RESNET_TAPS: readonly ResNetTap[] = Object.freeze(['block1', 'block2', 'block3', 'block4', 'block5']);

interface RunOutput {
  logits?: tf.Tensor2D;
  taps: Record<string, tf.Tensor2D>;
  state?: BnState;
  batchStatistics?: Record<string, BatchStatistics>;
}

/** tf.tidy for the forward pass: keeps what it returns, frees every intermediate. */
function tidyRun(f: () => RunOutput): RunOutput {
  return tf.tidy(() => f() as unknown as tf.TensorContainer) as unknown as RunOutput;
}

interface Stage {
  planes: number;
  stride: number;
}

const BLOCKS_PER_STAGE = 2;

function resolveConfig(variant: ResNetVariant, options: ResNet18Options): ResNet18Config {
  const width = options.width ?? 64;
  const numClasses = options.numClasses ?? 10;
  const imageSize = options.imageSize ?? 32;
  const inChannels = options.inChannels ?? 3;
  const batchNorm = { ...PYTORCH_BN, ...options.batchNorm };
  if (!Number.isInteger(width) || width < 1) throw new ModelConfigError(`width must be a positive integer, got ${width}`);
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new ModelConfigError(`numClasses must be an integer ≥ 2, got ${numClasses}`);
  }
  if (!Number.isInteger(imageSize) || imageSize < 32 || imageSize % 32 !== 0) {
    throw new ModelConfigError(`imageSize must be a positive multiple of 32 (32 for CIFAR, 64 for Tiny ImageNet), got ${imageSize}`);
  }
  if (!Number.isInteger(inChannels) || inChannels < 1) {
    throw new ModelConfigError(`inChannels must be a positive integer, got ${inChannels}`);
  }
  if (!(batchNorm.momentum >= 0 && batchNorm.momentum <= 1) || !(batchNorm.eps > 0)) {
    throw new ModelConfigError(`BatchNorm needs momentum in [0, 1] and eps > 0, got ${batchNorm.momentum} and ${batchNorm.eps}`);
  }
  return { variant, width, numClasses, imageSize, inChannels, batchNorm, doubleBackprop: options.doubleBackprop ?? false };
}

function stagesOf(width: number): Stage[] {
  return [
    { planes: width, stride: 1 },
    { planes: 2 * width, stride: 2 },
    { planes: 4 * width, stride: 2 },
    { planes: 8 * width, stride: 2 },
  ];
}

const conv = (name: string, k: number, cin: number, cout: number): ParamSpec => ({
  name: `${name}.weight`,
  shape: [k, k, cin, cout],
  init: { kind: 'kaimingNormalFanOut' },
});

function bnParams(name: string, channels: number): ParamSpec[] {
  return [
    { name: `${name}.weight`, shape: [channels], init: { kind: 'ones' } },
    { name: `${name}.bias`, shape: [channels], init: { kind: 'zeros' } },
  ];
}

/** Spatial size after a 3×3 pad-1 (or 1×1 pad-0) conv with this stride, as PyTorch computes it. */
const down = (size: number, stride: number) => Math.floor((size - 1) / stride) + 1;

/**
 * A ResNet-18 with explicit parameters and BatchNorm state. Create it with `preActResNet18` / `resNet18` or
 * `createModel('preact-resnet18' | 'resnet18', options)`. The object holds only the configuration; parameters
 * and statistics live in the records you pass around.
 */
export class ResNet18 implements Model {
  /** `'preact-resnet18'` or `'resnet18'` (the registry names). */
  readonly name: string;
  readonly config: Readonly<ResNet18Config>;
  /** Every parameter in PyTorch registration order (what `params` holds, by name). */
  readonly paramSpecs: readonly ParamSpec[];
  /** Every BatchNorm layer (what the state holds, by name). */
  readonly stateSpecs: readonly BatchNormSpec[];
  readonly tapNames: readonly ResNetTap[] = RESNET_TAPS;
  /** Number of trainable scalars (equal to PyTorch's `sum(p.numel() for p in model.parameters())`). */
  readonly numParams: number;
  private readonly stages: Stage[];
  private readonly linearIn: number;
  private readonly linearOut: number;

  constructor(variant: ResNetVariant, options: ResNet18Options = {}) {
    this.config = Object.freeze(resolveConfig(variant, options));
    this.name = variant === 'preact' ? 'preact-resnet18' : 'resnet18';
    const { width, numClasses, imageSize, inChannels } = this.config;
    this.stages = stagesOf(width);
    const pooled = imageSize / 32;
    this.linearIn = 8 * width * pooled * pooled;
    this.linearOut = numClasses === 2 ? 1 : numClasses;
    const specs: ParamSpec[] = [];
    const bns: BatchNormSpec[] = [];
    const addBn = (name: string, c: number) => {
      specs.push(...bnParams(name, c));
      bns.push({ name, channels: c });
    };
    specs.push(conv('conv1', 3, inChannels, width));
    if (variant === 'postact') addBn('bn1', width);
    let cin = width;
    this.stages.forEach((stage, s) => {
      for (let b = 0; b < BLOCKS_PER_STAGE; b++) {
        const p = `layer${s + 1}.${b}`;
        const stride = b === 0 ? stage.stride : 1;
        const projection = stride !== 1 || cin !== stage.planes;
        if (variant === 'preact') {
          addBn(`${p}.bn1`, cin);
          specs.push(conv(`${p}.conv1`, 3, cin, stage.planes));
          addBn(`${p}.bn2`, stage.planes);
          specs.push(conv(`${p}.conv2`, 3, stage.planes, stage.planes));
          if (projection) specs.push(conv(`${p}.shortcut`, 1, cin, stage.planes));
        } else {
          specs.push(conv(`${p}.conv1`, 3, cin, stage.planes));
          addBn(`${p}.bn1`, stage.planes);
          specs.push(conv(`${p}.conv2`, 3, stage.planes, stage.planes));
          addBn(`${p}.bn2`, stage.planes);
          if (projection) {
            specs.push(conv(`${p}.shortcut.conv`, 1, cin, stage.planes));
            addBn(`${p}.shortcut.bn`, stage.planes);
          }
        }
        cin = stage.planes;
      }
    });
    if (variant === 'preact') addBn('bn', cin);
    const bound = 1 / Math.sqrt(this.linearIn);
    specs.push({ name: 'linear.weight', shape: [this.linearIn, this.linearOut], init: { kind: 'uniform', bound } });
    specs.push({ name: 'linear.bias', shape: [this.linearOut], init: { kind: 'zeros' } });
    this.paramSpecs = Object.freeze(specs);
    this.stateSpecs = Object.freeze(bns);
    this.numParams = countParams(specs);
  }

  /**
   * Seeded initialisation (paper's `init_weights_he`): conv kernels Kaiming-normal fan-out with ReLU gain,
   * BN γ = 1, β = 0, linear weight U(−1/√fan_in, 1/√fan_in), linear bias 0; running mean 0, variance 1.
   */
  init(seed: number): { params: Params; state: ModelState } {
    return { params: this.initParams(seed), state: this.initState() };
  }

  /** Seeded trainable parameters (see `init`). */
  initParams(seed: number): Params {
    return createParams(this.paramSpecs, seed);
  }

  /** Fresh running statistics (mean 0, variance 1) for every BatchNorm layer. */
  initState(): ModelState {
    return createBnState(this.stateSpecs);
  }

  /** [H, W, C] of a feature tap for square inputs of `inputSize` pixels (default: the training size). */
  tapShape(tap: ResNetTap, inputSize = this.config.imageSize): [number, number, number] {
    const block = RESNET_TAPS.indexOf(tap) + 1;
    if (block === 0) throw new ModelConfigError(`${this.name} has no tap '${tap}' (its taps: ${RESNET_TAPS.join(', ')})`);
    let size = inputSize;
    for (let s = 0; s < block && s < 4; s++) size = down(size, this.stages[s]!.stride);
    const c = this.stages[Math.min(block, 4) - 1]!.planes;
    if (block === 5) {
      if (size % 4 !== 0) throw new InputShapeError(`block 5 pools 4×4 windows and needs a layer4 size divisible by 4, got ${size}`);
      size /= 4;
    }
    return [size, size, c];
  }

  /** Flattened size D of a feature tap for square inputs of `inputSize` pixels. */
  tapDim(tap: ResNetTap, inputSize = this.config.imageSize): number {
    const [h, w, c] = this.tapShape(tap, inputSize);
    return h * w * c;
  }

  /**
   * Forward pass of an NHWC batch: the logits in `output` and the requested taps. In training mode BatchNorm
   * normalises with batch statistics and, when `state` is given, returns updated running statistics in `state`
   * (new tensors: keep them with `tf.keep` inside a tidy / gradient closure, or use `BatchNormStateStore`). In
   * eval mode BatchNorm uses `state`, which is then required.
   *
   * `output: false` returns taps only: the pass stops after the deepest requested tap (`block3` skips layer4
   * and the head), and inputs may have another size than the training size (the paper feeds 32×32 CIFAR-10 to
   * 64×64-trained models for k-NN); `block5` then needs a layer4 size divisible by 4.
   */
  apply(params: ParamValues, state: ModelState | null, x: tf.Tensor, options: ApplyOptions): ModelOutput<tf.Tensor2D> {
    const taps = resolveTaps(this, options);
    const logits = options.output !== false;
    this.checkInput(x, logits);
    const stopAfter = logits ? 6 : Math.max(...taps) + 1;
    const keepBatch = options.training && options.batchStatistics === true;
    const out = tidyRun(() => this.run(params, state, x as tf.Tensor4D, options.training, taps, stopAfter, keepBatch));
    return {
      ...(out.logits ? { output: out.logits } : {}),
      taps: out.taps,
      ...(out.state ? { state: out.state } : {}),
      ...(out.batchStatistics ? { batchStatistics: out.batchStatistics } : {}),
    };
  }

  private checkInput(x: tf.Tensor, needLogits: boolean): void {
    if (x.rank !== 4) throw new InputShapeError(`expected NHWC input of rank 4, got shape [${x.shape}]`);
    const [, h, w, c] = x.shape;
    if (c !== this.config.inChannels) {
      throw new InputShapeError(`expected ${this.config.inChannels} input channels (NHWC), got shape [${x.shape}]`);
    }
    if (needLogits && (h !== this.config.imageSize || w !== this.config.imageSize)) {
      throw new InputShapeError(
        `logits need ${this.config.imageSize}×${this.config.imageSize} inputs (the linear layer's size), got ${h}×${w}; apply with output: false for other sizes`,
      );
    }
  }

  private param<T extends tf.Tensor>(params: ParamValues, name: string, shape: readonly number[]): T {
    const t = params[name];
    if (!t) throw new ParamsMismatchError(`parameter '${name}' is missing`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ParamsMismatchError(`parameter '${name}' has shape [${t.shape}], expected [${shape}]`);
    }
    return t as T;
  }

  private run(
    params: ParamValues,
    bnState: BnState | null,
    x: tf.Tensor4D,
    training: boolean,
    taps: Set<number>,
    stopAfter: number,
    keepBatch = false,
  ): RunOutput {
    if (!training && !bnState) throw new ParamsMismatchError('eval mode needs BatchNorm running statistics (state)');
    const specByName = new Map(this.paramSpecs.map((s) => [s.name, s.shape]));
    const p = <T extends tf.Tensor>(name: string) => this.param<T>(params, name, specByName.get(name)!);
    const updates: BnState = {};
    const batchStatistics: Record<string, BatchStatistics> = {};
    const bnOpts = this.config.batchNorm;
    const bn = (h: tf.Tensor4D, name: string, relu = false): tf.Tensor4D => {
      const gamma = p<tf.Tensor1D>(`${name}.weight`);
      const beta = p<tf.Tensor1D>(`${name}.bias`);
      const running = bnState?.[name];
      if (bnState && !running) throw new ParamsMismatchError(`BatchNorm state '${name}' is missing`);
      if (running && running.mean.shape[0] !== gamma.shape[0]) {
        throw new ParamsMismatchError(`BatchNorm state '${name}' has ${running.mean.shape[0]} channels, expected ${gamma.shape[0]}`);
      }
      if (!training) return batchNormEval(h, gamma, beta, running!, bnOpts, this.config.doubleBackprop, relu);
      const r = batchNormTrain(h, gamma, beta, running ?? null, bnOpts, this.config.doubleBackprop, relu, keepBatch);
      if (r.stats) updates[name] = r.stats;
      if (r.batch) batchStatistics[name] = r.batch;
      return r.y;
    };
    // Tap i is the output of block i + 1.
    const out: Record<string, tf.Tensor2D> = {};
    const preact = this.config.variant === 'preact';

    let h = conv2d(x, p('conv1.weight'), 1, 1);
    if (!preact) h = bn(h, 'bn1', true);
    let cin = this.config.width;
    for (let s = 0; s < 4; s++) {
      const stage = this.stages[s]!;
      for (let b = 0; b < BLOCKS_PER_STAGE; b++) {
        const name = `layer${s + 1}.${b}`;
        const stride = b === 0 ? stage.stride : 1;
        const projection = stride !== 1 || cin !== stage.planes;
        if (preact) {
          const u = bn(h, `${name}.bn1`, true);
          const shortcut = projection ? conv2d(u, p(`${name}.shortcut.weight`), stride, 0) : h;
          let v = conv2d(u, p(`${name}.conv1.weight`), stride, 1);
          v = conv2d(bn(v, `${name}.bn2`, true), p(`${name}.conv2.weight`), 1, 1);
          h = tf.add(v, shortcut);
        } else {
          let v = bn(conv2d(h, p(`${name}.conv1.weight`), stride, 1), `${name}.bn1`, true);
          v = bn(conv2d(v, p(`${name}.conv2.weight`), 1, 1), `${name}.bn2`);
          const shortcut = projection ? bn(conv2d(h, p(`${name}.shortcut.conv.weight`), stride, 0), `${name}.shortcut.bn`) : h;
          h = tf.relu(tf.add(v, shortcut) as tf.Tensor4D);
        }
        cin = stage.planes;
      }
      const block = s + 1;
      if (block === 4 && preact) h = bn(h, 'bn', true);
      if (taps.has(s)) out[RESNET_TAPS[s]!] = flatten(h);
      if (stopAfter <= block) return this.finish(out, bnState, updates, training, batchStatistics);
    }
    const pooled = flatten(avgPool(h, 4));
    if (taps.has(4)) out['block5'] = pooled;
    if (stopAfter <= 5) return this.finish(out, bnState, updates, training, batchStatistics);
    let logits = dense(pooled, p<tf.Tensor2D>('linear.weight'), p<tf.Tensor1D>('linear.bias'));
    if (this.linearOut === 1) logits = tf.concat([tf.zerosLike(logits), logits], 1);
    return { ...this.finish(out, bnState, updates, training, batchStatistics), logits };
  }

  private finish(
    taps: Record<string, tf.Tensor2D>,
    bnState: BnState | null,
    updates: BnState,
    training: boolean,
    batch?: Record<string, BatchStatistics>,
  ): RunOutput {
    const out: RunOutput = training && bnState ? { taps, state: updates } : { taps };
    return batch && Object.keys(batch).length ? { ...out, batchStatistics: batch } : out;
  }
}

/** PreAct ResNet-18 (paper §3, Figs. 1–3; docs/paper-notes.md §6.1): the model of the paper's classification experiments. */
export function preActResNet18(options: ResNet18Options = {}): ResNet18 {
  return new ResNet18('preact', options);
}

/** Post-activation ResNet-18 (paper §5, Fig. 6; docs/paper-notes.md §6.2): the model of the paper's active-ReLU experiment (Section 5). */
export function resNet18(options: ResNet18Options = {}): ResNet18 {
  return new ResNet18('postact', options);
}
