"""Stage 2, perturbation source: the applied perturbation θ̃ and the reference each integrator
correlates with (mgd.md, "Perturbation codes").

| code  | θ̃_i(k)                                 | per-element amplitude A      |
|-------|-----------------------------------------|------------------------------|
| cdma  | ±A, fair coin per parameter              | Δ/√P                         |
| walsh | ±A, Sylvester–Hadamard row i + 1         | Δ/√P                         |
| fdma  | A sin(2π m_i k / M + φ_i), m_i = i + 1   | √2·Δ/√P                      |
| tdma  | +A on parameter k mod P, else 0          | Δ                            |

``k`` counts code periods (k = step // tau_p). On an ideal source the applied perturbation and
the reference are the same values (one array serves both); a nonideal source writes them
apart. Codes are pure functions of (seed, k, i), so any past code can be regenerated.
"""

import math
from collections import namedtuple

import numpy as np

from hwsim.kernels._config import jit
from hwsim.kernels.hashing import STREAM_CDMA, STREAM_FDMA_PHASE, hash4, hash_keyed, stream_key, uniform01

# Code kinds (names in hwsim.chip.perturbation). Never renumber: stored in checkpoints' configs.
CDMA, WALSH, FDMA, TDMA = 0, 1, 2, 3

#: Source parameters: code kind, per-element amplitude A, code period (Walsh H, FDMA M, TDMA
#: P, 0 for CDMA; with M nodes in place of P for node perturbation), master seed,
#: ``by_write`` (1: the code is written into the devices as pulses instead of added on the
#: read path; 2: no code, the devices' write noise is the perturbation, :mod:`.noise_source`) and ``nodes`` (1: the code perturbs the M neurons' pre-activations, not the
#: P weights; :mod:`.nodes`).
SourceParams = namedtuple("SourceParams", "code code_amp period seed by_write nodes")


@jit
def popcount64(v):
    """Number of set bits of a non-negative int64."""
    c = 0
    while v:
        v &= v - 1
        c += 1
    return c


@jit
def fill_code(pert, src, k):
    """Write the perturbation θ̃ of code period ``k`` into ``pert`` (length P)."""
    P = pert.shape[0]
    code = src.code
    A = src.code_amp
    if code == CDMA:
        # One hash per block of 64 parameters; bit i mod 64 is parameter i's sign
        # (the same values as hashing.cdma_sign, which is the per-element definition).
        key = stream_key(src.seed, STREAM_CDMA)
        for blk in range((P + 63) >> 6):
            bits = hash_keyed(key, k, blk)
            base = blk << 6
            for j in range(min(64, P - base)):
                pert[base + j] = A if (bits >> np.uint64(j)) & np.uint64(1) else -A
    elif code == WALSH:
        # Sylvester-Hadamard row i + 1 (row 0 is the constant row), column k mod H.
        col = k % src.period
        for i in range(P):
            pert[i] = -A if popcount64((i + 1) & col) & 1 else A
    elif code == FDMA:
        # Integer phase arithmetic keeps the code exactly periodic (field case E2).
        M = src.period
        for i in range(P):
            phi = 2.0 * math.pi * uniform01(hash4(src.seed, STREAM_FDMA_PHASE, 0, i))
            # reduce both factors first: (i + 1) * k would overflow int64 for huge k
            pert[i] = A * math.sin(2.0 * math.pi * ((((i + 1) % M) * (k % M)) % M) / M + phi)
    else:  # TDMA: +amplitude on one parameter per slot
        for i in range(P):
            pert[i] = 0.0
        pert[k % P] = A


def code_values(src, k, P, dtype=np.float64):
    """The code θ̃ of period ``k`` as a new array (P,): :func:`fill_code` for Python callers."""
    out = np.zeros(P, dtype)
    fill_code(out, src, np.int64(k))
    return out
