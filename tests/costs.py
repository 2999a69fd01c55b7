"""Analytic costs for estimator tests, in the kernel's cost-callback form."""

import numpy as np

from hwsim.chip.chip import Chip
from hwsim.kernels._config import jit


@jit
def linear_cost(model, theta, pert, sample, want_base, out, counter):
    """C = a . theta (gradient a everywhere)."""
    a = model[0]
    c = 0.0
    for i in range(a.shape[0]):
        c += a[i] * (theta[i] + pert[i])
    out[0] = c
    if want_base:
        c0 = 0.0
        for i in range(a.shape[0]):
            c0 += a[i] * theta[i]
        out[1] = c0


@jit
def quadratic_cost(model, theta, pert, sample, want_base, out, counter):
    """C = 1/2 sum theta^2 (gradient theta)."""
    c = 0.0
    for i in range(theta.shape[0]):
        c += 0.5 * (theta[i] + pert[i]) ** 2
    out[0] = c
    if want_base:
        c0 = 0.0
        for i in range(theta.shape[0]):
            c0 += 0.5 * theta[i] ** 2
        out[1] = c0


def analytic_chip(cost_fn, theta0, model=(np.zeros(1),), **kw):
    """A chip whose 'network' is an analytic cost of its parameters."""
    return Chip(None, np.zeros((1, 0)), None, np.asarray(theta0, float), cost_fn=cost_fn,
                model=model, **kw)
