/**
 * UnsortedSegmentSum for wasm, which tfjs-backend-wasm lacks. It is the gradient of Gather (`tf.gather`'s backward
 * pass scatters the output gradient back onto the gathered rows), so without it no model with an embedding table —
 * the BERT text tower — can train on wasm. Plain JavaScript over the tensors' values: the work is one pass over the
 * gradient, small beside the matrix products around it.
 */
import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { markOwn } from './kernel-calls.js';

/**
 * `out[s, …] = Σ x[i, …]` over the i with `segmentIds[i] = s`, for `segmentIds` indexing the leading dimensions of
 * `x` (flattened); ids outside [0, numSegments) are dropped, as the other backends do. Sums run in index order, in
 * float32 like the cpu backend.
 */
export function unsortedSegmentSum(
  x: Float32Array | Int32Array,
  ids: ArrayLike<number>,
  numSegments: number,
  inner: number,
): Float32Array | Int32Array {
  const out = x instanceof Int32Array ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i]!;
    if (!(s >= 0 && s < numSegments)) continue;
    const from = i * inner;
    const to = s * inner;
    for (let k = 0; k < inner; k++) out[to + k] = out[to + k]! + x[from + k]!;
  }
  return out;
}

/** The kernel config for `backendName` (wasm: its stock set has none). */
export function unsortedSegmentSumConfig(backendName: string): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
    const numSegments = (attrs as { numSegments: number }).numSegments;
    const b = backend as KernelBackend;
    const values = b.readSync(x.dataId) as Float32Array | Int32Array;
    const ids = b.readSync(segmentIds.dataId) as Int32Array;
    const inner = x.shape.slice(segmentIds.shape.length).reduce((p, d) => p * d, 1);
    const shape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
    const out = unsortedSegmentSum(values, ids, numSegments, inner);
    return { dataId: b.write(out, shape, x.dtype), shape, dtype: x.dtype };
  };
  return markOwn({ kernelName: 'UnsortedSegmentSum', backendName, kernelFunc });
}
