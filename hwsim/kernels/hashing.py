"""Counter-based random numbers: every random value is a pure function of its coordinates.

``hash4(seed, stream, counter, index)`` mixes four 64-bit words with the SplitMix64
finaliser (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
OOPSLA 2014). Because a value depends only on (seed, stream, step, element), results do not
depend on thread count, chunking of the timeline, or resume points. ``tests/naive.py`` holds a
pure-Python reference masked to 64 bits (field cases R1, R3).
"""

import math

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
STREAM_C2C = 5  # cycle-to-cycle pulse noise
STREAM_WRITE_NOISE = 6
STREAM_READ_NOISE = 7
STREAM_ROUNDING = 8  # stochastic rounding of pulse counts
STREAM_DTOD = 9  # device-to-device sampling at construction
STREAM_PERIPHERY = 10  # converter noise
STREAM_NEURON = 11  # per-neuron gain/offset variation
STREAM_COST_NOISE = 20  # additive noise on the global cost line (one per step)
STREAM_INT_GAIN = 21  # integrator gain mismatch (dtod, one per synapse, drawn once)
STREAM_SRC_AMP = 22  # perturbation amplitude mismatch (dtod, one per line, drawn once)
STREAM_SRC_C2C = 23  # perturbation amplitude noise (c2c, one per line per code period)
STREAM_SRC_BIAS = 24  # biased CDMA coin, P(+) != 1/2 (one per generator per code period)
STREAM_SRC_FREQ = 25  # FDMA frequency error (dtod, one per line, drawn once)
STREAM_SRC_JITTER = 26  # FDMA phase jitter (one per line per code period)
STREAM_CHOPPER = 40  # Tiki-Taka chopper flips (one per column per transfer)
STREAM_TRANSFER_DEVICE = 41  # seed of the Tiki-Taka slow array C (its dtod and pulse draws)
STREAM_TT_RESET = 42  # Tiki-Taka reset of a transferred column of A (one per column per transfer)


@jit
def mix64(z):
    """SplitMix64 finaliser of a uint64 (bijective avalanche mix)."""
    z = _U64(z)  # an int64 argument would shift arithmetically
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
    return mix64(mix64(_U64(key) ^ _U64(counter)) + _U64(index) * GOLDEN)


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


@jit
def hash_sub(key, counter, index, sub):
    """A fifth coordinate ``sub`` (e.g. the pulse number within one update) on :func:`hash_keyed`."""
    return mix64(hash_keyed(key, counter, index) + (_U64(sub) + _U64(1)) * _M2)


@jit
def normal_from_bits(bits):
    """A standard normal deviate from 64 random bits (Box-Muller on two 32-bit halves)."""
    u1 = ((bits >> _U64(32)) + 0.5) * (1.0 / 4294967296.0)  # in (0, 1): log is finite
    u2 = (bits & _U64(0xFFFFFFFF)) * (1.0 / 4294967296.0)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
