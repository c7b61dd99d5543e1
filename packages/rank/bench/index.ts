/**
 * `npm run bench`: feature-rank speed against numpy in the same run (bench/results/rank.json).
 *
 * For 10240×256 and 10240×512 float32 matrices (relu of a random projection of 64-dim data plus noise, written
 * by numpy_rank.py): column-centered Gram + eigenvalues + 99% rank (ours: `spectrum(…, { method: 'gram' })`
 * then `rankFromSpectrum`; numpy: `Hc.T @ Hc` then `eigvalsh`, float32), and the two halves separately.
 * Rounds alternate numpy and ours, and each figure is the median over all rounds, because the machine is
 * shared. numpy runs with OPENBLAS_CORETYPE set to the CPU's kernel family (bench/lib.ts `referenceEnv`: numpy at
 * its best, not OpenBLAS's generic fallback) and reports its BLAS library. Without /usr/bin/python3 + numpy the matrix comes from a seeded generator and there is no reference.
 *
 * SAMRANK_BENCH_PAPER_SCALE=1 also times the 10240×16384 case once (n×n Gram + eigen-solve; minutes).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchEntry, type BlasInfo, describeBlas, referenceEnv, repoRoot, rssMB, writeResults } from '../../../bench/lib.js';
import { rankFromSpectrum, spectrum, symmetricEigenvalues } from '../src/index.js';
import { relaxedSimdAvailable } from '@samrank/core';
import { addRowGramF32, gramKernelVariant, useGramKernel } from '../src/gemm.js';

const PYTHON = '/usr/bin/python3';
const script = join(import.meta.dirname, 'numpy_rank.py');
const tmp = mkdtempSync(join(tmpdir(), 'samrank-rank-bench-'));
const reference = referenceEnv();
const rounds = Number(process.env.SAMRANK_BENCH_ROUNDS ?? 5);
const reps = 5;

interface NumpyResult {
  gram_eigh_ms: number;
  gram_ms: number;
  eigvalsh64_ms: number;
  rank99: number;
  blas?: BlasInfo;
}

function numpy(n: number, d: number, write: boolean): NumpyResult | null {
  if (!existsSync(PYTHON)) return null;
  try {
    const out = execFileSync(PYTHON, [script, String(n), String(d), String(reps), join(tmp, `h${n}x${d}`), ...(write ? ['--write'] : [])], {
      env: reference.env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return JSON.parse(out.trim().split('\n').pop()!) as NumpyResult;
  } catch (err) {
    console.warn(`numpy reference unavailable: ${(err as Error).message.split('\n')[0]}`);
    return null;
  }
}

/** Seeded stand-in for the numpy matrix (xorshift32 + Box–Muller), used only without numpy. */
function syntheticMatrix(n: number, d: number, seed = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const Z = Float64Array.from({ length: n * 64 }, normal);
  const P = Float64Array.from({ length: 64 * d }, normal);
  const H = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      let v = 0;
      for (let t = 0; t < 64; t++) v += Z[i * 64 + t]! * P[t * d + j]!;
      H[i * d + j] = Math.max(v, 0) + 0.05 * normal();
    }
  }
  return H;
}

function medianOf(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeReps(fn: () => void, count: number, into: number[]): void {
  fn();
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    fn();
    into.push(performance.now() - t0);
  }
}

const entries: BenchEntry[] = [];
// Both builds of the Gram kernel where the runtime has relaxed SIMD, interleaved round by round: the default and the
// other one beside it (names of the non-default build carry it in brackets).
const defaultBuild = gramKernelVariant();
const builds: ('plain' | 'relaxed')[] = relaxedSimdAvailable() ? [defaultBuild, defaultBuild === 'plain' ? 'relaxed' : 'plain'] : ['plain'];
const suffix = (build: 'plain' | 'relaxed') => (build === defaultBuild ? '' : ` [${build} SIMD]`);
for (const d of [256, 512]) {
  const n = 10240;
  const first = numpy(n, d, true);
  const file = join(tmp, `h${n}x${d}.f32`);
  const H = first ? new Float32Array(readFileSync(file).buffer.slice(0)) : syntheticMatrix(n, d);
  const x = { data: H, rows: n, cols: d };
  const ours = new Map(builds.map((b) => [b, { all: [] as number[], gram: [] as number[] }]));
  const eig: number[] = [];
  const ref = { all: [] as number[], gram: [] as number[], eig: [] as number[] };
  const ranks = new Map<string, number>();
  let peak = rssMB();
  const G = new Float64Array(d * d);
  const shift = new Float64Array(d);
  for (let r = 0; r < rounds; r++) {
    const np = r === 0 ? first : numpy(n, d, false);
    if (np) {
      ref.all.push(np.gram_eigh_ms);
      ref.gram.push(np.gram_ms);
      ref.eig.push(np.eigvalsh64_ms);
    }
    for (const build of builds) {
      await useGramKernel(build);
      const t = ours.get(build)!;
      timeReps(
        () => {
          ranks.set(build, rankFromSpectrum(spectrum(x, { method: 'gram', center: 'feature' }), { threshold: 0.99 }));
        },
        reps,
        t.all,
      );
      peak = Math.max(peak, rssMB());
      timeReps(
        () => {
          G.fill(0);
          addRowGramF32(H, d, 0, n, shift, null, G, null);
        },
        reps,
        t.gram,
      );
    }
    timeReps(() => void symmetricEigenvalues(G, d), reps, eig);
    if (np && r === 0 && np.rank99 !== ranks.get(defaultBuild))
      console.warn(`rank differs from numpy: ours ${ranks.get(defaultBuild)}, numpy ${np.rank99}`);
  }
  await useGramKernel(defaultBuild);
  // The machine is shared: record how busy it was, since both timings move with it.
  const load = `1-min load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores; numpy BLAS: ${describeBlas(first?.blas)} (OPENBLAS_CORETYPE=${reference.blasCoretype ?? 'not set'})`;
  const withRef = (name: string, ms: number[], refName: string, refMs: number[], notes: string): BenchEntry => ({
    name,
    ms: Number(medianOf(ms).toFixed(2)),
    ...(refMs.length ? { reference: { name: refName, ms: Number(medianOf(refMs).toFixed(2)) } } : {}),
    notes: `${notes}; ${load}`,
  });
  for (const build of builds) {
    const t = ours.get(build)!;
    entries.push({
      ...withRef(
        `featureRank gram+eig ${n}x${d} f32${suffix(build)}`,
        t.all,
        'numpy Hc.T@Hc + eigvalsh (f32)',
        ref.all,
        `rank99=${ranks.get(build)}; centering, NaN check, float64 eigen-solve included; Gram kernel: ${build} SIMD`,
      ),
      peakMB: Number(peak.toFixed(0)),
      simd: build,
    });
    entries.push({
      ...withRef(
        `gram only ${n}x${d} f32 (wasm SIMD, f64 flush)${suffix(build)}`,
        t.gram,
        'numpy Hc.T@Hc (f32, incl. centering)',
        ref.gram,
        `upper triangle only; ${build} SIMD`,
      ),
      simd: build,
    });
  }
  entries.push(withRef(`eigenvalues ${d}x${d} f64`, eig, 'numpy eigvalsh (f64)', ref.eig, 'Householder (wasm f64x2) + implicit QL'));
}

if (process.env.SAMRANK_BENCH_PAPER_SCALE === '1') {
  // Block 3 of a width-64 ResNet-18 on 10 240 CIFAR images: 10240 × 16384. Stand-in features: ReLU of 16
  // latent factors with decaying scales plus noise (seeded), float32.
  const n = 10240;
  const d = 16384;
  const latent = 16;
  console.log(`paper scale ${n}x${d}: generating…`);
  let s = 2024;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const Z = Float32Array.from({ length: n * latent }, normal);
  const P = Float32Array.from({ length: latent * d }, (_, i) => normal() * 0.8 ** Math.floor(i / d));
  const H = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = H.subarray(i * d, (i + 1) * d);
    for (let t = 0; t < latent; t++) {
      const z = Z[i * latent + t]!;
      const pt = P.subarray(t * d, (t + 1) * d);
      for (let j = 0; j < d; j++) row[j]! += z * pt[j]!;
    }
    for (let j = 0; j < d; j++) row[j] = Math.max(row[j]!, 0) + 0.05 * (uniform() - 0.5);
  }
  console.log('paper scale: n×n Gram + eigen-solve (this takes minutes)…');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const spec = spectrum({ data: H, rows: n, cols: d }, { center: 'sample' });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const rank = rankFromSpectrum(spec, { threshold: 0.99, rule: 'original' });
  const load = loadavg()[0]!.toFixed(1);
  entries.push({
    name: `featureRank ${n}x${d} f32 (n×n Gram + eigen-solve, 'sample' centering)`,
    ms: Number(ms.toFixed(0)),
    peakMB: Number(rssMB().toFixed(0)),
    notes: `rank99=${rank} (rule original); method=${spec.method}; run once on ${new Date().toISOString().slice(0, 16)}Z; process CPU time ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s; 1-min load average at the end ${load}`,
  });
}

// The paper-scale case takes minutes, so it is only re-run on request; otherwise the figure recorded by the
// last run that measured it is kept in the results file (marked as such) instead of being dropped.
if (process.env.SAMRANK_BENCH_PAPER_SCALE !== '1') {
  const file = join(repoRoot, 'bench', 'results', 'rank.json');
  if (existsSync(file)) {
    const previous = JSON.parse(readFileSync(file, 'utf8')) as BenchEntry[];
    for (const e of previous) {
      if (e.name.startsWith('featureRank 10240x16384')) {
        const mark = ' [kept from an earlier run]';
        entries.push({ ...e, notes: (e.notes ?? '').replace(mark, '') + mark });
      }
    }
  }
}

rmSync(tmp, { recursive: true, force: true });
writeResults('rank', entries);
