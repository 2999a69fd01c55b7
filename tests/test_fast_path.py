"""The fused fast path (hwsim.kernels.fast) against the general stage driver, bit for bit."""

import itertools

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.network import MLP

CHUNKS = (1, 997, 3, 40, 1, 258)


def _chip(sizes, code, tau_theta, tau_p, tau_x, eta, dtype, fast, seed=3, act="sigmoid",
          cost="mse", n_samples=37):
    rng = np.random.default_rng(seed)
    net = MLP(sizes, activation=act, cost=cost)
    X = rng.random((n_samples, sizes[0]))
    lab = rng.integers(0, max(2, sizes[-1]), n_samples)
    Y = lab[:, None].astype(float) if sizes[-1] == 1 else np.eye(sizes[-1])[lab]
    theta0 = rng.normal(0.0, 0.5, net.n_params)
    chip = Chip(net, X, Y, theta0, seed=seed, perturbation=code, amplitude=0.05, eta=eta,
                tau_p=tau_p, tau_x=tau_x, tau_theta=tau_theta, dtype=dtype)
    chip.fast_path = fast
    return chip


def _same_state(a, b):
    sa, sb = a.get_state(), b.get_state()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].tobytes() == sb[k].tobytes(), k


def _run_pair(chunks, **kw):
    fast, gen = _chip(fast=True, **kw), _chip(fast=False, **kw)
    assert fast.fast_path_applies() and not gen.fast_path_applies()
    for n in chunks:
        assert fast.advance(n) == gen.advance(n) == 0
        _same_state(fast, gen)
    return fast, gen


@pytest.mark.parametrize("code,tau_theta,tau_p,tau_x,eta,dtype", list(itertools.product(
    ("cdma", "walsh"), (1, 3), (1, 2), (1, 4), (0.0, 0.5), (np.float64, np.float32))))
def test_fast_matches_general(code, tau_theta, tau_p, tau_x, eta, dtype):
    _run_pair(CHUNKS, sizes=(5, 7, 3), code=code, tau_theta=tau_theta, tau_p=tau_p,
              tau_x=tau_x, eta=eta, dtype=dtype)


@pytest.mark.parametrize("sizes", [(2, 2, 1), (64, 32, 10), (70, 9, 3, 2), (131, 67, 5)])
def test_fast_matches_general_sizes(sizes):
    # rows longer than 64, rows not aligned to words, more than two layers
    _run_pair((1, 120, 7), sizes=sizes, code="cdma", tau_theta=1, tau_p=1, tau_x=1, eta=1.0,
              dtype=np.float64)


@pytest.mark.parametrize("act,cost", [("relu", "cross_entropy"), ("tanh", "mse")])
def test_fast_matches_general_kinds(act, cost):
    _run_pair((50, 11), sizes=(9, 6, 4), code="walsh", tau_theta=2, tau_p=1, tau_x=1, eta=0.3,
              dtype=np.float32, act=act, cost=cost)


def test_switching_paths_between_calls():
    kw = dict(sizes=(12, 8, 3), code="cdma", tau_theta=1, tau_p=2, tau_x=3, eta=0.7,
              dtype=np.float64)
    a, ref = _chip(fast=True, **kw), _chip(fast=False, **kw)
    for i, n in enumerate((5, 8, 1, 13, 2, 100)):
        a.fast_path = i % 2 == 0
        a.advance(n)
        ref.advance(n)
        _same_state(a, ref)
    # a checkpoint of the fast chip resumes on the general path and vice versa
    st = a.get_state()
    b = _chip(fast=False, **kw)
    b.set_state(st)
    a.fast_path = True
    a.advance(77)
    b.advance(77)
    _same_state(a, b)


def test_nan_weight_stops_at_that_step():
    kw = dict(sizes=(6, 4, 2), code="cdma", tau_theta=1, tau_p=1, tau_x=1, eta=0.5,
              dtype=np.float64)
    a, b = _chip(fast=True, **kw), _chip(fast=False, **kw)
    a.advance(10)
    b.advance(10)
    a.theta[3] = np.nan
    b.theta[3] = np.nan
    sa, sb = a.advance(50), b.advance(50)
    assert sa == sb == 1  # STATUS_NONFINITE_COST
    assert a.bad_step == b.bad_step == 10
    _same_state(a, b)
