/**
 * @samrank/experiments: the paper's experiments as definitions on one runner, and the samrank-repro CLI.
 * The runner API below runs any definition (the built-in ones, or your own: docs/design.md); the
 * experiment-specific configs live in the subpaths `@samrank/experiments/teacher-student` and
 * `@samrank/experiments/classification`. Training code needs gradients registered: `import
 * '@tensorflow/tfjs-layers'` once in your program (or call `selectBackend`).
 */
export {
  ExperimentsError,
  UsageError,
  ExperimentConfigError,
  ResumeError,
  BackendSelectionError,
  OutputFolderError,
  RunFolderLockedError,
  ResourceLimitError,
  QueueError,
  QueueConnectionError,
  RunDivergedError,
} from './errors.js';
export type {
  ExperimentDefinition,
  AnyExperiment,
  TrainingJob,
  Metric,
  MetricPlot,
  RunKey,
  Prepared,
  DataSourceRecord,
  PaperValues,
  ReportText,
  CommonValues,
  Progress,
  FigureSpec,
  SeriesProbe,
} from './runner/definition.js';
export {
  type PairedComparison,
  CONFIDENCE,
  pairedComparisons,
  bootstrapMedianInterval,
  signTest,
} from './runner/statistics.js';
export {
  type FlagSpec,
  type FlagSpecs,
  type FlagValues,
  type ValueFlag,
  type Toggle,
  flag,
  toggle,
  choice,
  wholeNumber,
  numberList,
  integerList,
  text,
} from './runner/flags.js';
export { runExperiment, type RunOptions, type RunOutcome, type RunHooks } from './runner/run.js';
export { runSweep, type SweepHooks, type SweepOutcome, type SweepProgress, type JobProgress } from './runner/sweep.js';
export type { Results } from './runner/outputs.js';
export {
  type RunResult,
  type RunStatus,
  type HistoryRecord,
  type MetricValues,
  type RhoSummary,
  type Spread,
  spread,
  summarizeByRho,
} from './runner/results.js';
export { CLI_BACKENDS, DEFAULT_BACKEND, type CliBackend, selectBackend } from './cli/backend.js';
export { runCli, type ErrorPolicy } from './cli/program.js';
export { type CliIO, type OutputStream, EXIT, processIO } from './cli/io.js';
export { EXPERIMENTS, CLI_ERRORS } from './experiments.js';
