/** The `teacher-student` subcommand of samrank-repro: flags, the run, and what it prints. */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseChoice, parseNumberList } from '../cli-parsers.js';
import { selectBackend } from '../backend.js';
import { checkResumeFlags, outDirStamp, resolveOrUsage, resumeHint, runLog, stopFlag, toJsonLine, usageError } from '../cli-run.js';
import { EXIT, type CliIO, type CommonOptions, type ExperimentDefinition } from '../experiment.js';
import { createProgress } from '../progress.js';
import { ACTIVATIONS, METHODS, resolveTeacherStudentConfig, type TeacherStudentMethod } from './config.js';
import type { TeacherActivation } from '@samrank/data';
import { runTeacherStudentExperiment, type TeacherStudentResults } from './run.js';

/** `samrank-results/teacher-student-<activation>-<method>-<UTC timestamp>` under the working directory. */
export function defaultOutDir(activation: string, method: string, now = new Date()): string {
  return resolve('samrank-results', `teacher-student-${activation}-${method}-${outDirStamp(now)}`);
}

function fmt(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

/** The table printed at the end of a run (median over seeds per ρ). */
export function summaryTable(results: TeacherStudentResults): string {
  const p = results.method === 'sam' ? 'rho' : 'lambda';
  const rows = results.summary.map((s) =>
    [
      String(s.rho).padEnd(7),
      fmt(s.metrics.featureRank.median, 1).padStart(6),
      fmt(s.metrics.activeUnits.median, 1).padStart(7),
      (Number.isFinite(s.metrics.trainLoss.median) ? s.metrics.trainLoss.median.toExponential(2) : '–').padStart(10),
      fmt(s.metrics.testLoss.median, 4).padStart(9),
      fmt(s.metrics.weightNorm.median, 2).padStart(8),
      `${s.finished}/${s.finished + s.diverged}`.padStart(6),
    ].join(' '),
  );
  return [
    `${p.padEnd(7)} ${'rank'.padStart(6)} ${'active'.padStart(7)} ${'train'.padStart(10)} ${'test'.padStart(9)} ${'norm'.padStart(8)} ${'ok'.padStart(6)}`,
    ...rows,
  ].join('\n');
}

/** The teacher-student experiment as a CLI subcommand. */
export const teacherStudentExperiment: ExperimentDefinition = {
  name: 'teacher-student',
  summary: 'two-layer teacher-student regression: feature rank vs SAM ρ (paper §4, Figs. 5, 12, 13)',
  addOptions(command: Command) {
    command
      .option('--activation <name>', `hidden activation: ${ACTIVATIONS.join(' | ')} (default relu)`, parseChoice(ACTIVATIONS))
      .option('--method <name>', `sam | gradnorm (gradient-norm regularizer, Fig. 13) (default sam)`, parseChoice(METHODS))
      .option('--rho <list>', "comma-separated ρ (or λ for gradnorm) values (default: the paper's grid)", parseNumberList);
  },
  async run(flags, common: CommonOptions, io: CliIO) {
    const activation = flags['activation'] as TeacherActivation | undefined;
    const method = flags['method'] as TeacherStudentMethod | undefined;
    const rhos = flags['rho'] as number[] | undefined;
    if (common.preset === 'small') {
      // `small` exists for the classification experiments; the paper preset already runs in under a minute here.
      return usageError(io, "teacher-student has no 'small' preset (its paper preset takes under a minute); use --preset paper or --preset smoke");
    }
    const preset = common.preset;
    const resolved = resolveOrUsage(io, () =>
      resolveTeacherStudentConfig({ preset, activation, method, rhos, seeds: common.seeds, seed: common.seed, iterations: common.iterations }),
    );
    if ('code' in resolved) return resolved.code;
    const { config } = resolved;
    const settingsGiven = [activation, method, rhos, preset, common.seeds, common.seed, common.iterations].some((f) => f !== undefined);
    const resumeCode = checkResumeFlags(io, common, settingsGiven, '--backend');
    if (resumeCode !== null) return resumeCode;
    const outDir = common.out ? resolve(common.out) : defaultOutDir(config.activation, config.method);
    const backend = await selectBackend(common.backend, { threads: common.threads });
    const log = runLog(io, common);
    log(
      `samrank-repro teacher-student: ${common.resume ? 'resuming' : `${config.activation}, ${config.method}, ${config.method === 'sam' ? 'rho' : 'lambda'} ${config.rhos.join(',')}, seeds ${config.seeds.join(',')}, ${config.iterations} iterations`} on ${backend} -> ${outDir}`,
    );
    const progress = createProgress('teacher-student', { stream: io.stderr, plain: io.plainProgress, quiet: common.json });
    const stop = stopFlag(io);
    try {
      const outcome = await runTeacherStudentExperiment({
        config,
        outDir,
        backend,
        resume: common.resume,
        command: io.commandLine,
        onProgress: (i, total) => progress.update(i, total),
        shouldStop: stop.stopped,
      });
      progress.stop();
      if (outcome.status === 'interrupted') {
        io.stderr.write(
          `samrank-repro: interrupted at iteration ${outcome.iteration}; state saved to ${join(outDir, 'checkpoint.json')}\n` +
            resumeHint('teacher-student', outDir, common),
        );
        return EXIT.interrupted;
      }
      const { results } = outcome;
      if (common.json) {
        io.stdout.write(toJsonLine({ outDir, wallSeconds: outcome.wallSeconds, ...results }) + '\n');
      } else {
        const diverged = results.runs.filter((r) => r.status === 'diverged').length;
        io.stdout.write(
          `${summaryTable(results)}\n` +
            `(median over ${config.seeds.length} seed${config.seeds.length === 1 ? '' : 's'}; ${diverged} diverged run${diverged === 1 ? '' : 's'}; ${outcome.wallSeconds.toFixed(1)} s)\n` +
            `wrote ${join(outDir, 'results.json')}, history.jsonl, report.md, figures/\n`,
        );
      }
      return EXIT.ok;
    } finally {
      progress.stop();
      stop.remove();
    }
  },
};
