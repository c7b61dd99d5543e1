/**
 * @samrank/experiments: the paper's experiments (teacher-student; CIFAR-10/100, Tiny ImageNet and
 * Fashion-MNIST classification) as configs plus one runner each, and the samrank-repro CLI. Training code needs gradients registered: `import '@tensorflow/tfjs-layers'` once in your program
 * (or call `selectBackend`, which does it through @samrank/backend's setupBackend).
 */
export { ExperimentConfigError, ResumeError, BackendSelectionError } from './errors.js';
export { CLI_BACKENDS, DEFAULT_BACKEND, type CliBackend, selectBackend } from './backend.js';
export { type CommonOptions, type CliIO, type CliPreset, type ExperimentDefinition, CLI_PRESETS, EXIT } from './experiment.js';
export { EXPERIMENTS, buildProgram, runCli, processIO } from './cli-program.js';
export { renderSvg, svgToPng, writeFigure } from './figures.js';
export { createProgress, type Progress, type ProgressTarget } from './progress.js';
export {
  type TeacherStudentConfig,
  type TeacherStudentOverrides,
  type TeacherStudentMethod,
  type Preset,
  ACTIVATIONS,
  METHODS,
  PRESETS,
  PAPER_ITERATIONS,
  paperGrid,
  paperLearningRate,
  paperInitStd,
  resolveTeacherStudentConfig,
  evaluationIterations,
  lastRegularizedIteration,
} from './teacher-student/config.js';
export {
  type StudentShape,
  type BatchedStudent,
  initStudentParams,
  createBatchedStudent,
  batchedSquaredLoss,
  readStudentParams,
  writeStudentParams,
  disposeStudent,
  hiddenFeatures,
} from './teacher-student/model.js';
export {
  type StudentMetrics,
  type EvaluationData,
  type MetricOptions,
  evaluateStudent,
  meanSquaredError,
  weightNorm,
  studentFeatureRank,
  studentActiveUnits,
} from './teacher-student/metrics.js';
export {
  type RunStatus,
  type HistoryRecord,
  type RunResult,
  type SweepState,
  type SweepHooks,
  type SweepOutcome,
  type TrainerOptions,
  type StudentTrainer,
  createStudentTrainer,
  exampleOrder,
  sweepData,
  sweepRuns,
  runTeacherStudentSweep,
} from './teacher-student/train.js';
export { type PaperRow, type Spread, type RhoSummary, paperNumbers, spread, summarizeByRho, teacherStudentReport } from './teacher-student/report.js';
export { iterationFigure, finalFigure } from './teacher-student/figures.js';
export {
  type TeacherStudentResults,
  type TeacherStudentRunOptions,
  type TeacherStudentRunOutcome,
  runTeacherStudentExperiment,
  readCheckpoint,
} from './teacher-student/run.js';
export { teacherStudentExperiment, summaryTable, defaultOutDir } from './teacher-student/cli.js';

// Classification experiments (cifar10, cifar100, tiny-imagenet, fashion-mnist). Names that would clash
// with the teacher-student ones above carry a Classification prefix.
export {
  type ClassificationConfig,
  type ClassificationOverrides,
  type ClassificationDataset,
  type ClassificationPreset,
  type ClassificationSetting,
  type ClassificationModel,
  type BnMode,
  type DataSource,
  CLASSIFICATION_DATASETS,
  CLASSIFICATION_PRESETS,
  RHO_GRIDS,
  resolveClassificationConfig,
} from './classification/config.js';
export type { EvalMetrics as ClassificationMetrics } from './classification/metrics.js';
export type { RunResult as ClassificationRunResult, HistoryRecord as ClassificationHistoryRecord } from './classification/train.js';
export type { RhoSummary as ClassificationRhoSummary } from './classification/report.js';
export {
  type ClassificationResults,
  type ClassificationRunOptions,
  type ClassificationRunOutcome,
  runClassificationExperiment,
} from './classification/run.js';
export { classificationExperiment, classificationExperiments } from './classification/cli.js';
