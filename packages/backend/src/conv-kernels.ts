/**
 * The Conv2D kernels this package installs: the forward pass on wasm (Winograd where it applies, else the stock
 * kernel) and both gradients, written as forward convolutions where no own kernel applies, so they run on the
 * backend's fastest kernel (XNNPACK on wasm).
 *
 * - Filter gradient: on wasm, Winograd for 3×3 stride-1 pad-1 layers (winograd-wasm.ts), else a direct SIMD
 *   kernel when the channel counts allow (conv-grads-wasm.ts); RGB stems are zero-padded to 4 channels for
 *   either; otherwise
 *   dW[kh,kw,c,co] = Σ_{n,i,j} x[n, i·s+kh−top, j·s+kw−left, c] · dy[n,i,j,co]. Treat x as a
 *   batch of C single-channel-per-sample images [C,H,W,N] and dy as a filter [Ho,Wo,N,Co] dilated by the stride:
 *   a stride-1 convolution of the two gives [C,KH,KW,Co].
 * - Input gradient: the transposed convolution equals a stride-1 convolution of dy zero-dilated by the stride
 *   with the filter reversed on both spatial axes and its channel axes swapped. For strides > 1 on large layers
 *   the output is split into stride² phases instead, each a stride-1 convolution with a sub-filter, so no
 *   multiply-adds are spent on the inserted zeros.
 */
import {
  backend_util,
  type Conv2DAttrs,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropInputAttrs,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { wasmFilterGrad, wasmInputGrad } from './conv-grads-wasm.js';
import { KernelArgumentError } from './errors.js';
import { KernelCalls, markOwn } from './kernel-calls.js';
import { winogradApplies, winogradConv, winogradFilterGrad } from './winograd-wasm.js';

type Pad = Conv2DBackpropFilterAttrs['pad'];

function toNHWC(k: KernelCalls, t: TensorInfo, dataFormat: string): TensorInfo {
  return dataFormat === 'NCHW' ? k.transpose(t, [0, 2, 3, 1]) : t;
}

function assertFloat(name: string, ...ts: TensorInfo[]): void {
  for (const t of ts) {
    if (t.dtype !== 'float32') throw new KernelArgumentError(`${name}: expected float32 tensors, got ${t.dtype}`);
  }
}

/** `c` rounded up to a multiple of 4: the channel count the own kernels pad an RGB stem to. */
function channelsPadded(c: number): number {
  return Math.ceil(c / 4) * 4;
}

/**
 * Runs a filter-gradient kernel that needs C % 4 == 0; a channel count that is not (an RGB stem) is zero-padded
 * first (a copy of x a third larger, far cheaper than the forward-convolution form) and the gradient of the
 * padding sliced off. Null when the kernel declines.
 */
function filterGradChannelsPadded(
  k: KernelCalls,
  x: TensorInfo,
  dy: TensorInfo,
  kh: number,
  kw: number,
  run: (x: TensorInfo) => TensorInfo | null,
): TensorInfo | null {
  const c = x.shape[3]!;
  if (c % 4 === 0) return run(x);
  if (x.dtype !== 'float32') return null;
  const padded = k.pad(x, [
    [0, 0],
    [0, 0],
    [0, 0],
    [0, channelsPadded(c) - c],
  ]);
  let dw: TensorInfo | null;
  try {
    dw = run(padded);
  } finally {
    k.dispose(padded);
  }
  if (!dw) return null;
  const sliced = k.slice(dw, [0, 0, 0, 0], [kh, kw, c, dy.shape[3]!]);
  k.dispose(dw);
  return sliced;
}

/** The attributes both Conv2D gradient kernels take, besides the shape of what they produce. */
interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Filter gradient of a 2-D convolution (NHWC or NCHW) computed with one forward Conv2D. */
export function conv2DBackpropFilterVia(
  k: KernelCalls,
  x: TensorInfo,
  dy: TensorInfo,
  attrs: ConvGradAttrs & { filterShape: [number, number, number, number] },
): TensorInfo {
  assertFloat('Conv2DBackpropFilter', x, dy);
  const xh = toNHWC(k, x, attrs.dataFormat);
  const dyh = toNHWC(k, dy, attrs.dataFormat);
  try {
    const [kh, kw, inC, outC] = attrs.filterShape;
    const info = backend_util.computeConv2DInfo(
      xh.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    const [, h, w] = xh.shape as number[];
    const [, ho, wo] = dyh.shape as number[];
    if (info.outHeight !== ho || info.outWidth !== wo || (dyh.shape[3] ?? -1) !== outC || (xh.shape[3] ?? -1) !== inC) {
      throw new KernelArgumentError(
        `Conv2DBackpropFilter: dy shape [${dyh.shape}] does not match x [${xh.shape}] and filter [${attrs.filterShape}]`,
      );
    }
    const { top, left } = info.padInfo;
    const sh = info.strideHeight;
    const sw = info.strideWidth;
    if (k.backendName === 'wasm' && winogradApplies(info, channelsPadded(inC), outC)) {
      const dw = filterGradChannelsPadded(k, xh, dyh, kh, kw, (xp) => winogradFilterGrad(k.backend, xp, dyh));
      if (dw) return dw;
    }
    if (k.backendName === 'wasm' && outC % 8 === 0) {
      const g = { kh, kw, strideHeight: sh, strideWidth: sw, top, left };
      const direct = filterGradChannelsPadded(k, xh, dyh, kh, kw, (xp) => wasmFilterGrad(k.backend, xp, dyh, g));
      if (direct) return direct;
    }
    // Pad bottom/right so that the output covers the filter; when the forward conv ignored trailing rows the
    // output is larger and gets sliced.
    const bottom = Math.max(0, kh + (ho - 1) * sh - h! - top);
    const right = Math.max(0, kw + (wo - 1) * sw - w! - left);
    const xT = k.transpose(xh, [3, 1, 2, 0]); // [C,H,W,N]
    const dyT = k.transpose(dyh, [1, 2, 0, 3]); // [Ho,Wo,N,Co]
    let conv: TensorInfo;
    try {
      conv = k.run(
        'Conv2D',
        { x: xT, filter: dyT },
        {
          strides: [1, 1],
          pad: [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ],
          dilations: [sh, sw],
          dataFormat: 'NHWC',
        },
      ); // [C, >=KH, >=KW, Co]
    } finally {
      k.dispose(xT, dyT);
    }
    let cropped = conv;
    if (conv.shape[1] !== kh || conv.shape[2] !== kw) {
      cropped = k.slice(conv, [0, 0, 0, 0], [inC, kh, kw, outC]);
      k.dispose(conv);
    }
    const dw = k.transpose(cropped, [1, 2, 0, 3]);
    k.dispose(cropped);
    return dw;
  } finally {
    if (xh !== x) k.dispose(xh);
    if (dyh !== dy) k.dispose(dyh);
  }
}

/** Geometry of one output phase (rows y ≡ p mod s) of a strided transposed convolution along one axis. */
interface Phase {
  /** First filter tap of this phase (taps r, r+s, …). */
  r: number;
  /** Number of taps. */
  taps: number;
  /** Output rows of this phase. */
  rows: number;
  /** Zero rows before/after dy (negative: crop dy). */
  before: number;
  after: number;
}

function phaseOf(p: number, s: number, top: number, k: number, outLen: number, inLen: number): Phase {
  // dx[s·m + p] = Σ_a dy[m + q − a] · w[r + s·a] with p + top = s·q + r: a stride-1 correlation of dy with the
  // reversed sub-filter, dy padded by taps − 1 − q before.
  const r = (p + top) % s;
  const q = Math.floor((p + top) / s);
  const taps = r < k ? Math.ceil((k - r) / s) : 0;
  const rows = p < inLen ? Math.ceil((inLen - p) / s) : 0;
  const before = taps - 1 - q;
  const after = rows + taps - 1 - outLen - before;
  return { r, taps, rows, before, after };
}

/**
 * Input gradient for strides > 1 without multiplying zeros: output pixel (y, x) only meets filter taps with
 * kh ≡ y + top (mod sh), so each of the sh·sw phases is a stride-1 convolution of dy with a sub-filter, and
 * the phases interleave into dx. The zero-dilation form does sh·sw times the arithmetic.
 */
function conv2DBackpropInputPhases(
  k: KernelCalls,
  dyh: TensorInfo,
  filter: TensorInfo,
  xShape: [number, number, number, number],
  sh: number,
  sw: number,
  top: number,
  left: number,
): TensorInfo {
  const [n, h, w, c] = xShape;
  const [kh, kw, , co] = filter.shape as [number, number, number, number];
  const [, ho, wo] = dyh.shape as [number, number, number, number];
  const mh = Math.ceil(h / sh);
  const mw = Math.ceil(w / sw);
  const owned: TensorInfo[] = [];
  try {
    const rowsOfPhases: TensorInfo[] = [];
    for (let ph = 0; ph < sh; ph++) {
      const pr = phaseOf(ph, sh, top, kh, ho, h);
      const cols: TensorInfo[] = [];
      for (let pw = 0; pw < sw; pw++) {
        const pc = phaseOf(pw, sw, left, kw, wo, w);
        let part: TensorInfo;
        if (pr.taps === 0 || pc.taps === 0 || pr.rows === 0 || pc.rows === 0) {
          part = k.run('Fill', {}, { shape: [n, mh, mw, c], value: 0, dtype: 'float32' });
        } else {
          const sub = k.run(
            'StridedSlice',
            { x: filter },
            {
              begin: [pr.r, pc.r, 0, 0],
              end: [kh, kw, c, co],
              strides: [sh, sw, 1, 1],
              beginMask: 0,
              endMask: 0,
              ellipsisMask: 0,
              newAxisMask: 0,
              shrinkAxisMask: 0,
            },
          );
          const rev = k.run('Reverse', { x: sub }, { dims: [0, 1] });
          const flipped = k.transpose(rev, [0, 1, 3, 2]); // [taps_h, taps_w, Co, C]
          k.dispose(sub, rev);
          let src = dyh;
          const cropTop = Math.max(0, -pr.before);
          const cropLeft = Math.max(0, -pc.before);
          const cropBottom = Math.max(0, -pr.after);
          const cropRight = Math.max(0, -pc.after);
          if (cropTop + cropLeft + cropBottom + cropRight > 0) {
            src = k.slice(dyh, [0, cropTop, cropLeft, 0], [n, ho - cropTop - cropBottom, wo - cropLeft - cropRight, co]);
          }
          const conv = k.run(
            'Conv2D',
            { x: src, filter: flipped },
            {
              strides: [1, 1],
              pad: [
                [0, 0],
                [Math.max(0, pr.before), Math.max(0, pr.after)],
                [Math.max(0, pc.before), Math.max(0, pc.after)],
                [0, 0],
              ],
              dilations: [1, 1],
              dataFormat: 'NHWC',
            },
          ); // [N, rows_h, rows_w, C]
          k.dispose(flipped);
          if (src !== dyh) k.dispose(src);
          if (pr.rows < mh || pc.rows < mw) {
            part = k.pad(conv, [
              [0, 0],
              [0, mh - pr.rows],
              [0, mw - pc.rows],
              [0, 0],
            ]);
            k.dispose(conv);
          } else {
            part = conv;
          }
        }
        const part5 = k.reshape(part, [n, mh, 1, mw, 1, c]);
        k.dispose(part);
        cols.push(part5);
      }
      const row = cols.length === 1 ? cols[0]! : k.concat(cols, 4); // [N, mh, 1, mw, sw, C]
      if (row !== cols[0]) k.dispose(...cols);
      rowsOfPhases.push(row);
      owned.push(row);
    }
    const all = rowsOfPhases.length === 1 ? rowsOfPhases[0]! : k.concat(rowsOfPhases, 2); // [N, mh, sh, mw, sw, C]
    if (all !== rowsOfPhases[0]) owned.push(all);
    const full = k.reshape(all, [n, mh * sh, mw * sw, c]);
    if (mh * sh === h && mw * sw === w) return full;
    owned.push(full);
    return k.slice(full, [0, 0, 0, 0], [n, h, w, c]);
  } finally {
    k.dispose(...owned);
  }
}

/**
 * Input gradient of a 2-D convolution: on wasm the direct kernel when C % 8 == 0 (`'direct'`; conv-grads-wasm.ts),
 * otherwise forward Conv2Ds, or undefined when that geometry needs negative padding (explicit pads larger than
 * the filter), which the caller then hands to the stock kernel. Strides > 1 use the phase split (`'phases'`) or
 * the zero-dilated dy (`'dilate'`); `'auto'` takes the direct kernel for strided layers where it applies and
 * otherwise picks by size.
 */
export function conv2DBackpropInputVia(
  k: KernelCalls,
  dy: TensorInfo,
  filter: TensorInfo,
  attrs: ConvGradAttrs & { inputShape: [number, number, number, number] },
  strided: 'auto' | 'direct' | 'phases' | 'dilate' = 'auto',
): TensorInfo | undefined {
  assertFloat('Conv2DBackpropInput', dy, filter);
  const nchw = attrs.dataFormat === 'NCHW';
  const inShape = attrs.inputShape;
  const xShape: [number, number, number, number] = nchw ? [inShape[0], inShape[2], inShape[3], inShape[1]] : inShape;
  const fShape = filter.shape as [number, number, number, number];
  const info = backend_util.computeConv2DInfo(xShape, fShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const [kh, kw] = fShape;
  const [, h, w] = xShape;
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  const ho = info.outHeight;
  const wo = info.outWidth;
  const { top, left } = info.padInfo;
  const padTop = kh - 1 - top;
  const padLeft = kw - 1 - left;
  // The zero-dilated dy already carries stride−1 trailing zeros per axis; they count towards the bottom pad.
  const padBottom = h + top - (ho - 1) * sh - 1 - (sh - 1);
  const padRight = w + left - (wo - 1) * sw - 1 - (sw - 1);
  // Stride 1 is a plain convolution, where XNNPACK is as fast or up to 1.3x faster from 8×8 maps up; the direct
  // kernel takes strided layers, pads the forward-convolution form cannot express, and maps of at most 16
  // pixels, where XNNPACK's padded convolution computes mostly padding (2x slower than direct at 4×4, 1 and
  // 2 threads, widths 16 and 64).
  const auto = sh > 1 || sw > 1 || padTop < 0 || padLeft < 0 || h! * w! <= 16;
  // The kernel tiles 8 input channels; decide before transposing the filter for it.
  const tiles = xShape[3] % 8 === 0;
  if (strided === 'direct' && !tiles)
    throw new KernelArgumentError(`Conv2DBackpropInput: the direct kernel needs C % 8 == 0, got ${xShape[3]}`);
  const direct = k.backendName === 'wasm' && tiles && (strided === 'direct' || (strided === 'auto' && auto));
  if ((padTop < 0 || padLeft < 0) && !direct) return undefined;
  const dyh = toNHWC(k, dy, attrs.dataFormat);
  if (dyh.shape[1] !== ho || dyh.shape[2] !== wo || dyh.shape[3] !== fShape[3]) {
    if (dyh !== dy) k.dispose(dyh);
    throw new KernelArgumentError(`Conv2DBackpropInput: dy shape [${dy.shape}] does not match input [${inShape}] and filter [${fShape}]`);
  }
  const owned: TensorInfo[] = [];
  if (dyh !== dy) owned.push(dyh);
  try {
    // 3×3 stride-1 pad-1 layers: Winograd (2.25× fewer multiply-adds), a forward pass of dy with the reversed filter.
    if (k.backendName === 'wasm' && strided === 'auto' && winogradApplies(info, fShape[3], xShape[3])) {
      const dx = winogradConv(k.backend, dyh, filter, true);
      if (dx) {
        if (!nchw) return dx;
        const out = k.transpose(dx, [0, 3, 1, 2]);
        k.dispose(dx);
        return out;
      }
    }
    if (direct) {
      const filterT = k.transpose(filter, [0, 1, 3, 2]);
      owned.push(filterT);
      const dx = wasmInputGrad(k.backend, dyh, filterT, xShape, { kh, kw, strideHeight: sh, strideWidth: sw, top, left });
      if (dx) {
        if (!nchw) return dx;
        const out = k.transpose(dx, [0, 3, 1, 2]);
        k.dispose(dx);
        return out;
      }
      if (strided === 'direct')
        throw new KernelArgumentError('Conv2DBackpropInput: the direct kernel needs float32 tensors on the wasm heap');
      if (padTop < 0 || padLeft < 0) return undefined;
    }
    // The phase split costs a few extra kernel launches and copies; it pays off from roughly 2e8 multiply-adds
    // (measured: 1.3–2.4× faster at batch 128, 2× slower at batch 16 with 16×16 inputs).
    const work = xShape[0] * xShape[1] * xShape[2] * xShape[3] * fShape[3] * kh * kw;
    const phases = strided === 'phases' || (strided === 'auto' && work >= 2e8);
    if ((sh > 1 || sw > 1) && phases) {
      const dx = conv2DBackpropInputPhases(k, dyh, filter, xShape, sh, sw, top, left);
      if (!nchw) return dx;
      const out = k.transpose(dx, [0, 3, 1, 2]);
      k.dispose(dx);
      return out;
    }
    let src = dyh;
    const n = xShape[0];
    const co = fShape[3];
    if (sh > 1 || sw > 1) {
      const r6 = k.reshape(dyh, [n, ho, 1, wo, 1, co]);
      owned.push(r6);
      const padded = k.pad(r6, [
        [0, 0],
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, sw - 1],
        [0, 0],
      ]);
      owned.push(padded);
      src = k.reshape(padded, [n, ho * sh, wo * sw, co]);
      owned.push(src);
    }
    // Negative trailing pads mean the dilated dy is longer than needed: crop instead.
    if (padBottom < 0 || padRight < 0) {
      const cropH = (src.shape[1] as number) + Math.min(0, padBottom);
      const cropW = (src.shape[2] as number) + Math.min(0, padRight);
      src = k.slice(src, [0, 0, 0, 0], [n, cropH, cropW, co]);
      owned.push(src);
    }
    const rev = k.run('Reverse', { x: filter }, { dims: [0, 1] });
    owned.push(rev);
    const flipped = k.transpose(rev, [0, 1, 3, 2]); // [KH,KW,Co,C]
    owned.push(flipped);
    const dx = k.run(
      'Conv2D',
      { x: src, filter: flipped },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [padTop, Math.max(0, padBottom)],
          [padLeft, Math.max(0, padRight)],
          [0, 0],
        ],
        dilations: [1, 1],
        dataFormat: 'NHWC',
      },
    );
    if (!nchw) return dx;
    const out = k.transpose(dx, [0, 3, 1, 2]);
    k.dispose(dx);
    return out;
  } finally {
    k.dispose(...owned);
  }
}

/** Kernel config computing Conv2DBackpropFilter with a forward Conv2D on `backendName`. */
export function conv2DBackpropFilterConfig(backendName: string): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as Conv2DBackpropFilterAttrs;
    return conv2DBackpropFilterVia(new KernelCalls(backend as KernelBackend, backendName), x, dy, {
      strides: a.strides,
      pad: a.pad,
      dataFormat: a.dataFormat,
      dimRoundingMode: a.dimRoundingMode,
      filterShape: a.filterShape,
    });
  };
  return markOwn({ kernelName: 'Conv2DBackpropFilter', backendName, kernelFunc });
}

/** Kernel config computing Conv2DBackpropInput with a forward Conv2D on `backendName` (stock kernel for odd pads). */
export function conv2DBackpropInputConfig(backendName: string, stock: KernelConfig | undefined): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as Conv2DBackpropInputAttrs;
    const k = new KernelCalls(backend as KernelBackend, backendName);
    const out = conv2DBackpropInputVia(k, dy, filter, {
      strides: a.strides,
      pad: a.pad,
      dataFormat: a.dataFormat,
      dimRoundingMode: a.dimRoundingMode,
      inputShape: a.inputShape,
    });
    if (out) return out;
    if (!stock) throw new KernelArgumentError('Conv2DBackpropInput: padding larger than the filter and no stock kernel to fall back on');
    return stock.kernelFunc({ inputs, attrs, backend });
  };
  const config: KernelConfig = { kernelName: 'Conv2DBackpropInput', backendName, kernelFunc };
  if (stock?.setupFunc) config.setupFunc = stock.setupFunc;
  return markOwn(config);
}

/**
 * Kernel config for Conv2D on wasm: 3×3 stride-1 pad-1 NHWC convolutions with C % 4 == 0 and Co % 8 == 0 run
 * as Winograd F(2×2, 3×3) (winograd-wasm.ts); every other convolution runs the stock (XNNPACK) kernel.
 */
export function conv2DConfig(stock: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as Conv2DAttrs;
    if (
      a.dataFormat !== 'NCHW' &&
      x.dtype === 'float32' &&
      filter.dtype === 'float32' &&
      x.shape.length === 4 &&
      filter.shape.length === 4
    ) {
      const info = backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        filter.shape as [number, number, number, number],
        a.strides,
        a.dilations,
        a.pad,
        a.dimRoundingMode,
        false,
        'channelsLast',
      );
      // A (dilated) filter larger than the padded input leaves no output pixel: the stock wasm kernel then reads
      // out of bounds and corrupts the heap, the cpu one fails allocating a negative length.
      if (info.outHeight <= 0 || info.outWidth <= 0) {
        throw new KernelArgumentError(
          `Conv2D: the ${info.effectiveFilterHeight}×${info.effectiveFilterWidth} filter (dilations included) is larger than the padded ${info.inHeight}×${info.inWidth} input: no output pixels`,
        );
      }
      // RGB stems (C = 3) stay on XNNPACK: zero-padded to 4 channels, Winograd measured 1.2–1.4× slower there
      // (the transforms outweigh 3-channel products).
      if (x.shape[3] === filter.shape[2] && winogradApplies(info, info.inChannels, info.outChannels)) {
        const y = winogradConv(backend as KernelBackend, x, filter, false);
        if (y) return y;
      }
    }
    return stock.kernelFunc({ inputs, attrs, backend });
  };
  const config: KernelConfig = { kernelName: 'Conv2D', backendName: 'wasm', kernelFunc };
  if (stock.setupFunc) config.setupFunc = stock.setupFunc;
  return markOwn(config);
}
