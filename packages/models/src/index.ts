// The model contract and the registry.
export { type ApplyOptions, type Model, type ModelOutput, type ModelState, resolveTaps } from './model.js';
export { type BuiltinModels, type ModelFactory, createModel, modelNames, registerModel } from './registry.js';

// The models.
export {
  type ResNet18Config,
  type ResNet18Options,
  type ResNetTap,
  type ResNetVariant,
  ResNet18,
  preActResNet18,
  resNet18,
} from './resnet.js';
export {
  type TwoLayerConfig,
  type TwoLayerLayout,
  type TwoLayerOptions,
  TwoLayerModel,
  batchedSquaredLoss,
  fusedSquaredLoss,
  packTwoLayerParams,
  plainSgdStep,
  readTwoLayerParams,
  squaredLossAndGradient,
  twoLayer,
  twoLayerInit,
  twoLayerLayout,
  writeTwoLayerParams,
} from './two-layer.js';
export { type MlpConfig, type MlpOptions, Mlp, mlp } from './mlp.js';
export { type VitConfig, type VitOptions, type VitTensor, VIT_TENSORS, VisionTransformer, vit, vitGrid } from './vit.js';
export { type MixerConfig, type MixerOptions, MIXER_TENSORS, MlpMixer, mlpMixer } from './mixer.js';
export { type BertConfig, type BertOptions, BERT_NORM_EPS, BERT_TENSORS, BertEncoder, bert, geluErf } from './bert.js';
export { type BertCheckpoint, bertCheckpoint } from './bert-checkpoint.js';
export { type DualEmbeddings, DualEncoder, type DualEncoderOptions, type DualEncoderPart, dualEncoder } from './dual-encoder.js';
export {
  type CheckpointArrays,
  type NamedArray,
  type ShapeMismatch,
  type VisionCheckpoint,
  type VisionCheckpointInfo,
  CheckpointKeysError,
  inspectVisionCheckpoint,
  linenKeyMap,
  visionCheckpoint,
} from './vision-checkpoint.js';

// Parameters, state and their initialisation.
export type { BatchNormSpec, BatchNormStats, BatchStatistics, BnState, InitSpec, ParamSpec, ParamValues, Params } from './types.js';
export { countParams, createBnState, createParams, disposeState, initialValues } from './init.js';
export { BatchNormStateStore, cloneBnState } from './bn-state.js';

// Layers, losses and training helpers.
export {
  type Activation,
  type BatchNormOptions,
  type BatchNormTrainResult,
  ACTIVATION_NAMES,
  PYTORCH_BN,
  activate,
  avgPool,
  batchNormEval,
  batchNormTrain,
  conv2d,
  dense,
  flatten,
  globalAvgPool,
} from './layers.js';
export {
  type AttentionWeights,
  FLAX_NORM_EPS,
  geluTanh,
  groupNorm,
  layerNorm,
  maxPool3x3Stride2Same,
  selfAttention,
  standardizeKernel,
} from './vision-layers.js';
export { accuracy, softmaxCrossEntropy, squaredLoss } from './losses.js';
export {
  type RetrievalErrors,
  CONTRASTIVE_TEMPERATURE,
  INFONCE_FLOOR,
  retrievalErrors,
  symmetricInfoNce,
} from './contrastive.js';
export { type BatchNormMode, type ValueAndGrads, classificationLoss, valueAndGrads } from './training.js';

// Checkpoints.
export {
  type CheckpointJSON,
  type CheckpointLayout,
  type ModelCheckpoint,
  type TensorData,
  assignCheckpoint,
  checkpointFromJSON,
  checkpointToJSON,
  restoreCheckpoint,
  saveCheckpoint,
} from './checkpoint.js';

// Errors.
export {
  CheckpointFormatError,
  InputShapeError,
  ModelConfigError,
  ModelsError,
  ParamsMismatchError,
  SecondOrderGradientError,
} from './errors.js';
