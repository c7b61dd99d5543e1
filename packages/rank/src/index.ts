/**
 * `@samrank/rank`: feature rank (the fewest principal components spanning a fraction p of the variance)
 * and the paper's other probes, on plain arrays, with no TensorFlow.js dependency. The tfjs adapter is
 * the `@samrank/rank/tfjs` subpath.
 */
export { RankAccumulator, type AccumulatorOptions, type GramSide } from './accumulator.js';
export { ACTIVE_UNIT_PRESETS, activeUnitStats, activeUnits, type ActiveUnitStats, type ActiveUnitsOptions } from './active-units.js';
export { EigenConvergenceError, symmetricEigenvalues } from './eigen.js';
export {
  DataLengthError,
  EmptyMatrixError,
  InvalidOptionError,
  NonFiniteValueError,
  NotAMatrixError,
  RaggedRowsError,
  RankInputError,
  ShapeMismatchError,
  TensorInputError,
  ThresholdRangeError,
} from './errors.js';
export { setRankThreads } from './rank-threads.js';
export { gramKernelVariant } from './gemm.js';
export { knnError, knnPredict, type KnnOptions } from './knn.js';
export type { DenseMatrix, MatrixInput } from './matrix.js';
export { featureRank, type FeatureRankOptions } from './rank.js';
export { rankFromSpectrum, type RankRule, type RankRuleOptions } from './rank-rule.js';
export {
  effectiveRank,
  numericalRank,
  participationRatio,
  rankMe,
  stableRank,
  type EffectiveRankOptions,
} from './spectral-probes.js';
export { singularValues, type Centering, type Spectrum, type SpectrumMethod } from './spectrum-result.js';
export { spectrum, type SpectrumOptions } from './spectrum.js';
