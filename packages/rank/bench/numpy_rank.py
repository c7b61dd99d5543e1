"""numpy reference for packages/rank/bench/index.ts (run with Debian's /usr/bin/python3).

    numpy_rank.py N D REPS OUT_PREFIX [--write]

Builds a feature-like float32 matrix (relu of a random projection of 64-dim data plus noise, seed 0),
optionally writes it to OUT_PREFIX.f32 (raw little-endian float32, row-major) so the TypeScript side times
the identical input, then times what a numpy user would write for a 99% rank through the Gram matrix:
Hc = H - mean(H, 0); G = Hc.T @ Hc; eigvalsh(G) (float32 throughout), plus the Gram alone and eigvalsh of
the float64 Gram. Prints one JSON line of median milliseconds, the 99% rank and the BLAS library loaded.
"""
import json
from pathlib import Path
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from blas_info import blas_info  # noqa: E402

n, d, reps, prefix = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(0)
Z = rng.standard_normal((n, 64)).astype(np.float32)
P = rng.standard_normal((64, d)).astype(np.float32)
H = (np.maximum(Z @ P, 0) + 0.05 * rng.standard_normal((n, d)).astype(np.float32)).astype(np.float32)
if "--write" in sys.argv:
    H.tofile(prefix + ".f32")



def rank_from_var(var, thr=0.99):
    cum = np.cumsum(var, dtype=np.float64) / float(var.sum(dtype=np.float64))
    return int(np.searchsorted(cum, thr)) + 1


def gram_eigh():
    Hc = H - H.mean(axis=0, keepdims=True)
    G = Hc.T @ Hc
    return rank_from_var(np.linalg.eigvalsh(G)[::-1].clip(min=0))


def gram_only():
    Hc = H - H.mean(axis=0, keepdims=True)
    return Hc.T @ Hc


G64 = gram_only().astype(np.float64)


def eig64():
    return np.linalg.eigvalsh(G64)


def median_ms(fn):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)


print(json.dumps({
    "n": n, "d": d, "numpy": np.__version__,
    "gram_eigh_ms": median_ms(gram_eigh), "gram_ms": median_ms(gram_only), "eigvalsh64_ms": median_ms(eig64),
    "rank99": gram_eigh(), "blas": blas_info(),
}))
