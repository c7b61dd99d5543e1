/**
 * Feature rank of a low-rank-plus-noise matrix, the two rank rules, the three centerings, streaming,
 * the other spectral probes and the active-unit counts.
 *
 *   npx tsx examples/rank-low-rank-matrix.ts      (build @samrank/rank first: cd packages/rank && npx tsup)
 */
import {
  ACTIVE_UNIT_PRESETS,
  RankAccumulator,
  activeUnits,
  effectiveRank,
  featureRank,
  numericalRank,
  participationRatio,
  rankFromSpectrum,
  rankMe,
  spectrum,
  stableRank,
} from '@samrank/rank';

// A seeded 2000 × 256 float32 matrix: 12 latent factors with decaying scales, a ReLU, a little noise.
let state = 12345;
const uniform = () => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return (state + 0.5) / 4294967296;
};
const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
const n = 2000;
const d = 256;
const k = 12;
const Z = Float64Array.from({ length: n * k }, normal);
const W = Float64Array.from({ length: k * d }, (_, i) => normal() * 0.7 ** Math.floor(i / d));
const data = new Float32Array(n * d);
for (let i = 0; i < n; i++) {
  for (let j = 0; j < d; j++) {
    let v = 0;
    for (let t = 0; t < k; t++) v += Z[i * k + t]! * W[t * d + j]!;
    data[i * d + j] = Math.max(v, 0) + 0.01 * normal();
  }
}
const H = { data, rows: n, cols: d };

console.log(`matrix ${n} × ${d}, built from ${k} latent factors (then ReLU + noise)`);
for (const center of ['feature', 'sample', 'none'] as const) {
  const spec = spectrum(H, { center });
  const ranks = [0.9, 0.99, 0.999].map((p) => rankFromSpectrum(spec, { threshold: p }));
  console.log(`center=${center.padEnd(7)} ranks at 90/99/99.9 %: ${ranks.join(' / ')}   (${spec.method})`);
}

// The paper's code counts cumulative ratios ≤ p and adds one (a strict '>'); the default counts '≥'.
// They differ only on exact ties, e.g. σ² = (50, 30, 15, 4, 1) at p = 0.95:
console.log(
  `tie at p=0.95: atLeast → ${rankFromSpectrum([50, 30, 15, 4, 1], { threshold: 0.95 })}, original → ${rankFromSpectrum([50, 30, 15, 4, 1], { threshold: 0.95, rule: 'original' })}`,
);

// Streaming: 10 batches of 200 rows give the same rank as the one-shot call.
const acc = new RankAccumulator(d, { center: 'sample' });
for (let r = 0; r < n; r += 200) acc.add({ data: data.subarray(r * d, (r + 200) * d), rows: 200, cols: d });
console.log(`streamed 'sample' 99 % rank: ${acc.featureRank()}  one-shot: ${featureRank(H, { center: 'sample' })}`);

const spec = spectrum(H);
console.log(
  `effective rank (p∝σ) ${effectiveRank(spec).toFixed(2)}, (p∝σ²) ${effectiveRank(spec, { weights: 'sigma2' }).toFixed(2)}, ` +
    `RankMe ${rankMe(spec).toFixed(2)}, stable rank ${stableRank(spec).toFixed(2)}, participation ratio ${participationRatio(spec).toFixed(2)}, ` +
    `numerical rank ${numericalRank(spec)}`,
);
console.log(
  `active units: ReLU ${activeUnits(H, ACTIVE_UNIT_PRESETS.relu)} / ${d}, post-act ResNet (> max/20) ${activeUnits(H, ACTIVE_UNIT_PRESETS.postActResNet)}, ` +
    `GeLU-style (> max/10 on > 1 %) ${activeUnits(H, ACTIVE_UNIT_PRESETS.gelu)}`,
);
