/** The experiments samrank-repro knows, in `--help` order: adding one is adding its definition here. */
import { ChecksumMismatchError, DatasetFormatError, DatasetNotFoundError, DownloadError } from '@samrank/data';
import { classificationDefinitions } from './classification/definition.js';
import type { ErrorPolicy } from './cli/program.js';
import type { AnyExperiment } from './runner/definition.js';
import { teacherStudentDefinition } from './teacher-student/definition.js';

export const EXPERIMENTS: readonly AnyExperiment[] = [teacherStudentDefinition, ...classificationDefinitions];

/** Missing or damaged data is bad input, not a bug: one line with the data package's hint, exit 2. */
export const CLI_ERRORS: ErrorPolicy = { oneLine: [DatasetNotFoundError, DatasetFormatError, DownloadError, ChecksumMismatchError] };
