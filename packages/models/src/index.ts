export { ModelsError, ModelConfigError, InputShapeError, ParamsMismatchError, CheckpointFormatError, SecondOrderGradientError } from './errors.js';
export type { Params, ParamValues, BatchNormStats, BnState, InitSpec, ParamSpec, BatchNormSpec } from './types.js';
export { initialValues, createParams, createBnState, countParams, disposeState } from './init.js';
export {
  type BatchNormOptions,
  type BatchNormTrainResult,
  type Activation,
  PYTORCH_BN,
  conv2d,
  dense,
  batchNormTrain,
  batchNormEval,
  avgPool,
  globalAvgPool,
  flatten,
  activate,
} from './layers.js';
export { softmaxCrossEntropy, squaredLoss, accuracy } from './losses.js';
export {
  type ResNetVariant,
  type ResNet18Options,
  type ResNet18Config,
  type TapBlock,
  type ForwardOptions,
  type ForwardResult,
  type FeaturesResult,
  ResNet18,
  preActResNet18,
  resNet18,
} from './resnet.js';
export { type TwoLayerActivation, type TwoLayerNetOptions, TwoLayerNet, twoLayerNet } from './two-layer.js';
export { type MlpOptions, Mlp, mlp } from './mlp.js';
export { BatchNormStateStore, cloneBnState } from './bn-state.js';
export { type ValueAndGrads, type MicroBatch, microBatches, valueAndGrads, microBatchGrads, sliceBatch } from './microbatch.js';
export { type BatchNormMode, classificationLoss, classificationGrads } from './training.js';
export {
  type TensorData,
  type ModelCheckpoint,
  type CheckpointJSON,
  type CheckpointLayout,
  saveCheckpoint,
  restoreCheckpoint,
  assignCheckpoint,
  checkpointToJSON,
  checkpointFromJSON,
} from './checkpoint.js';
