"""Stage 4, the global cost line: C̃ from the measured costs (mgd.md, "One discrete step").

Discrete mode: C̃ = C − C₀, with the baseline C₀ of the unperturbed network remeasured only
when it is stale (a new input, or θ changed). Analog mode: C̃ is a first-order high-pass of
C, C̃_n = a·(C̃_{n−1} + C_n − C_{n−1}), a = τhp/(τhp + dt), restarted (C_{n−1} = C_n) when
the input changes. Two-sided (discrete mode): C̃ = (C(θ + θ̃) − C(θ − θ̃))/2, one more
inference per step and no baseline.

Nonideal line (:func:`line`, all off by default; docs/chip.md): the value C̃_n formed at step
n gets additive Gaussian noise σ·ζ_n (stream STREAM_COST_NOISE, one draw per step), passes a
first-order low-pass y_n = a·y_{n−1} + (1 − a)·x_n (finite bandwidth, a = τ/(τ + 1), τ in
steps), is quantised to b bits over ±R by a symmetric mid-tread ADC (LSB = R/(2^(b−1) − 1),
values k·LSB for |k| ≤ 2^(b−1) − 1, |x| > R clipped and counted in ``cost_clipped``) and
arrives L steps later (latency; 0 is received before the first value arrives). The
synapses integrate the received value. With ``match`` the reference each synapse correlates
with is the code of step n − L, regenerated from the counter hash (:func:`.codes.fill_code`)
instead of stored.
"""

import math
from collections import namedtuple

import numpy as np

from hwsim.kernels._config import inline
from hwsim.kernels.hashing import STREAM_COST_NOISE, hash4, normal_from_bits

DISCRETE, ANALOG = 0, 1

#: Cost-line parameters: mode (DISCRETE/ANALOG), the high-pass coefficient a, and
#: ``two_sided`` (1: C̃ = (C(θ + θ̃) − C(θ − θ̃))/2, discrete mode; no baseline is measured).
#: The nonideal line (:func:`line`): ``nonideal`` (1: any of the following is on),
#: ``latency`` L (steps), ``match`` (1: the reference is delayed by L too), ``noise_std`` σ
#: (cost units), ``q_bits`` b (0: no quantisation), ``q_range`` R (cost units), ``lp_keep``
#: the low-pass coefficient a (0: infinite bandwidth) and ``seed`` (of the noise stream).
CostLineParams = namedtuple("CostLineParams", "mode a_hp two_sided nonideal latency match "
                                              "noise_std q_bits q_range lp_keep seed",
                            defaults=(0, 0, 0, 0.0, 0, 0.0, 0.0, 0))

#: Layout of the line's memory array ``line_mem`` (float64, 2 + L): the low-pass output
#: y_{n−1}, the value received at the last step, then the L values in flight (ring buffer,
#: slot n mod L holds the value sent at step n − L).
LINE_LP, LINE_RECEIVED, LINE_RING = 0, 1, 2

#: Cost-line state (one record): baseline C₀, last C, last C̃, the high-pass memory C_{n−1},
#: and ``stale`` (1: C₀ must be remeasured before use).
COST_LINE_STATE = np.dtype([("c0", np.float64), ("c", np.float64), ("ctilde", np.float64),
                            ("cprev", np.float64), ("stale", np.int64)])


def cost_line_state() -> np.ndarray:
    """A fresh cost-line record (shape (1,))."""
    return np.zeros(1, COST_LINE_STATE)


@inline
def discrete(cl, c):
    """C̃ = C − C₀ (discrete mode)."""
    return c - cl.c0


@inline
def two_sided(c_plus, c_minus):
    """C̃ = (C(θ + θ̃) − C(θ − θ̃))/2: the central difference, exact on a linear cost and
    without the O(Δ) bias of C − C₀ (SPSA, Spall 1992)."""
    return 0.5 * (c_plus - c_minus)


@inline
def analog(cl, p, c, restart):
    """One high-pass step of C; ``restart`` on a new input (or at step 0)."""
    if restart:
        cl.cprev = c
        cl.stale = 0
    ct = p.a_hp * (cl.ctilde + c - cl.cprev)
    cl.cprev = c
    return ct


def line_mem(latency: int) -> np.ndarray:
    """A fresh line memory for latency L (shape (2 + L,), zeros: nothing in flight)."""
    return np.zeros(2 + int(latency))


@inline
def quantise(x, bits, rng):
    """Symmetric mid-tread b-bit quantiser over ±R: (value, 1 if |x| > R else 0)."""
    kmax = (1 << (bits - 1)) - 1
    lsb = rng / kmax
    if x > rng:
        return kmax * lsb, 1
    if x < -rng:
        return -kmax * lsb, 1
    return math.floor(x / lsb + 0.5) * lsb, 0


@inline
def line(p, mem, cnt, ct, n):
    """The value of C̃ the synapses receive at step ``n`` when C̃_n = ``ct`` is sent.

    Noise, then the low-pass, then the quantiser (clips counted in ``cnt.cost_clipped``),
    then the delay of L steps; ``mem`` is the line memory (:func:`line_mem`).
    """
    x = ct
    if p.noise_std > 0.0:
        x = x + p.noise_std * normal_from_bits(hash4(p.seed, STREAM_COST_NOISE, n, 0))
    if p.lp_keep > 0.0:
        x = p.lp_keep * mem[LINE_LP] + (1.0 - p.lp_keep) * x
        mem[LINE_LP] = x
    if p.q_bits > 0:
        x, clipped = quantise(x, p.q_bits, p.q_range)
        cnt.cost_clipped += clipped
    L = p.latency
    if L > 0:
        slot = LINE_RING + n % L
        y = mem[slot]
        mem[slot] = x
        x = y
    mem[LINE_RECEIVED] = x
    return x
