#!/usr/bin/python3
"""numpy reference for the data bench: random crop (zero padding) + flip + per-channel normalization of
uint8 HWC batches, the same work as @samrank/data's trainBatchArrays. Prints one JSON line: median ms
per batch for each (size, batch) given on the command line as SIZE:BATCH:PADDING."""
import json
import sys
import time

import numpy as np

MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
STD = np.array([0.2023, 0.1994, 0.2010], dtype=np.float32)


def batch(images, idx, rng, pad):
    n, h, w, c = images.shape[0], images.shape[1], images.shape[2], images.shape[3]
    src = np.pad(images[idx], ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.empty((len(idx), h, w, c), dtype=np.uint8)
    tops = rng.integers(0, 2 * pad + 1, len(idx))
    lefts = rng.integers(0, 2 * pad + 1, len(idx))
    flips = rng.random(len(idx)) < 0.5
    for k in range(len(idx)):
        crop = src[k, tops[k]:tops[k] + h, lefts[k]:lefts[k] + w]
        out[k] = crop[:, ::-1] if flips[k] else crop
    return (out.astype(np.float32) / 255.0 - MEAN) / STD


def main():
    res = {}
    for spec in sys.argv[1:]:
        size, bs, pad = (int(x) for x in spec.split(':'))
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (2048, size, size, 3), dtype=np.uint8)
        times = []
        for r in range(7):
            idx = rng.permutation(2048)[:bs]
            t0 = time.perf_counter()
            batch(images, idx, rng, pad)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        res[spec] = times[len(times) // 2]
    print(json.dumps(res))


main()
