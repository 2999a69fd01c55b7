"""Numba compilation flags for every hwsim kernel, kept in one place.

- ``fastmath`` stays off: it lets LLVM assume no NaN/Inf, which would delete the divergence
  guard (field case R2), and reassociation would make results depend on the compiler's
  choices rather than on the seed. Dot products reach SIMD speed without it through explicit
  partial sums in a fixed order over unsigned offsets (:mod:`hwsim.kernels.mlp`).
- ``parallel`` stays off: kernels are serial, so results are bit-identical for any
  ``NUMBA_NUM_THREADS`` (field cases D3, R1).
- ``cache`` is on. Numba checks a cached entry only against its own source file, not the
  files of the kernels it calls, so a changed device kernel would be served stale inside the
  cached step driver. hwsim therefore keeps its entries in a folder named by a hash of every
  kernel source, the Numba version and the Python version: ``hwsim/kernels/__pycache__/
  numba-<hash>`` next to the installed sources, or ``$XDG_CACHE_HOME/hwsim`` (default
  ``~/.cache/hwsim``) when that is read-only, or ``$NUMBA_CACHE_DIR/hwsim-<hash>`` when the
  user set one. Numba writes index and data files under temporary names and renames them, so
  processes that start together on a cold cache cannot read a torn entry (tested with four).
  Kernels take no function objects, only arrays, scalars and named tuples, which is what makes
  the entries reusable by the next process. ``HWSIM_NUMBA_CACHE=0`` switches caching off.
"""

import hashlib
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import numba
from numba import njit
from numba.core import config as _numba_config

CACHE = os.environ.get("HWSIM_NUMBA_CACHE", "1") != "0"
JIT_OPTIONS = dict(fastmath=False, parallel=False, cache=CACHE, nogil=True)


def sources_hash(folder=None) -> str:
    """Hash of every kernel source in ``folder`` (default: this package's), with the Numba and
    Python versions: the key of the cache folder."""
    here = Path(folder) if folder else Path(__file__).resolve().parent
    h = hashlib.sha256(f"{numba.__version__} {sys.version}".encode())
    for f in sorted(here.glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False


def cache_folder() -> Path:
    """The folder holding hwsim's compiled kernels for these exact sources (see module doc)."""
    key = sources_hash()
    user = os.environ.get("NUMBA_CACHE_DIR")
    if user:
        return Path(user) / f"hwsim-{key}"
    intree = Path(__file__).resolve().parent / "__pycache__" / f"numba-{key}"
    if _writable(intree):
        return intree
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "hwsim" / f"numba-{key}"


_FOLDER = str(cache_folder()) if CACHE else ""


@contextmanager
def _our_cache_dir():
    """Point Numba's cache at hwsim's folder while one kernel is decorated (the locator is
    chosen then), and restore the user's setting at once: no process-wide change."""
    old = _numba_config.CACHE_DIR
    _numba_config.CACHE_DIR = _FOLDER
    try:
        yield
    finally:
        _numba_config.CACHE_DIR = old


def jit(func):
    """Compile ``func`` with hwsim's production flags."""
    with _our_cache_dir():
        return njit(**JIT_OPTIONS)(func)


def inline(func):
    """Compile a stage helper with the production flags, inlined into its callers at the Numba
    IR level: an ordinary call copies array structs and updates reference counts on every
    call, which costs more than a small stage's work."""
    with _our_cache_dir():
        return njit(inline="always", **JIT_OPTIONS)(func)
