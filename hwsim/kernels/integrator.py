"""Stage 5, local lock-in integrators: each synapse correlates C̃ with its own reference.

Discrete mode sums g = C̃·θ̃_ref/Δ² over the τθ window, G += g, and resets at each update;
analog mode low-passes it every step, G ← (g·dt + τθ·G)/(τθ + dt), with time in units of dt
(mgd.md). ``inv_d2`` = 1/Δ²; the product C̃/Δ² is formed once per step, then one multiply-add
per synapse.
"""

from collections import namedtuple

from hwsim.kernels._config import inline

#: Integrator parameters: 1/Δ², and the analog low-pass weights τθ/(τθ+1) and 1/(τθ+1).
IntegratorParams = namedtuple("IntegratorParams", "inv_d2 lp_keep lp_new")


@inline
def accumulate(G, s, ref):
    """G += s·ref (s = C̃/Δ²)."""
    for i in range(G.shape[0]):
        G[i] += s * ref[i]


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
