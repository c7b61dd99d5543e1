#!/usr/bin/env node
// Reruns every committed result under docs/results/ from the command it records and compares the runs.
//   npm run verify-results [-- --quick] [-- <folder> ...]
// --quick: only the teacher-student results (about a minute in all; what CI runs). Exit 0 when every rerun
// gives identical runs, 1 when one differs, 2 when a result cannot be rerun (no recorded command).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'packages', 'experiments', 'bin', 'samrank-repro.js');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--')).map((a) => resolve(a));

/** Every results.json under `dir`. */
function findResults(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findResults(path));
    else if (name === 'results.json') out.push(path);
  }
  return out.sort();
}

/** The first difference between two runs arrays, as text, or null. */
function firstDifference(a, b) {
  if (a.length !== b.length) return `${b.length} runs instead of ${a.length}`;
  for (let i = 0; i < a.length; i++) {
    const x = JSON.stringify(a[i]);
    const y = JSON.stringify(b[i]);
    if (x !== y) return `run ${i} (ρ ${a[i].rho}, seed ${a[i].seed}): committed ${x} — rerun ${y}`;
  }
  return null;
}

const files = findResults(join(root, 'docs', 'results')).filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)));
let failed = 0;
let unusable = 0;
let checked = 0;
for (const file of files) {
  const committed = JSON.parse(readFileSync(file, 'utf8'));
  const name = relative(root, dirname(file));
  if (quick && committed.experiment !== 'teacher-student') continue;
  if (!Array.isArray(committed.command)) {
    console.log(`✗ ${name}: records no command to rerun`);
    unusable++;
    continue;
  }
  const out = mkdtempSync(join(tmpdir(), 'samrank-verify-'));
  const t0 = Date.now();
  // The wasm kernels' fused (relaxed SIMD) and plain builds differ in the last bits: rerun with the build that made
  // the result (results without the field predate the fused build, so they are plain).
  const plain = (committed.kernels ?? 'plain') === 'plain';
  const run = spawnSync(process.execPath, [bin, ...committed.command, '--out', join(out, 'run'), '--json'], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: plain ? { ...process.env, SAMRANK_RELAXED_SIMD: '0' } : process.env,
  });
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  checked++;
  if (run.status !== 0) {
    console.log(`✗ ${name}: \`samrank-repro ${committed.command.join(' ')}\` exited ${run.status}: ${run.stderr.trim().split('\n').pop()}`);
    failed++;
  } else {
    const fresh = JSON.parse(readFileSync(join(out, 'run', 'results.json'), 'utf8'));
    const problems = [];
    if (fresh.backend !== committed.backend) problems.push(`backend ${fresh.backend}, committed ${committed.backend}`);
    if ((fresh.kernels ?? 'plain') !== (committed.kernels ?? 'plain')) {
      problems.push(`kernel build ${fresh.kernels}, committed ${committed.kernels} (this runtime has no relaxed SIMD)`);
    }
    if (JSON.stringify(fresh.config) !== JSON.stringify(committed.config)) problems.push('the config differs');
    const diff = firstDifference(committed.runs, fresh.runs);
    if (diff) problems.push(diff);
    const history = join(dirname(file), 'history.jsonl');
    if (existsSync(history) && readFileSync(history, 'utf8') !== readFileSync(join(out, 'run', 'history.jsonl'), 'utf8')) {
      problems.push('history.jsonl differs');
    }
    if (problems.length) {
      console.log(`✗ ${name} (${seconds} s): ${problems.join('; ')}`);
      failed++;
    } else {
      console.log(`✓ ${name}: ${fresh.runs.length} runs and the history identical (${seconds} s)`);
    }
  }
  rmSync(out, { recursive: true, force: true });
}
console.log(
  `verify-results: ${checked - failed} identical, ${failed} different, ${unusable} without a command${quick ? ' (--quick: teacher-student only)' : ''}`,
);
process.exit(unusable ? 2 : failed ? 1 : 0);
