"""Stage 2 options, the nonideal perturbation source: what the synapses get differs from the
code the generators meant (docs/chip.md, issue 13; all off by default).

Per code period k, the **nominal** code ν (what the generators produce) is the ideal code of
:func:`.codes.fill_code`, except that

* shared generators: element i carries the code of generator g(i) (one per row, column or
  group of synapses; ``gen``), so elements that share a generator carry identical codes;
* code bias: a CDMA generator draws + with probability p₊ ≠ ½ (stream STREAM_SRC_BIAS).

The **target** τ_i the line driver aims at is ν_i with its imperfections:

    τ_i = ν_i·α_i·(1 + σ_c·ζ_{k,i}) + χ·(τ⁰_{i−1} + τ⁰_{i+1})

α_i = 1 + σ_d·ξ_i the amplitude mismatch (dtod, drawn once, STREAM_SRC_AMP), ζ the amplitude
noise per code period (c2c, STREAM_SRC_C2C), χ the cross-talk from the two neighbouring lines
(τ⁰ the target before cross-talk). For FDMA the target's sine has its own frequency and
phase: A·sin(2π m_g (1 + ε_g) k / M + φ_g + σ_φ·ζ'_{k,g}), ε the frequency error (dtod,
STREAM_SRC_FREQ) and σ_φ the phase jitter (STREAM_SRC_JITTER). The **applied** perturbation
follows the target through a first-order low-pass per step (finite bandwidth,
a = τ/(τ + 1); a = 0: applied = target). Each integrator correlates with the nominal code or
with a measured copy of the applied one (``measured``).
"""

import math
from collections import namedtuple

import numpy as np

from hwsim.kernels._config import jit
from hwsim.kernels.codes import CDMA, FDMA, fill_code
from hwsim.kernels.hashing import (
    STREAM_FDMA_PHASE, STREAM_SRC_BIAS, STREAM_SRC_C2C, STREAM_SRC_JITTER, hash4,
    normal_from_bits, uniform01,
)

#: The nonideal source: ``nonideal`` (1: any option on), ``amp`` (M,) the factors α_i (empty:
#: none), ``c2c`` σ_c, ``p_plus`` p₊ (CDMA), ``lp_keep`` a, ``gen`` (M,) int64 the generator
#: of each element (empty: its own), ``gsrc`` the SourceParams of the generators (their
#: number as the period's P), ``xtalk`` χ, ``freq`` (M,) the FDMA 1 + ε_g (empty: none),
#: ``jitter`` σ_φ (rad), ``measured`` (1: the reference is the applied perturbation).
SourceNoise = namedtuple("SourceNoise", "nonideal amp c2c p_plus lp_keep gen gsrc xtalk freq "
                                        "jitter measured")


@jit
def _generators(out, src, sn, k):
    """The generators' codes of period k into ``out`` (one value per generator)."""
    if src.code == CDMA and sn.p_plus != 0.5:
        A = src.code_amp
        for g in range(out.shape[0]):
            u = uniform01(hash4(src.seed, STREAM_SRC_BIAS, k, g))
            out[g] = A if u < sn.p_plus else -A
    else:
        fill_code(out, sn.gsrc, k)


@jit
def nominal_code(out, gbuf, src, sn, k):
    """The nominal code ν of period ``k`` into ``out`` (M,); ``gbuf`` scratch (generators)."""
    gen = sn.gen
    if gen.shape[0] == 0:
        _generators(out, src, sn, k)
        return
    _generators(gbuf, src, sn, k)
    for i in range(out.shape[0]):
        out[i] = gbuf[gen[i]]


@jit
def target_code(target, nominal, src, sn, k):
    """The target τ of period ``k`` from the nominal code (module docstring)."""
    M = target.shape[0]
    gen = sn.gen
    shared = gen.shape[0] > 0
    fdma_err = src.code == FDMA and (sn.freq.shape[0] > 0 or sn.jitter > 0.0)
    A = src.code_amp
    per = sn.gsrc.period
    for i in range(M):
        v = nominal[i]
        if fdma_err:
            g = gen[i] if shared else i
            f = (g + 1) * (sn.freq[g] if sn.freq.shape[0] > 0 else 1.0)
            phi = 2.0 * math.pi * uniform01(hash4(src.seed, STREAM_FDMA_PHASE, 0, g))
            if sn.jitter > 0.0:
                phi += sn.jitter * normal_from_bits(hash4(src.seed, STREAM_SRC_JITTER, k, g))
            v = A * math.sin(2.0 * math.pi * f * k / per + phi)  # drifts off the nominal
        if sn.amp.shape[0] > 0:
            v = v * sn.amp[i]
        if sn.c2c > 0.0:
            v = v * (1.0 + sn.c2c * normal_from_bits(hash4(src.seed, STREAM_SRC_C2C, k, i)))
        target[i] = v
    if sn.xtalk != 0.0 and M > 1:
        prev = target[0]
        target[0] = prev + sn.xtalk * target[1]
        for i in range(1, M):
            cur = target[i]
            nxt = target[i + 1] if i + 1 < M else 0.0
            target[i] = cur + sn.xtalk * (prev + nxt)
            prev = cur


@jit
def new_period(applied, reference, buf, src, sn, k):
    """A new code period: the nominal code (into ``reference``, or scratch when the reference
    is measured) and the target; without a low-pass the applied perturbation jumps to it.
    ``buf`` holds the nominal (M), the target (M) and the generators' codes."""
    M = applied.shape[0]
    nom = buf[0:M] if sn.measured == 1 else reference
    target = buf[M:2 * M]
    nominal_code(nom, buf[2 * M:], src, sn, k)
    target_code(target, nom, src, sn, k)
    if sn.lp_keep == 0.0:
        for i in range(M):
            applied[i] = target[i]


@jit
def follow(applied, buf, sn):
    """One step of the applied perturbation's low-pass towards the target."""
    M = applied.shape[0]
    a = sn.lp_keep
    for i in range(M):
        applied[i] = a * applied[i] + (1.0 - a) * buf[M + i]


def ideal_noise(gsrc):
    """The record of an ideal source (every option off)."""
    z = np.zeros(0)
    return SourceNoise(np.int64(0), z, 0.0, 0.5, 0.0, np.zeros(0, np.int64), gsrc, 0.0, z, 0.0,
                       np.int64(0))
