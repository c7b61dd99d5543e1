/**
 * Shared benchmark plumbing: every package's `bench` script records entries with these helpers and
 * writes `bench/results/<package>.json` (a list of `{ name, ms, peakMB?, reference?, ratio? }`).
 * The ratio is ours / reference, both measured in the same run, because this machine is noisy.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchEntry {
  name: string;
  ms: number;
  peakMB?: number;
  reference?: { name: string; ms: number };
  ratio?: number;
  notes?: string;
  /** Which build of the package's wasm kernels ran: fused multiply-adds (relaxed SIMD) or plain SIMD. */
  simd?: 'relaxed' | 'plain';
  /** The Node version of the run (set by writeResults). */
  node?: string;
}

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Step time of one case of bench/torch_reference.py. */
export interface TorchTiming {
  median_ms: number;
  min_ms: number;
  reps: number;
}

/**
 * The environment for a numpy/PyTorch reference process: OpenBLAS told the CPU's best kernel family, because
 * Debian's OpenBLAS has detected some of the project's AVX-512 machines as `Prescott` and run its generic kernels
 * (3–4× slower on a Gram), and an inherited OPENBLAS_CORETYPE (this machine's shell sets Haswell) would hold it
 * below AVX-512. The reference scripts report the kernels OpenBLAS then used (bench/blas_info.py). SkylakeX where the CPU has AVX-512, Haswell where it has AVX2; SAMRANK_REFERENCE_CORETYPE overrides.
 * Only the reference process gets it; `blasCoretype` says what was set, for the benchmark JSON.
 */
export function referenceEnv(): { env: NodeJS.ProcessEnv; blasCoretype: string | undefined } {
  const chosen = process.env['SAMRANK_REFERENCE_CORETYPE'];
  if (chosen) return { env: { ...process.env, OPENBLAS_CORETYPE: chosen }, blasCoretype: chosen };
  let flags = '';
  try {
    flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
  } catch {
    // not Linux: leave OpenBLAS to its own detection
  }
  const has = (f: string) => new RegExp(`\\b${f}\\b`).test(flags);
  const blasCoretype = has('avx512f') ? 'SkylakeX' : has('avx2') ? 'Haswell' : undefined;
  return { env: blasCoretype ? { ...process.env, OPENBLAS_CORETYPE: blasCoretype } : process.env, blasCoretype };
}

/** What bench/blas_info.py reports of the BLAS a reference process ran. */
export interface BlasInfo {
  libraries: string[];
  openblas_core: string | null;
}

/** One phrase for a benchmark note: the OpenBLAS kernel family, else the libraries loaded. */
export function describeBlas(info: BlasInfo | undefined): string {
  if (!info) return 'unknown';
  return info.openblas_core ? `OpenBLAS ${info.openblas_core} kernels` : info.libraries.join(', ') || 'none loaded';
}

/**
 * PyTorch step times per section of bench/torch_reference.py (e.g. `two_layer_teacher_student`,
 * `preact_resnet18_w16_b128`), measured now on this machine with Debian's python3-torch, or null (with the
 * reason logged) when /usr/bin/python3 or torch is missing or the script fails.
 */
export function torchReference<T = Record<string, TorchTiming>>(
  sections: readonly string[],
  options: { threads?: number; quick?: boolean; timeoutMs?: number } = {},
): Record<string, T> | null {
  const python = '/usr/bin/python3';
  if (!existsSync(python)) {
    console.warn('PyTorch reference skipped: /usr/bin/python3 not found');
    return null;
  }
  const script = join(repoRoot, 'bench', 'torch_reference.py');
  const args = [script, '--only', sections.join(','), '--threads', String(options.threads ?? 2), ...(options.quick ? ['--quick'] : [])];
  const { env, blasCoretype } = referenceEnv();
  try {
    const out = execFileSync(python, args, {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 900_000,
    });
    const parsed = JSON.parse(out.trim().split('\n').pop()!) as { results: Record<string, T>; blas?: BlasInfo };
    console.log(`PyTorch reference BLAS: ${describeBlas(parsed.blas)} (OPENBLAS_CORETYPE=${blasCoretype ?? 'not set'})`);
    return parsed.results;
  } catch (error) {
    console.warn(`PyTorch reference skipped: ${(error as Error).message.split('\n')[0]}`);
    return null;
  }
}

/** Median wall time of `repeats` runs after `warmup` unmeasured runs. */
export async function timeMedian(fn: () => unknown | Promise<unknown>, repeats = 5, warmup = 1): Promise<number> {
  return (await timeInterleaved([fn], repeats, warmup))[0]!;
}

/**
 * Medians of several functions timed in alternation (a, b, a, b, …), so that slow periods of a shared machine
 * fall on all of them alike and their ratio is not skewed by when each happened to run.
 */
export async function timeInterleaved(fns: ReadonlyArray<() => unknown | Promise<unknown>>, repeats = 5, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) for (const fn of fns) await fn();
  const times = fns.map(() => [] as number[]);
  for (let i = 0; i < repeats; i++) {
    for (const [k, fn] of fns.entries()) {
      const t0 = performance.now();
      await fn();
      times[k]!.push(performance.now() - t0);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!);
}

/** Resident set size in MiB now; sample it around the measured work to report a peak. */
export function rssMB(): number {
  return process.memoryUsage().rss / (1024 * 1024);
}

export function withRatio(entry: BenchEntry): BenchEntry {
  if (entry.reference && entry.reference.ms > 0) {
    return { ...entry, ratio: Number((entry.ms / entry.reference.ms).toFixed(3)) };
  }
  return entry;
}

export function writeResults(packageName: string, entries: BenchEntry[]): string {
  const dir = join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${packageName}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      entries.map((e) => ({ ...withRatio(e), node: process.version })),
      null,
      2,
    ) + '\n',
  );
  console.log(`wrote ${file}`);
  for (const e of entries.map(withRatio)) {
    const ref = e.reference ? `  ref ${e.reference.name} ${e.reference.ms.toFixed(2)} ms  ratio ${e.ratio}` : '';
    console.log(`${e.name.padEnd(56)} ${e.ms.toFixed(2).padStart(10)} ms${ref}`);
  }
  return file;
}
