"""Stage 6, the optimizer: the update request Δθ from the integrated estimate G.

Plain MGD (McCaughan, Oripov et al. 2023): Δθ = −η·G. The request is float64 whatever the
state dtype, and is delivered by the device-write stage (:func:`hwsim.kernels.devices.apply_update`).
"""

from collections import namedtuple

from hwsim.kernels._config import inline

PLAIN = 0

#: Optimizer parameters: kind (PLAIN) and the learning rate η.
OptimizerParams = namedtuple("OptimizerParams", "kind eta")


@inline
def request(p, G, req):
    """req = −η·G (plain MGD)."""
    eta = p.eta
    for i in range(G.shape[0]):
        req[i] = -eta * G[i]
