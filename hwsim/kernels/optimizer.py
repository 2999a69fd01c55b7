"""Stage 6, the optimizer: the update request Δθ from the integrated estimate G.

Each rule is local to its synapse (its state is one or two numbers per synapse), so a chip can
implement it next to the integrator. The MGD estimate is a drop-in for the stochastic
gradient (mgd.md, "Momentum and other accelerators"):

| kind | state | request |
|---|---|---|
| plain (McCaughan, Oripov et al. 2023) | – | Δθ = −η·G |
| momentum (heavy ball, Polyak 1964) | v | v ← β·v + G; Δθ = −η·v |
| nesterov (Sutskever et al. 2013, PyTorch form) | v | v ← β·v + G; Δθ = −η·(G + β·v) |
| adam (Kingma & Ba 2015), the digital reference | m, s | m ← β·m + (1−β)·G; s ← β₂·s + (1−β₂)·G²; Δθ = −η·m̂/(√ŝ + ε), m̂ = m/(1−βᵗ), ŝ = s/(1−β₂ᵗ) |

| sign (signSGD, Bernstein et al. 2018), the pulse baseline | – | Δθ = −s·sign(G), s = ``sign_step`` (weight units; one pulse when s = dw_min) |

``clip`` > 0 clips each request to [−clip, clip] (a local limiter). ``t`` is the number of
the update (1 for the first). The request is float64 whatever the state dtype, and is
delivered by the device-write stage (:func:`hwsim.kernels.devices.apply_update`).

Threshold writes (the mixed-precision idea done locally: Nandakumar et al., Front. Neurosci.
14:406 (2020); issue 12). With ``threshold`` θ_w > 0 each synapse keeps a float64 residue r:
:func:`gate` forms a = r + Δθ and sends a only where |a| ≥ θ_w (else nothing), keeping r = a;
after the write :func:`settle` subtracts what was written, r ← a − w, where w is the nominal
change sent (pulses·dw_min, ``RESIDUE_NOMINAL``) or the change read back from the device
(``RESIDUE_READ_BACK``). So at every update Σ requests = Σ written + r, to floating point.
"""

import math
from collections import namedtuple

import numpy as np

from hwsim.kernels._config import inline

PLAIN, MOMENTUM, NESTEROV, ADAM, SIGN = 0, 1, 2, 3, 4
RESIDUE_NOMINAL, RESIDUE_READ_BACK = 0, 1

#: Optimizer parameters: kind, learning rate η, β (momentum, or Adam's β₁), Adam's β₂ and ε,
#: the per-synapse clip of the request (0 = off), the step s of sign updates (weight units),
#: the write threshold θ_w (weight units, 0 = off) and how the written amount is known
#: (RESIDUE_NOMINAL or RESIDUE_READ_BACK).
OptimizerParams = namedtuple("OptimizerParams",
                             "kind eta beta beta2 eps clip sign_step threshold residue",
                             defaults=(0.0, 0.0, 0))


@inline
def request(p, G, req, m1, m2, t):
    """Write the update request Δθ into ``req`` (P,) from G (P,); ``m1``, ``m2`` (P,) hold
    the rule's per-synapse state (velocity, or Adam's moments); ``t`` ≥ 1 is the update."""
    eta = p.eta
    kind = p.kind
    P = G.shape[0]
    if kind == PLAIN:
        for i in range(P):
            req[i] = -eta * G[i]
    elif kind == MOMENTUM:
        b = p.beta
        for i in range(P):
            v = b * m1[i] + G[i]
            m1[i] = v
            req[i] = -eta * m1[i]
    elif kind == NESTEROV:
        b = p.beta
        for i in range(P):
            v = b * m1[i] + G[i]
            m1[i] = v
            req[i] = -eta * (G[i] + b * m1[i])
    elif kind == SIGN:
        st = p.sign_step
        for i in range(P):
            g = G[i]
            req[i] = -st if g > 0.0 else (st if g < 0.0 else 0.0)
    else:
        b1 = p.beta
        b2 = p.beta2
        c1 = 1.0 - b1 ** (t * 1.0)  # float exponent: libm pow, as Python's float ** float
        c2 = 1.0 - b2 ** (t * 1.0)
        for i in range(P):
            g = np.float64(G[i])  # float64 arithmetic whatever the state dtype
            m1[i] = b1 * m1[i] + (1.0 - b1) * g
            m2[i] = b2 * m2[i] + (1.0 - b2) * (g * g)
            req[i] = -eta * (m1[i] / c1) / (math.sqrt(m2[i] / c2) + p.eps)
    clip = p.clip
    if clip > 0.0:
        for i in range(P):
            if req[i] > clip:
                req[i] = clip
            elif req[i] < -clip:
                req[i] = -clip


@inline
def gate(p, req, residue):
    """Threshold writes, before the device write: a = residue + req; ``req`` keeps a where
    |a| ≥ p.threshold and becomes 0 elsewhere; ``residue`` = a. Returns the number of
    synapses that write. ``req``, ``residue`` (P,) float64."""
    thr = p.threshold
    n = 0
    for i in range(req.shape[0]):
        a = residue[i] + req[i]
        residue[i] = a
        if abs(a) >= thr:
            req[i] = a
            n += 1
        else:
            req[i] = 0.0
    return n


@inline
def settle(residue, written):
    """Threshold writes, after the device write: residue −= written (P,) float64."""
    for i in range(residue.shape[0]):
        residue[i] -= written[i]
