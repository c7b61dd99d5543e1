/** The experiments samrank-repro knows, in `--help` order: adding one is adding its definition here. */
import { ChecksumMismatchError, DatasetFormatError, DatasetNotFoundError, DownloadError } from '@samrank/data';
import { CheckpointFormatError } from '@samrank/models';
import { classificationDefinitions } from './classification/definition.js';
import { contrastiveDefinition } from './contrastive/definition.js';
import type { ErrorPolicy } from './cli/program.js';
import type { AnyExperiment } from './runner/definition.js';
import { teacherStudentDefinition } from './teacher-student/definition.js';
import { vitRanksDefinition } from './vit-ranks/definition.js';

export const EXPERIMENTS: readonly AnyExperiment[] = [
  teacherStudentDefinition,
  ...classificationDefinitions,
  vitRanksDefinition,
  contrastiveDefinition,
];

/** Missing or damaged data (or a checkpoint that is not the model it claims) is bad input, not a bug: one line with the hint, exit 2. */
export const CLI_ERRORS: ErrorPolicy = {
  oneLine: [DatasetNotFoundError, DatasetFormatError, DownloadError, ChecksumMismatchError, CheckpointFormatError],
};
