"""Which BLAS a numpy/PyTorch reference process runs, for the benchmark JSON: the shared libraries it loaded
(from /proc/self/maps) and, for OpenBLAS, the kernel family it chose (openblas_get_corename: 'SkylakeX',
'Haswell', or 'Prescott' when it fell back to generic kernels). Call it after the first matrix product."""
from __future__ import annotations

import ctypes


def blas_info() -> dict:
    try:
        with open("/proc/self/maps") as f:
            libraries = sorted({line.split()[-1] for line in f if "blas" in line.split()[-1].lower()})
    except OSError:
        return {"libraries": [], "openblas_core": None}
    core = None
    for path in libraries:
        if "openblas" in path:
            try:
                get = ctypes.CDLL(path).openblas_get_corename
                get.restype = ctypes.c_char_p
                core = get().decode()
                break
            except (OSError, AttributeError):
                pass
    return {"libraries": libraries, "openblas_core": core}
