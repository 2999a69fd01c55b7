"""Perturbation sources: which code each parameter carries and at what amplitude (mgd.md table).

| code  | theta~_i(k)                          | per-element amplitude A |
|-------|--------------------------------------|-------------------------|
| cdma  | +-A, fair coin per parameter          | amplitude / sqrt(P)     |
| walsh | +-A, Sylvester-Hadamard row i + 1     | amplitude / sqrt(P)     |
| fdma  | A sin(2 pi m_i k / M + phi_i), m_i=i+1 | sqrt(2) amplitude / sqrt(P) |
| tdma  | +A on parameter k mod P, else 0       | amplitude               |

``k`` counts code periods (k = step // tau_p). The Walsh period H is the smallest power of
two >= P + 1; the FDMA period M (in code steps) must exceed 2 P so every harmonic m_i = i + 1
is below Nyquist; the FDMA frequency of parameter i is f_i = (i + 1) / (M tau_p dt) Hz.
"""

import math

from hwsim.exceptions import ConfigError
from hwsim.kernels import codes as _codes
from hwsim.kernels import cost_line as _cl

CODES = {"cdma": _codes.CDMA, "walsh": _codes.WALSH, "fdma": _codes.FDMA, "tdma": _codes.TDMA}
MODES = {"discrete": _cl.DISCRETE, "analog": _cl.ANALOG}


def code_amplitude(code: str, amplitude: float, P: int) -> float:
    """Per-element code amplitude A so that the perturbation vector has norm (or RMS norm) Δ."""
    if code in ("cdma", "walsh"):
        return amplitude / math.sqrt(P)
    if code == "fdma":
        return math.sqrt(2.0) * amplitude / math.sqrt(P)
    if code == "tdma":
        return amplitude
    raise ConfigError(f"mgd.perturbation = {code!r}: allowed: {', '.join(CODES)}")


def code_period(code: str, P: int, fdma_period: int = 0) -> int:
    """Steps of code in one period: Walsh H, FDMA M, TDMA P; 0 for CDMA (aperiodic).

    Raises
    ------
    ConfigError
        An explicit ``fdma_period`` too short for P parameters.
    """
    if code == "walsh":
        return 1 << max(2, math.ceil(math.log2(P + 1)))
    if code == "fdma":
        if fdma_period == 0:
            return 2 * P + 2
        if fdma_period <= 2 * P:
            raise ConfigError(f"mgd.fdma_period = {fdma_period}: must exceed 2·P = {2 * P} "
                              "so every FDMA harmonic is below Nyquist (or 0 for automatic)")
        return int(fdma_period)
    if code == "tdma":
        return P
    return 0
