"""Numba compilation flags for every hwsim kernel, kept in one place.

- ``fastmath`` stays off: it lets LLVM assume no NaN/Inf, which would delete the divergence
  guard (field case R2), and it licenses reassociation, which would make results depend on
  the compiler's choices rather than on the seed.
- ``parallel`` stays off: per-step work is small and kernels are serial, so results are
  bit-identical for any ``NUMBA_NUM_THREADS`` (field cases D3, R1).
- ``cache`` is opt-in via ``HWSIM_NUMBA_CACHE=1``: cached kernels have been seen to crash in
  multiprocessing sweeps, and compile time is a few seconds.
"""

import os

from numba import njit

CACHE = os.environ.get("HWSIM_NUMBA_CACHE", "0") == "1"
JIT_OPTIONS = dict(fastmath=False, parallel=False, cache=CACHE, nogil=True)


def jit(func):
    """Compile ``func`` with hwsim's production flags."""
    return njit(**JIT_OPTIONS)(func)
