/**
 * @samrank/data benchmarks: the seeded RNG, the augmentation pipeline (batches/s) against a numpy
 * reference doing the same crop + flip + normalize, CIFAR record parsing and JPEG decoding.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rssMB, timeMedian, writeResults, type BenchEntry } from '../../../bench/lib.js';
import { CIFAR10_LAYOUT, encodeCifarBinary, parseCifarBinary } from '../src/cifar.js';
import { createPipeline } from '../src/pipeline.js';
import { createRng } from '@samrank/core';
import { randomImageSet, solidJpeg } from '../src/test-archives.js';
import { decodeJpegRgb } from '../src/tiny-imagenet.js';

const here = dirname(fileURLToPath(import.meta.url));
const entries: BenchEntry[] = [];

const n = 1_000_000;
entries.push({
  name: `createRng normal x ${n}`,
  ms: await timeMedian(() => {
    const rng = createRng(1);
    let s = 0;
    for (let i = 0; i < n; i++) s += rng.normal();
    return s;
  }),
});

function numpyReference(specs: string[]): Record<string, number> | undefined {
  if (!existsSync('/usr/bin/python3')) return undefined;
  try {
    const out = execFileSync('/usr/bin/python3', [join(here, 'augment_numpy.py'), ...specs], { encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>;
  } catch {
    return undefined;
  }
}

const cases = [
  { name: 'cifar10', size: 32, batch: 256, padding: 4 },
  { name: 'tiny-imagenet', size: 64, batch: 256, padding: 8 },
] as const;
const ref = numpyReference(cases.map((c) => `${c.size}:${c.batch}:${c.padding}`));
for (const c of cases) {
  const train = randomImageSet(2048, c.size, c.size, 3, 10, 1);
  const p = createPipeline({ name: c.name, numClasses: 10, train, test: train }, { seed: 0, validationFraction: 0 });
  let step = 0;
  const before = rssMB();
  const ms = await timeMedian(() => p.trainBatchArrays(0, step++ % p.stepsPerEpoch(c.batch), c.batch), 9, 2);
  const refMs = ref?.[`${c.size}:${c.batch}:${c.padding}`];
  entries.push({
    name: `augment batch ${c.batch}x${c.size}x${c.size}x3 (crop ${c.padding} + flip + norm)`,
    ms,
    peakMB: Math.round(Math.max(before, rssMB())),
    ...(refMs !== undefined ? { reference: { name: 'numpy (same ops)', ms: refMs } } : {}),
    notes: `${(1000 / ms).toFixed(1)} batches/s, ${((1000 / ms) * c.batch).toFixed(0)} images/s`,
  });
}

const cifarBytes = encodeCifarBinary(randomImageSet(10_000, 32, 32, 3, 10, 2), CIFAR10_LAYOUT);
entries.push({
  name: 'parseCifarBinary 10,000 records (one batch file)',
  ms: await timeMedian(() => parseCifarBinary(cifarBytes, CIFAR10_LAYOUT)),
});

const jpg = solidJpeg(120, 60, 200);
entries.push({
  name: 'decodeJpegRgb 64x64 x 1,000 (Tiny ImageNet first load)',
  ms: await timeMedian(() => {
    for (let i = 0; i < 1000; i++) decodeJpegRgb(jpg, 'bench.JPEG');
  }, 3),
});

writeResults('data', entries);
