/**
 * BatchMatMul for wasm that always lands on XNNPACK. The stock kernel uses XNNPACK only for a single
 * un-transposed product and otherwise runs a naive loop 15–50× slower; backprop through matMul always sets a
 * transpose flag. Transposes are materialised with the Transpose kernel, a batch that only the left operand
 * carries is folded into its rows (one big product), and other batches are sliced and multiplied one by one.
 */
import {
  broadcast_util,
  util,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { KernelArgumentError } from './errors.js';
import { KernelCalls, markOwn } from './kernel-calls.js';
import { newOutput, onHeap } from './wasm-kernels.js';

/**
 * Entry `i` of a [batch, r, c] tensor as [1, r, c]. On the wasm heap it is one contiguous copy: the stock Slice
 * kernel first reads the whole input out of the heap (`readSync`), which made the per-slice loop below quadratic in
 * the batch (attention's [batch·heads, T, T] weights: 95 % of a ViT block's time).
 */
function batchEntry(k: KernelCalls, t3: TensorInfo, i: number): TensorInfo {
  const [, r, c] = t3.shape as [number, number, number];
  const heap = onHeap(k.backend, [t3]);
  if (!heap) return k.slice(t3, [i, 0, 0], [1, r, c]);
  const { out, offset } = newOutput(k.backend, heap.memory, [1, r, c], false);
  const from = heap.offsets[0]! / 4 + i * r * c;
  // The view is made after newOutput, which may have grown (and replaced) the buffer; offsets stay valid.
  new Float32Array(heap.memory.buffer).copyWithin(offset / 4, from, from + r * c);
  return out;
}

function swapLastTwo(rank: number): number[] {
  const perm = [...Array(rank).keys()];
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/** Index into an operand's batch for flat output batch index `i` under numpy broadcasting. */
function broadcastIndex(i: number, outDims: number[], dims: number[]): number {
  let index = 0;
  let stride = 1;
  let rest = i;
  const offset = outDims.length - dims.length;
  const coords = new Array<number>(outDims.length);
  for (let d = outDims.length - 1; d >= 0; d--) {
    coords[d] = rest % outDims[d]!;
    rest = Math.floor(rest / outDims[d]!);
  }
  for (let d = dims.length - 1; d >= 0; d--) {
    const size = dims[d]!;
    const c = size === 1 ? 0 : coords[d + offset]!;
    index += c * stride;
    stride *= size;
  }
  return index;
}

/**
 * a·b (with optional transposes and broadcast batch dims) as un-transposed single products on the stock kernel.
 * `product(a2, b2)` must multiply rank-2 or batch-1 rank-3 operands.
 */
export function batchMatMulVia(
  k: KernelCalls,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  product: (a: TensorInfo, b: TensorInfo) => TensorInfo,
): TensorInfo {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new KernelArgumentError(`BatchMatMul: expected float32 tensors, got ${a.dtype} and ${b.dtype}`);
  }
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const kA = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kB = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (kA !== kB) {
    throw new KernelArgumentError(
      `matMul: inner dimensions ${kA} and ${kB} of shapes [${a.shape}] and [${b.shape}] (transposeA=${transposeA}, transposeB=${transposeB}) differ`,
    );
  }
  const dimsA = a.shape.slice(0, -2);
  const dimsB = b.shape.slice(0, -2);
  const outDims = broadcast_util.assertAndGetBroadcastShape(dimsA, dimsB);
  const batchA = util.sizeFromShape(dimsA);
  const batchB = util.sizeFromShape(dimsB);
  const batch = util.sizeFromShape(outDims);
  const outShape = [...outDims, m, n];
  const owned: TensorInfo[] = [];
  try {
    const a3 = k.reshape(a, [batchA, a.shape[ra - 2]!, a.shape[ra - 1]!]);
    owned.push(a3);
    const b3 = k.reshape(b, [batchB, b.shape[rb - 2]!, b.shape[rb - 1]!]);
    owned.push(b3);
    const aM = transposeA ? k.transpose(a3, [0, 2, 1]) : a3; // [batchA, m, k]
    if (aM !== a3) owned.push(aM);
    const bM = transposeB ? k.transpose(b3, [0, 2, 1]) : b3; // [batchB, k, n]
    if (bM !== b3) owned.push(bM);
    let out: TensorInfo;
    if (batchB === 1) {
      // Either no batch at all or a batch only on the left: fold it into the rows, one product.
      const a2 = k.reshape(aM, [batchA * m, kA]);
      owned.push(a2);
      const b2 = k.reshape(bM, [kA, n]);
      owned.push(b2);
      out = product(a2, b2);
    } else {
      const parts: TensorInfo[] = [];
      try {
        for (let i = 0; i < batch; i++) {
          const ia = broadcastIndex(i, outDims, dimsA);
          const ib = broadcastIndex(i, outDims, dimsB);
          const ai = batchEntry(k, aM, ia);
          const bi = batchEntry(k, bM, ib);
          try {
            parts.push(product(ai, bi));
          } finally {
            k.dispose(ai, bi);
          }
        }
        out = parts.length === 1 ? k.reshape(parts[0]!, [1, m, n]) : k.concat(parts, 0);
      } finally {
        k.dispose(...parts);
      }
    }
    const result = k.reshape(out, outShape);
    k.dispose(out);
    return result;
  } finally {
    k.dispose(...owned);
  }
}

/** wasm BatchMatMul replacement: every case runs on the stock XNNPACK path. */
export function batchMatMulConfig(stock: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const batchA = util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = util.sizeFromShape(b.shape.slice(0, -2));
    if (!transposeA && !transposeB && batchA === 1 && batchB === 1) {
      return stock.kernelFunc({ inputs, attrs, backend });
    }
    const k = new KernelCalls(backend as KernelBackend, stock.backendName);
    const flat: NamedAttrMap = { transposeA: false, transposeB: false };
    return batchMatMulVia(
      k,
      a,
      b,
      transposeA,
      transposeB,
      (x, y) => stock.kernelFunc({ inputs: { a: x, b: y }, attrs: flat, backend }) as TensorInfo,
    );
  };
  const config: KernelConfig = { kernelName: 'BatchMatMul', backendName: stock.backendName, kernelFunc };
  if (stock.setupFunc) config.setupFunc = stock.setupFunc;
  return markOwn(config);
}

/**
 * wasm _FusedMatMul replacement: transposes are materialised so that the stock fused kernel (bias and
 * activation applied in the same pass) gets un-transposed operands.
 */
export function fusedMatMulConfig(stock: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return stock.kernelFunc({ inputs, attrs, backend });
    const k = new KernelCalls(backend as KernelBackend, stock.backendName);
    const aM = transposeA ? k.transpose(a, swapLastTwo(a.shape.length)) : a;
    const bM = transposeB ? k.transpose(b, swapLastTwo(b.shape.length)) : b;
    try {
      return stock.kernelFunc({
        inputs: { ...inputs, a: aM, b: bM },
        attrs: { ...attrs, transposeA: false, transposeB: false },
        backend,
      });
    } finally {
      if (aM !== a) k.dispose(aM);
      if (bM !== b) k.dispose(bM);
    }
  };
  const config: KernelConfig = { kernelName: '_FusedMatMul', backendName: stock.backendName, kernelFunc };
  if (stock.setupFunc) config.setupFunc = stock.setupFunc;
  return markOwn(config);
}
