/**
 * Seeded pseudo-random numbers for everything samrank draws outside tfjs kernels (data, example order,
 * augmentation, splits). xoshiro128** seeded through SplitMix32: fast, 2^128 period, and the same
 * stream on every platform, so the same seed gives the same experiment.
 */

export interface Rng {
  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number;
  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal draw (Box-Muller; the spare value is kept for the next call). */
  normal(): number;
  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(array: T[]): T[];
  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array;
  /** An independent stream derived from this one's seed and a label (for per-run or per-epoch draws). */
  fork(label: number | string): Rng;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function hashLabel(label: number | string): number {
  const text = String(label);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h;
}

export function createRng(seed: number): Rng {
  if (!Number.isInteger(seed)) {
    throw new TypeError(`seed must be an integer, got ${seed}`);
  }
  const init = splitmix32(seed);
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  if ((a | b | c | d) === 0) a = 1;
  let spare: number | undefined;

  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  const next = (): number => nextUint32() / 4294967296;

  const rng: Rng = {
    next,
    nextUint32,
    int(n: number): number {
      if (!(n >= 1) || !Number.isInteger(n)) throw new RangeError(`int(n) needs a positive integer n, got ${n}`);
      // Rejection sampling keeps every value equally likely for any n.
      const limit = 4294967296 - (4294967296 % n);
      let x = nextUint32();
      while (x >= limit) x = nextUint32();
      return x % n;
    },
    normal(): number {
      if (spare !== undefined) {
        const s = spare;
        spare = undefined;
        return s;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    shuffle<T>(array: T[]): T[] {
      for (let i = array.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const tmp = array[i]!;
        array[i] = array[j]!;
        array[j] = tmp;
      }
      return array;
    },
    permutation(n: number): Int32Array {
      const p = new Int32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const tmp = p[i]!;
        p[i] = p[j]!;
        p[j] = tmp;
      }
      return p;
    },
    fork(label: number | string): Rng {
      return createRng((Math.imul(seed, 0x9e3779b1) ^ hashLabel(label)) | 0);
    },
  };
  return rng;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
