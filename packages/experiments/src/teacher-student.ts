/** `@samrank/experiments/teacher-student`: the paper's Section 4 experiment (Figs. 5, 12, 13). */
export {
  type TeacherStudentConfig,
  type TeacherStudentOverrides,
  type TeacherStudentMethod,
  type Preset as TeacherStudentPreset,
  ACTIVATIONS,
  METHODS,
  PAPER_ITERATIONS,
  paperGrid,
  paperLearningRate,
  paperInitStd,
  resolveTeacherStudentConfig,
  teacherStudentConfigSchema,
  evaluationIterations,
  lastRegularizedIteration,
} from './teacher-student/config.js';
export { teacherStudentDefinition } from './teacher-student/definition.js';
export { paperNumbers, type PaperRow } from './teacher-student/report.js';
