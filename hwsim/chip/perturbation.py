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

import numpy as np

from hwsim.exceptions import ConfigError
from hwsim.kernels import codes as _codes
from hwsim.kernels import cost_line as _cl
from hwsim.kernels import hashing as _hash
from hwsim.kernels import sources as _src

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


# ---------------------------------------------------------------------------- nonideal source

#: The ideal value of every [chip.perturbation] setting (the config defaults).
SOURCE_DEFAULTS = {"amp_dtod": 0.0, "amp_c2c": 0.0, "p_plus": 0.5, "bandwidth_tau": 0.0,
                   "shared": "none", "group_size": 1, "crosstalk": 0.0, "fdma_freq_dtod": 0.0,
                   "fdma_phase_jitter": 0.0, "reference": "nominal"}
SHARED = ("none", "row", "column", "group")


def generator_map(shared, group_size, sizes, P):
    """The generator of each parameter (int64 (P,)) and their number.

    "row": every weight and the bias of one neuron share a generator (one per output line of
    a crossbar); "column": every weight from one input, and all biases of a layer (the
    constant input's column), share one; "group": parameters i // group_size share one.

    Raises
    ------
    ConfigError
        "row" or "column" without a network (an analytic cost has no crossbar).
    """
    if shared == "group":
        gen = np.arange(P, dtype=np.int64) // int(group_size)
        return gen, int(gen[-1]) + 1 if P else 0
    if sizes is None:
        raise ConfigError(f"chip.perturbation.shared = {shared!r}: needs a network (rows and "
                          "columns of its crossbars); use 'group'")
    gen = np.empty(P, np.int64)
    off, base = 0, 0
    for l in range(len(sizes) - 1):
        nin, nout = int(sizes[l]), int(sizes[l + 1])
        o, i = np.divmod(np.arange(nin * nout), nin)
        if shared == "row":
            gen[off:off + nin * nout] = base + o
            gen[off + nin * nout:off + nin * nout + nout] = base + np.arange(nout)
            base += nout
        else:
            gen[off:off + nin * nout] = base + i
            gen[off + nin * nout:off + nin * nout + nout] = base + nin
            base += nin + 1
        off += nin * nout + nout
    return gen, base


def _normals(seed, stream, n):
    return np.array([_hash.normal_from_bits(np.uint64(_hash.hash4(
        np.int64(seed), np.int64(stream), np.int64(0), np.int64(i)))) for i in range(n)])


def source_noise(spec, src, code, sizes, P, *, target, two_sided, by_write):
    """The nonideal source record (:class:`hwsim.kernels.sources.SourceNoise`) and the size of
    its buffer, from the ``[chip.perturbation]`` settings ``spec``.

    Parameters
    ----------
    spec : mapping or None
        Keys of :data:`SOURCE_DEFAULTS` (docs/chip.md); None or ``{}`` is the ideal source.
    src : SourceParams
        The ideal source (code, amplitude A, period, seed).
    code : str
        The code's name (for messages).
    sizes : sequence of int or None
        The network's layer widths (None for an analytic cost).
    P : int
        Perturbed quantities.
    target, two_sided, by_write
        The options the nonideal source needs: weight perturbation, added on the read path.

    Returns
    -------
    (SourceNoise, int)
        The record and the length of the chip's ``src_buf`` (0 when ideal).

    Raises
    ------
    ConfigError
        A value out of range, an FDMA option on another code, a code bias on a code other
        than CDMA, "row"/"column" without a network, or a source option with node
        perturbation or a written perturbation.
    """
    s = dict(SOURCE_DEFAULTS)
    for k, v in dict(spec or {}).items():
        if k not in s:
            raise ConfigError(f"chip.perturbation.{k}: unknown key (valid keys: "
                              f"{', '.join(SOURCE_DEFAULTS)})")
        s[k] = v
    for k in ("amp_dtod", "amp_c2c", "bandwidth_tau", "fdma_freq_dtod", "fdma_phase_jitter"):
        if not (isinstance(s[k], (int, float)) and math.isfinite(s[k]) and s[k] >= 0):
            raise ConfigError(f"chip.perturbation.{k} = {s[k]!r}: must be a finite number ≥ 0")
    if not 0.0 < s["p_plus"] < 1.0:
        raise ConfigError(f"chip.perturbation.p_plus = {s['p_plus']!r}: must be in (0, 1)")
    if s["shared"] not in SHARED or s["reference"] not in ("nominal", "measured"):
        raise ConfigError(f"chip.perturbation.shared = {s['shared']!r} / reference = "
                          f"{s['reference']!r}: allowed: {', '.join(SHARED)} / nominal, measured")
    if not isinstance(s["group_size"], int) or s["group_size"] < 1:
        raise ConfigError(f"chip.perturbation.group_size = {s['group_size']!r}: must be an "
                          "integer ≥ 1")
    if not (isinstance(s["crosstalk"], (int, float)) and math.isfinite(s["crosstalk"])):
        raise ConfigError(f"chip.perturbation.crosstalk = {s['crosstalk']!r}: must be a "
                          "finite number")
    if s == SOURCE_DEFAULTS:
        return _src.ideal_noise(src), 0
    if target != "weights" or by_write:
        raise ConfigError("chip.perturbation: the nonideal source needs mgd.target = 'weights' "
                          "and a perturbation added on the read path (not "
                          "device.perturbation_by_write)")
    if s["p_plus"] != 0.5 and code != "cdma":
        raise ConfigError(f"chip.perturbation.p_plus = {s['p_plus']}: a code bias needs "
                          f"mgd.perturbation = 'cdma' (not {code!r})")
    if (s["fdma_freq_dtod"] or s["fdma_phase_jitter"]) and code != "fdma":
        raise ConfigError("chip.perturbation.fdma_freq_dtod/fdma_phase_jitter: need "
                          f"mgd.perturbation = 'fdma' (not {code!r})")
    seed = int(src.seed)
    gsrc, gen, n_gen = src, np.zeros(0, np.int64), P
    if s["shared"] != "none":
        gen, n_gen = generator_map(s["shared"], s["group_size"], sizes, P)
        gsrc = src._replace(period=np.int64(code_period(code, n_gen)))
    amp = 1.0 + s["amp_dtod"] * _normals(seed, _hash.STREAM_SRC_AMP, P) if s["amp_dtod"] \
        else np.zeros(0)
    freq = 1.0 + s["fdma_freq_dtod"] * _normals(seed, _hash.STREAM_SRC_FREQ, n_gen) \
        if s["fdma_freq_dtod"] else np.zeros(0)
    tau = float(s["bandwidth_tau"])
    rec = _src.SourceNoise(np.int64(1), amp, float(s["amp_c2c"]), float(s["p_plus"]),
                           tau / (tau + 1.0), gen, gsrc, float(s["crosstalk"]), freq,
                           float(s["fdma_phase_jitter"]), np.int64(s["reference"] == "measured"))
    return rec, 2 * P + (n_gen if gen.shape[0] else 0)
