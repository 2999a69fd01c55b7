"""Analytic costs for estimator tests: the sense stage's LINEAR and QUADRATIC kinds."""

import numpy as np

from hwsim.chip.chip import Chip

linear_cost = "linear"  # C = a . theta (gradient a everywhere)
quadratic_cost = "quadratic"  # C = 1/2 sum theta^2 (gradient theta)


def analytic_chip(cost, theta0, model=None, **kw):
    """A chip whose 'network' is an analytic cost of its parameters; ``model[0]`` is the
    slope ``a`` of the linear cost."""
    a = None if model is None else model[0]
    return Chip(None, np.zeros((1, 0)), None, np.asarray(theta0, float), analytic=(cost, a), **kw)
