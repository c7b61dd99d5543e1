/**
 * The teacher-student experiment from code instead of the CLI: a short sweep (smoke preset, 2 seeds) through
 * the one runner, a per-ρ summary, and the same output folder the CLI writes.
 *
 *   npx tsx examples/experiments-teacher-student.ts [outDir]
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment, selectBackend } from '@samrank/experiments';
import { resolveTeacherStudentConfig, teacherStudentDefinition } from '@samrank/experiments/teacher-student';

// selectBackend registers the gradients (via tfjs-layers) and the training kernels, then activates wasm.
const backend = await selectBackend('wasm');

// The paper's ReLU / SAM settings on a 1 500-step schedule; override anything resolveTeacherStudentConfig takes.
const config = resolveTeacherStudentConfig({ preset: 'smoke', activation: 'relu', method: 'sam', seeds: 2, iterations: 1500 });
const outDir = process.argv[2] ?? join(tmpdir(), `samrank-teacher-student-${Date.now()}`);

const outcome = await runExperiment({
  definition: teacherStudentDefinition,
  config,
  outDir,
  backend,
  hooks: {
    onEvaluation: (records) => {
      const it = records[0]?.iteration;
      if (typeof it === 'number' && it % 300 === 0) {
        console.log(`iteration ${it}: feature rank ${records.map((r) => `ρ=${r.rho}/seed ${r.seed}: ${r.featureRank}`).join(', ')}`);
      }
    },
  },
});
if (outcome.status !== 'completed') throw new Error('the sweep was interrupted');

for (const s of outcome.results.summary) {
  console.log(`ρ=${s.rho}: median feature rank ${s.metrics.featureRank?.median}, active units ${s.metrics.activeUnits?.median}`);
}
console.log(
  `\n${outcome.results.runs.length} runs in ${outcome.wallSeconds.toFixed(1)} s; results, history, report and figures in ${outcome.outDir}`,
);
process.exit(0);
