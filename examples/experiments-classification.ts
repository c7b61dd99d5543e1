/**
 * A classification experiment from code instead of the CLI: Fashion-MNIST with the smoke preset (real Debian
 * files when installed, else generated images of the same shape), two ρ, and the same output folder
 * `samrank-repro fashion-mnist --preset smoke` writes.
 *
 *   npx tsx examples/experiments-classification.ts [outDir]
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment, selectBackend } from '@samrank/experiments';
import { classificationDefinition, resolveClassificationConfig } from '@samrank/experiments/classification';

// selectBackend registers the gradients (via tfjs-layers) and the training kernels, then activates wasm.
const backend = await selectBackend('wasm');

// Anything the CLI flags set can be overridden here (setting, model, width, epochs, rhos, seeds, …).
const config = resolveClassificationConfig('fashion-mnist', { preset: 'smoke', setting: 'sota', rhos: [0, 0.4] });
const outDir = process.argv[2] ?? join(tmpdir(), `samrank-fashion-mnist-${Date.now()}`);

const outcome = await runExperiment({
  definition: classificationDefinition('fashion-mnist'),
  config,
  outDir,
  backend,
  hooks: {
    onEvaluation: (records) => {
      for (const r of records)
        console.log(`ρ=${r.rho} step ${r.step}: test error ${(100 * Number(r.testError)).toFixed(1)} %, block-3 rank ${r.rank3}`);
    },
    log: (line) => console.log(line),
  },
});
if (outcome.status !== 'completed') throw new Error('the run was interrupted');
for (const s of outcome.results.summary) {
  console.log(
    `ρ=${s.rho}: test error ${(100 * (s.metrics.testError?.median ?? Number.NaN)).toFixed(1)} %, block-3 rank ${s.metrics.rank3?.median}, ${s.diverged} diverged`,
  );
}
console.log(
  `data: ${(outcome.results.config as { data: string }).data}; wrote ${outcome.outDir}/results.json, history.jsonl, report.md, figures/`,
);
process.exit(0);
