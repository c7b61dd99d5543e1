/**
 * `npm run bench`: the kernel benchmarks (./kernels.ts: stock vs replacement kernels, 1 and 2 wasm threads) and
 * the wasm multiply-add peak of this machine (./roofline.ts), written to bench/results/backend.json.
 * Environment: SAMRANK_BENCH_QUICK=1 (small shapes).
 */
import * as tf from '@tensorflow/tfjs-core';
import { writeResults } from '../../../bench/lib.js';
import { benchKernels } from './kernels.js';
import { peakEntry } from './roofline.js';

const entries = await benchKernels();
// benchKernels leaves the single-threaded wasm backend active.
if (tf.getBackend() !== 'wasm') throw new Error('bench: expected the wasm backend to be active');
entries.push(peakEntry());
writeResults('backend', entries);
