"""Stage 5, local lock-in integrators: each synapse correlates C̃ with its own reference.

Discrete mode sums g = C̃·θ̃_ref/Δ² over the τθ window, G += g, and resets at each update;
analog mode low-passes it every step, G ← (g·dt + τθ·G)/(τθ + dt), with time in units of dt
(mgd.md). ``inv_d2`` = 1/Δ²; the product C̃/Δ² is formed once per step, then one multiply-add
per synapse.

Nonideal integrators (:func:`accumulate_nonideal`, discrete mode, all off by default;
docs/chip.md), per synapse i and step:

    u_i = γ_i·g_i + o                     gain mismatch γ_i = 1 + σ_γ·ξ_i (drawn once), offset o
    G_i ← κ·G_i + λ·u_i                   leak: κ = e^(−1/τ), λ = τ·(1 − κ) (exact for an input
                                          held over one step; κ = λ = 1 without leak)
    G_i ← LSB·clip(round(G_i/LSB), ±K)    quantised accumulator, K = 2^(b−1) − 1 counts
    G_i ← clip(G_i, ±G_max)               saturation

and at an update G ← ρ·G (ρ = 0: full reset, as the ideal integrator). τ → ∞ is the ideal
integrator; τ → 0 gives G → τ·u → 0 (the capacitor forgets everything).
"""

import math
from collections import namedtuple

import numpy as np

from hwsim.kernels._config import inline
from hwsim.kernels.hashing import STREAM_INT_GAIN, hash4, normal_from_bits

#: Integrator parameters: 1/Δ², and the analog low-pass weights τθ/(τθ+1) and 1/(τθ+1). The
#: nonideal integrator: ``nonideal`` (1: any of the following on), ``leak_keep`` κ and
#: ``leak_in`` λ, ``offset`` o (G units per step), ``gain`` γ (P,) (empty: no mismatch),
#: ``q_bits`` b and ``q_lsb`` (0: continuous), ``sat`` G_max (0: none), ``reset_keep`` ρ.
IntegratorParams = namedtuple("IntegratorParams", "inv_d2 lp_keep lp_new nonideal leak_keep "
                                                  "leak_in offset gain q_bits q_lsb sat "
                                                  "reset_keep",
                              defaults=(0, 1.0, 1.0, 0.0, np.zeros(0), 0, 0.0, 0.0, 0.0))


def leak_factors(tau):
    """(κ, λ) of a leak with time constant ``tau`` steps (0 or inf: no leak, (1, 1))."""
    if tau == 0 or math.isinf(tau):
        return 1.0, 1.0
    keep = math.exp(-1.0 / tau)
    return keep, -tau * math.expm1(-1.0 / tau)


def gain_mismatch(seed, sigma, P):
    """Each synapse's integrator gain γ_i = 1 + σ·ξ_i, ξ_i standard normal from stream
    STREAM_INT_GAIN at (seed, 0, i): (P,) float64, drawn once (dtod)."""
    return np.array([1.0 + sigma * normal_from_bits(np.uint64(hash4(
        np.int64(seed), np.int64(STREAM_INT_GAIN), np.int64(0), np.int64(i)))) for i in range(P)])


@inline
def accumulate(G, s, ref):
    """G += s·ref (s = C̃/Δ²)."""
    for i in range(G.shape[0]):
        G[i] += s * ref[i]


@inline
def accumulate_nonideal(G, s, ref, ip):
    """One step of the nonideal integrator (module docstring), s = C̃/Δ²."""
    has_gain = ip.gain.shape[0] > 0
    leak = ip.leak_keep != 1.0 or ip.leak_in != 1.0
    kmax = float((1 << (ip.q_bits - 1)) - 1) if ip.q_bits > 0 else 0.0
    for i in range(G.shape[0]):
        u = s * ref[i]
        if has_gain:
            u = u * ip.gain[i]
        if ip.offset != 0.0:
            u = u + ip.offset
        if leak:
            v = ip.leak_keep * G[i] + ip.leak_in * u
        else:
            v = G[i] + u
        if ip.q_bits > 0:
            q = v / ip.q_lsb
            if q >= kmax:
                v = kmax * ip.q_lsb
            elif q <= -kmax:
                v = -kmax * ip.q_lsb
            else:
                v = math.floor(q + 0.5) * ip.q_lsb
        if ip.sat > 0.0:
            v = min(max(v, -ip.sat), ip.sat)
        G[i] = v


@inline
def lowpass(G, s, ref, keep, new):
    """G ← keep·G + new·(s·ref)."""
    for i in range(G.shape[0]):
        G[i] = keep * G[i] + new * (s * ref[i])


@inline
def reset(G):
    """G ← 0 after an update (full reset)."""
    for i in range(G.shape[0]):
        G[i] = 0.0


@inline
def reset_partial(G, keep):
    """G ← ρ·G after an update (ρ = ``keep``; 0 is the full reset)."""
    for i in range(G.shape[0]):
        G[i] = keep * G[i]
