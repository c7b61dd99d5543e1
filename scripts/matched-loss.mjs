#!/usr/bin/env node
// Compares each run's final value of metrics with the ρ = 0 run of the same seed at the moment that run was as well
// trained: the first evaluation of ρ = 0 whose training loss is at or below the other run's final training loss.
// A difference left at matched loss does not come from less training. Reads a result folder's history.jsonl.
//   node scripts/matched-loss.mjs docs/results/contrastive-small [lossKey=trainLoss] [metric ...]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, lossKey = 'trainLoss', ...asked] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node scripts/matched-loss.mjs <result folder> [lossKey] [metric ...]');
  process.exit(2);
}
const metrics = asked.length ? asked : ['imageRank', 'textRank', 'imagewiseError', 'textwiseError'];
const history = readFileSync(join(dir, 'history.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line));
const runs = new Map();
for (const h of history) {
  const key = `${h.seed}/${h.rho}`;
  if (!runs.has(key)) runs.set(key, []);
  runs.get(key).push(h);
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rhos = [...new Set(history.map((h) => h.rho))].sort((a, b) => a - b).filter((r) => r > 0);
const seeds = [...new Set(history.map((h) => h.seed))].sort((a, b) => a - b);
console.log(`| ρ | metric | final at ρ (median) | ρ = 0 at the same ${lossKey} (median) | differences by seed |`);
console.log('|---|---|---|---|---|');
for (const rho of rhos) {
  for (const metric of metrics) {
    const ours = [];
    const base = [];
    const diffs = [];
    for (const seed of seeds) {
      const run = runs.get(`${seed}/${rho}`);
      const zero = runs.get(`${seed}/0`);
      if (!run || !zero) continue;
      const last = run[run.length - 1];
      const match = zero.find((h) => h[lossKey] <= last[lossKey]) ?? zero[zero.length - 1];
      ours.push(last[metric]);
      base.push(match[metric]);
      diffs.push(`${Number((last[metric] - match[metric]).toFixed(2))} (step ${match.step})`);
    }
    console.log(`| ${rho} | ${metric} | ${Number(median(ours).toFixed(2))} | ${Number(median(base).toFixed(2))} | ${diffs.join(', ')} |`);
  }
}
