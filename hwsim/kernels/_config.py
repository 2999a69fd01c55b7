"""Numba compilation flags for every hwsim kernel, kept in one place.

- ``fastmath`` stays off: it lets LLVM assume no NaN/Inf, which would delete the divergence
  guard (field case R2), and reassociation would make results depend on the compiler's
  choices rather than on the seed. Dot products reach SIMD speed without it through explicit
  partial sums in a fixed order over unsigned offsets (:mod:`hwsim.kernels.mlp`).
- ``parallel`` stays off: kernels are serial, so results are bit-identical for any
  ``NUMBA_NUM_THREADS`` (field cases D3, R1).
- ``cache`` is on: compiled kernels are written next to the installed package's sources
  (``hwsim/kernels/__pycache__``, or Numba's per-user cache folder when that is read-only).
  Numba keys each entry by the source file's stamp and its own version, so every hwsim
  version has its own entries, and it writes index and data files under temporary names then
  renames them, so processes that start together cannot read a torn entry. Kernels take no
  function objects, only arrays, scalars and named tuples, which is what makes the on-disk
  entries reusable by the next process. ``HWSIM_NUMBA_CACHE=0`` switches caching off.
"""

import os

from numba import njit

CACHE = os.environ.get("HWSIM_NUMBA_CACHE", "1") != "0"
JIT_OPTIONS = dict(fastmath=False, parallel=False, cache=CACHE, nogil=True)


def jit(func):
    """Compile ``func`` with hwsim's production flags."""
    return njit(**JIT_OPTIONS)(func)


def inline(func):
    """Compile a stage helper with the production flags, inlined into its callers at the Numba
    IR level: an ordinary call copies array structs and updates reference counts on every
    call, which costs more than a small stage's work."""
    return njit(inline="always", **JIT_OPTIONS)(func)
