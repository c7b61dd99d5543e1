/**
 * @samrank/optim: sharpness-aware minimization (SAM, unnormalized SAM, ASAM, m-sharpness) and the
 * gradient-norm regularizer as TensorFlow.js optimizers, with schedules and independent runs.
 */
export { SAM, type SAMOptions } from './sam.js';
export {
  GradientNormRegularizer,
  regularizedGradients,
  type GradientNormMode,
  type GradientNormRegularizerOptions,
  type RegularizedGradients,
} from './gradient-norm-regularizer.js';
export { WrappedOptimizer, type NamedTensor, type WrapperOptions } from './wrapped-optimizer.js';
export type { LossClosure, LossGradients, StepContext } from './loss-gradients.js';
export type { ChunkLayout } from './perturbed-gradients.js';
export {
  constantSchedule,
  cosineSchedule,
  piecewise05Epochs,
  windowSchedule,
  type CosineScheduleOptions,
  type PiecewiseOptions,
  type Schedule,
  type WindowScheduleOptions,
} from './schedules.js';
export { chunkRange, sliceChunk } from './chunks.js';
export {
  DoubleBackpropGradientsError,
  EmptyVariableListError,
  InvalidLambdaError,
  InvalidOptionError,
  InvalidRhoError,
  InvalidScheduleError,
  InvalidStateError,
  NonFiniteGradientError,
  NonScalarLossError,
  OptimError,
  RunsMismatchError,
} from './errors.js';
