"""Stage 4, the global cost line: C̃ from the measured costs (mgd.md, "One discrete step").

Discrete mode: C̃ = C − C₀, with the baseline C₀ of the unperturbed network remeasured only
when it is stale (a new input, or θ changed). Analog mode: C̃ is a first-order high-pass of
C, C̃_n = a·(C̃_{n−1} + C_n − C_{n−1}), a = τhp/(τhp + dt), restarted (C_{n−1} = C_n) when
the input changes. Two-sided (discrete mode): C̃ = (C(θ + θ̃) − C(θ − θ̃))/2, one more
inference per step and no baseline. The line is ideal today: the value broadcast at step n is the one measured
at step n.
"""

from collections import namedtuple

import numpy as np

from hwsim.kernels._config import inline

DISCRETE, ANALOG = 0, 1

#: Cost-line parameters: mode (DISCRETE/ANALOG), the high-pass coefficient a, and
#: ``two_sided`` (1: C̃ = (C(θ + θ̃) − C(θ − θ̃))/2, discrete mode; no baseline is measured).
CostLineParams = namedtuple("CostLineParams", "mode a_hp two_sided")

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
