/**
 * Per-channel broadcasting on wasm as XNNPACK depthwise 1×1 convolutions. `x[..., C] ⊙ v[C]` (Multiply), `+ v`
 * (Add) and `− v` (Sub) run in the stock kernels as generic broadcasting loops, 2–10× slower than a
 * same-shape op; BatchNorm's scale-and-shift and the gradients through it are exactly these patterns. As a
 * depthwise 1×1 conv with filter v (Multiply) or filter ±1 and bias v (Add/Sub) they are one vectorised pass.
 * The op-level gradients are untouched (these are kernels), so double backprop is unaffected.
 */
import { util, type KernelBackend, type KernelConfig, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { KernelCalls, markOwn } from './kernel-calls.js';

/** Below this many output elements the stock loop is as fast and skips the operator setup. */
const MIN_SIZE = 4096;

/** True if `small` broadcasts only along the last axis of `big` (shape [C], [1, C], [1, 1, 1, C], …). */
export function isChannelVector(big: readonly number[], small: readonly number[]): boolean {
  if (big.length < 2 || small.length === 0 || small.length > big.length) return false;
  const c = big[big.length - 1]!;
  if (small[small.length - 1] !== c) return false;
  return small.slice(0, -1).every((d) => d === 1) && util.sizeFromShape([...big]) >= MIN_SIZE;
}

type Kind = 'Multiply' | 'Add' | 'Sub';

/**
 * Rank of the shape stored with `t`'s data: a reshaped view ([H·D] of an [H, D] tensor) shares the data of the
 * tensor it came from, and the wasm kernels read the rank from there.
 */
function recordedRank(k: KernelCalls, t: TensorInfo): number {
  const map = (k.backend as unknown as { dataIdMap?: { get(id: object): { shape?: number[] } | undefined } }).dataIdMap;
  return map?.get(t.dataId)?.shape?.length ?? t.shape.length;
}

/** `big ⊙ small` as a depthwise conv on big viewed as [1, R, 1, C]; `smallFirst` makes Sub compute small − big. */
function depthwiseVia(k: KernelCalls, kind: Kind, big: TensorInfo, small: TensorInfo, smallFirst: boolean): TensorInfo {
  const c = big.shape[big.shape.length - 1]!;
  const rows = util.sizeFromShape(big.shape) / c;
  const image = k.reshape(big, [1, rows, 1, c]);
  const owned: TensorInfo[] = [image];
  const conv: NamedAttrMap = { strides: [1, 1], pad: 'valid', dilations: [1, 1], dataFormat: 'NHWC' };
  try {
    let out: TensorInfo;
    if (kind === 'Multiply') {
      const filter = k.reshape(small, [1, 1, c, 1]);
      owned.push(filter);
      out = k.run('DepthwiseConv2dNative', { x: image, filter }, conv);
    } else {
      // Add: big·1 + v. Sub: big − v = big·1 + (−v); v − big = big·(−1) + v.
      const sign = kind === 'Sub' && smallFirst ? -1 : 1;
      const filter = k.run('Fill', {}, { shape: [1, 1, c, 1], value: sign, dtype: 'float32' });
      owned.push(filter);
      let bias = k.reshape(small, [c]);
      owned.push(bias);
      // The kernel checks the bias rank recorded with the data, not the reshaped view: give it its own [C] data.
      if (kind === 'Sub' && !smallFirst) {
        bias = k.run('Neg', { x: bias });
        owned.push(bias);
      } else if (recordedRank(k, small) !== 1) {
        bias = k.runStock('Identity', { x: bias });
        owned.push(bias);
      }
      out = k.run('FusedDepthwiseConv2D', { x: image, filter, bias }, { ...conv, activation: 'linear' });
    }
    owned.push(out);
    return k.reshape(out, [...big.shape]);
  } finally {
    k.dispose(...owned);
  }
}

function broadcastConfig(kind: Kind, stock: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype === 'float32' && b.dtype === 'float32') {
      const k = new KernelCalls(backend as KernelBackend, stock.backendName);
      if (isChannelVector(a.shape, b.shape)) return depthwiseVia(k, kind, a, b, false);
      if (isChannelVector(b.shape, a.shape)) return depthwiseVia(k, kind, b, a, true);
    }
    return stock.kernelFunc({ inputs, attrs, backend });
  };
  const config: KernelConfig = { kernelName: kind, backendName: stock.backendName, kernelFunc };
  if (stock.setupFunc) config.setupFunc = stock.setupFunc;
  return markOwn(config);
}

/** wasm Multiply/Add/Sub replacements for per-channel broadcasting (everything else: stock). */
export function broadcastConfigs(stocks: { Multiply: KernelConfig; Add: KernelConfig; Sub: KernelConfig }): KernelConfig[] {
  return (['Multiply', 'Add', 'Sub'] as const).map((kind) => broadcastConfig(kind, stocks[kind]));
}
