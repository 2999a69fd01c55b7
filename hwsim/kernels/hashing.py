"""Counter-based random numbers: every random value is a pure function of its coordinates.

``hash4(seed, stream, counter, index)`` mixes four 64-bit words with the SplitMix64
finaliser (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
OOPSLA 2014). Because a value depends only on (seed, stream, step, element), results do not
depend on thread count, chunking of the timeline, or resume points. ``tests/naive.py`` holds a
pure-Python reference masked to 64 bits (field cases R1, R3).
"""

import numpy as np

from hwsim.kernels._config import jit

_U64 = np.uint64
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)

# Named random streams. Values are part of the results' definition: never renumber.
STREAM_CDMA = 1
STREAM_FDMA_PHASE = 2
STREAM_DATA_ORDER = 3
STREAM_INIT = 4


@jit
def mix64(z):
    """SplitMix64 finaliser of a uint64 (bijective avalanche mix)."""
    z = (z ^ (z >> _U64(30))) * _M1
    z = (z ^ (z >> _U64(27))) * _M2
    return z ^ (z >> _U64(31))


@jit
def stream_key(seed, stream):
    """The (seed, stream) half of :func:`hash4`, hoisted out of loops over counters."""
    return mix64(mix64(_U64(seed) + GOLDEN) ^ (_U64(stream) * GOLDEN))


@jit
def hash_keyed(key, counter, index):
    """``hash4(seed, stream, counter, index)`` given ``key = stream_key(seed, stream)``."""
    return mix64(mix64(key ^ _U64(counter)) + _U64(index) * GOLDEN)


@jit
def hash4(seed, stream, counter, index):
    """64 random bits for the coordinates (seed, stream, counter, index); all uint64-castable."""
    return hash_keyed(stream_key(seed, stream), counter, index)


@jit
def uniform01(bits):
    """A float64 in [0, 1) from the top 53 of 64 random bits."""
    return (bits >> _U64(11)) * (1.0 / 9007199254740992.0)


@jit
def cdma_sign(seed, counter, i):
    """The CDMA code value (±1) of parameter ``i`` for perturbation period ``counter``.

    One 64-bit hash yields the signs of 64 consecutive parameters (bit ``i mod 64`` of
    ``hash4(seed, STREAM_CDMA, counter, i // 64)``), which keeps code generation far below
    the cost of the forward pass.
    """
    bits = hash4(seed, STREAM_CDMA, counter, i >> 6)
    return 1.0 if (bits >> _U64(i & 63)) & _U64(1) else -1.0
