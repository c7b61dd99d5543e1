/**
 * Models by name. Experiments build their network with `createModel(config.model, options)`, so a model
 * registered here is available to every experiment whose config names it. Adding a model is one file that
 * implements `Model` plus one `registerModel` line below (docs/design.md §5).
 */
import { type BertEncoder, type BertOptions, bert } from './bert.js';
import { ModelConfigError } from './errors.js';
import { type Mlp, type MlpOptions, mlp } from './mlp.js';
import { type MixerOptions, type MlpMixer, mlpMixer } from './mixer.js';
import type { Model } from './model.js';
import { type ResNet18, type ResNet18Options, preActResNet18, resNet18 } from './resnet.js';
import { type TwoLayerModel, type TwoLayerOptions, twoLayer } from './two-layer.js';
import { type VisionTransformer, type VitOptions, vit } from './vit.js';

/** Builds a model from its options (validating them: bad options throw `ModelConfigError`). */
export type ModelFactory<Options = never, M extends Model = Model> = (options: Options) => M;

/** The built-in models: registry name → options and model type (what `createModel` returns for that name). */
export interface BuiltinModels {
  'preact-resnet18': { options: ResNet18Options; model: ResNet18 };
  resnet18: { options: ResNet18Options; model: ResNet18 };
  'two-layer': { options: TwoLayerOptions; model: TwoLayerModel };
  mlp: { options: MlpOptions; model: Mlp };
  vit: { options: VitOptions; model: VisionTransformer };
  'mlp-mixer': { options: MixerOptions; model: MlpMixer };
  bert: { options: BertOptions; model: BertEncoder };
}

// biome-ignore lint/suspicious/noExplicitAny: factories take model-specific options, checked by the factory itself
const factories = new Map<string, ModelFactory<any>>();

const NAME = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * Registers a model factory under `name` (lowercase letters, digits, `.`, `_`, `-`). A name can be registered
 * once: a second registration throws `ModelConfigError` rather than silently replacing a model.
 */
export function registerModel<Options>(name: string, factory: ModelFactory<Options>): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ModelConfigError(`model names are lowercase letters, digits, '.', '_' and '-', got '${String(name)}'`);
  }
  if (typeof factory !== 'function') throw new ModelConfigError(`the factory of model '${name}' must be a function`);
  if (factories.has(name)) throw new ModelConfigError(`a model named '${name}' is already registered`);
  factories.set(name, factory);
}

/** The registered model names, in registration order (the built-ins first). */
export function modelNames(): string[] {
  return [...factories.keys()];
}

/**
 * Creates the model registered under `name` with `options` (each model's defaults fill what is left out). An
 * unknown name throws `ModelConfigError` listing the registered names.
 */
export function createModel<N extends keyof BuiltinModels>(name: N, options?: BuiltinModels[N]['options']): BuiltinModels[N]['model'];
export function createModel(name: string, options?: unknown): Model;
export function createModel(name: string, options?: unknown): Model {
  const factory = factories.get(name);
  if (!factory) throw new ModelConfigError(`unknown model '${String(name)}' (registered: ${modelNames().join(', ')})`);
  return factory(options);
}

registerModel('preact-resnet18', (options?: ResNet18Options) => preActResNet18(options));
registerModel('resnet18', (options?: ResNet18Options) => resNet18(options));
registerModel('two-layer', (options: TwoLayerOptions) => twoLayer(options));
registerModel('mlp', (options: MlpOptions) => mlp(options));
registerModel('vit', (options?: VitOptions) => vit(options));
registerModel('mlp-mixer', (options?: MixerOptions) => mlpMixer(options));
registerModel('bert', (options?: BertOptions) => bert(options));
