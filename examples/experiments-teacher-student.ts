/**
 * The teacher-student experiment from code instead of the CLI: a short sweep (smoke preset, 2 seeds),
 * a per-ρ summary, and the same output folder the CLI writes.
 *
 *   npx tsx examples/experiments-teacher-student.ts [outDir]
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  resolveTeacherStudentConfig,
  runTeacherStudentExperiment,
  selectBackend,
  summaryTable,
} from '@samrank/experiments';

// selectBackend registers the gradients (via tfjs-layers) and the training kernels, then activates wasm.
const backend = await selectBackend('wasm');

// The paper's ReLU / SAM settings on a 1 500-step schedule; override anything resolveTeacherStudentConfig takes.
const config = resolveTeacherStudentConfig({ preset: 'smoke', activation: 'relu', method: 'sam', seeds: 2, iterations: 1500 });
const outDir = process.argv[2] ?? join(tmpdir(), `samrank-teacher-student-${Date.now()}`);

const outcome = await runTeacherStudentExperiment({
  config,
  outDir,
  backend,
  onEvaluation: (iteration, records) => {
    if (iteration % 300 === 0) {
      const ranks = records.map((r) => `ρ=${r.rho}/seed ${r.seed}: ${r.featureRank}`).join(', ');
      console.log(`iteration ${iteration}: feature rank ${ranks}`);
    }
  },
});
if (outcome.status !== 'completed') throw new Error('the sweep was interrupted');

console.log(summaryTable(outcome.results));
console.log(`\n${outcome.results.runs.length} runs in ${outcome.wallSeconds.toFixed(1)} s; results, history, report and figures in ${outDir}`);
process.exit(0);
