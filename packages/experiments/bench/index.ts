/**
 * `npm run bench`: the teacher-student ReLU grid (5 ρ × 19 953 SAM/SGD steps, batch 1, metrics every
 * 285 steps) against PyTorch on the same machine in the same run (bench/results/experiments.json).
 *
 * - ours, 1 seed: the five ρ of one seed trained as one batched student (runs = 5), wasm backend, with its 70
 *   evaluations; then, in the same process (so warm), the same grid with one evaluation at the end: closer to what
 *   the reference times (the median of warm steps).
 * - ours, 5 seeds: the CLI's default sweep (runs = 25), reported per seed grid (total / 5).
 * - cpu backend, 1 seed, full length: the other candidate default (wasm wins: lower per-kernel cost).
 * - reference: bench/torch_reference.py's two-layer steps at 1 thread, like ours (torch.optim.SGD + SAM per step, batch 1,
 *   no biases): 5 × (9 977 SAM steps + 9 976 SGD steps) at its measured ms/step.
 * SAMRANK_BENCH_QUICK=1 times 2 000 steps instead of 19 953 (and scales the reference the same way).
 */
import '@tensorflow/tfjs-layers';
import { rssMB, torchReference, writeResults, type BenchEntry, type TorchTiming } from '../../../bench/lib.js';
import { runSweep, selectBackend } from '../src/index.js';
import { resolveTeacherStudentConfig, teacherStudentDefinition } from '../src/teacher-student.js';

const quick = process.env['SAMRANK_BENCH_QUICK'] === '1';
const ITER = quick ? 2_000 : 19_953;

interface TorchTwoLayer {
  sgd: TorchTiming;
  sam: TorchTiming;
}

function torchTwoLayer(): TorchTwoLayer | null {
  return (
    torchReference<TorchTwoLayer>(['two_layer_teacher_student'], { threads: 1, timeoutMs: 600_000 })?.['two_layer_teacher_student'] ?? null
  );
}

async function sweepMs(seeds: number, iterations: number, evaluations?: number): Promise<{ ms: number; peakMB: number }> {
  const config = {
    ...resolveTeacherStudentConfig({ seeds, iterations }),
    // Keep the paper's evaluation spacing (every ~285 steps) when timing a shortened run.
    evaluations: evaluations ?? Math.max(1, Math.round((70 * iterations) / 19_953)),
  };
  let peak = rssMB();
  const t0 = performance.now();
  const { prepared } = await teacherStudentDefinition.prepare(config, () => {}, {});
  const out = await runSweep({
    definition: teacherStudentDefinition,
    config,
    prepared,
    hooks: { onProgress: () => (peak = Math.max(peak, rssMB())) },
  });
  const ms = performance.now() - t0;
  if (!out.completed) throw new Error('sweep did not complete');
  return { ms, peakMB: Math.round(peak) };
}

const torch = torchTwoLayer();
const samSteps = Math.floor(ITER / 2) + 1;
const reference = torch
  ? {
      name: `pytorch ${torch.sam.median_ms} ms/SAM step, ${torch.sgd.median_ms} ms/SGD step (bench/torch_reference.py)`,
      ms: 5 * (samSteps * torch.sam.median_ms + (ITER - samSteps) * torch.sgd.median_ms),
    }
  : undefined;

const entries: BenchEntry[] = [];
await selectBackend('wasm');
const one = await sweepMs(1, ITER);
entries.push({
  name: `teacher-student relu grid, 1 seed (5 runs batched), ${ITER} steps, wasm`,
  ms: Math.round(one.ms),
  peakMB: one.peakMB,
  ...(reference ? { reference } : {}),
});
// Like for like with the reference, which times training steps only: the same grid with one evaluation, at the end.
const trainOnly = await sweepMs(1, ITER, 1);
entries.push({
  name: `teacher-student relu grid, 1 seed (5 runs batched), ${ITER} steps, training only (one final evaluation), wasm`,
  ms: Math.round(trainOnly.ms),
  peakMB: trainOnly.peakMB,
  ...(reference ? { reference } : {}),
});
const five = await sweepMs(5, ITER);
entries.push({
  name: `teacher-student relu grid, per seed of a 5-seed sweep (25 runs batched), wasm`,
  ms: Math.round(five.ms / 5),
  peakMB: five.peakMB,
  ...(reference ? { reference } : {}),
  notes: `whole 5-seed sweep ${(five.ms / 1000).toFixed(1)} s`,
});
await selectBackend('cpu');
const cpu = await sweepMs(1, ITER);
entries.push({
  name: `teacher-student relu grid, 1 seed (5 runs batched), ${ITER} steps, cpu backend`,
  ms: Math.round(cpu.ms),
  peakMB: cpu.peakMB,
  ...(reference ? { reference } : {}),
});
writeResults('experiments', entries);
process.exit(0);
