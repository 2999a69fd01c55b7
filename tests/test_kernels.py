"""Every kernel against its slow reference in tests/naive.py (style rule 12)."""

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.network import MLP
from hwsim.tasks import load_task
from tests import naive
from tests.costs import analytic_chip, linear_cost


@pytest.mark.parametrize("sizes,act,out_act,cost", [
    ([2, 2, 1], "sigmoid", "auto", "mse"),
    ([5, 17, 3], "relu", "linear", "mse"),
    ([6, 9, 8, 4], "tanh", "auto", "cross_entropy"),
    ([3, 4], "sigmoid", "softmax", "mse"),
])
def test_mlp_evaluate_matches_reference(sizes, act, out_act, cost):
    rng = np.random.default_rng(0)
    net = MLP(sizes, act, out_act, cost)
    theta = rng.normal(size=net.n_params)
    X = rng.random((20, sizes[0]))
    labels = rng.integers(0, sizes[-1], 20) if sizes[-1] > 1 else rng.integers(0, 2, 20)
    Y = np.eye(sizes[-1])[labels] if sizes[-1] > 1 else labels[:, None].astype(float)
    c, acc = net.evaluate(theta, X, Y, labels)
    ref = np.mean([naive.mlp_cost(theta, X[i], Y[i], sizes, act, net.output_activation, cost)
                   for i in range(20)])
    assert c == pytest.approx(ref, rel=1e-12)
    assert 0.0 <= acc <= 1.0


@pytest.mark.parametrize("code", ["cdma", "walsh", "fdma", "tdma"])
@pytest.mark.parametrize("mode", ["discrete", "analog"])
def test_mgd_kernel_matches_reference(code, mode):
    ds = load_task("parity", bits=3)
    sizes = [3, 4, 1]
    net = MLP(sizes)
    theta0 = net.init_params(1, "uniform", -1, 1)
    kw = dict(amplitude=0.05, eta=0.3, tau_p=2, tau_x=3, tau_theta=5, tau_hp=4.0)
    chip = Chip(net, ds.X_train, ds.Y_train, theta0, seed=9, perturbation=code, mode=mode, **kw)
    n = 400
    chip.advance(n)
    cost = lambda th, s: naive.mlp_cost(th, ds.X_train[s], ds.Y_train[s], sizes)
    ref, G = naive.mgd_reference(cost, theta0, len(ds.X_train), n, seed=9, code=code, mode=mode,
                                 period=chip.code_period, **kw)
    np.testing.assert_allclose(chip.theta, ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(chip.grad, G, rtol=1e-9, atol=1e-12)
    assert not np.array_equal(chip.theta, theta0)


def test_baseline_recomputed_only_when_input_or_theta_changes():
    """With tau_x = tau_theta = 10 the baseline C0 is one forward pass per 10 steps: counted."""
    chip = analytic_chip(linear_cost, np.zeros(3), model=(np.ones(3),), tau_x=10, tau_theta=10,
                         eta=0.1)
    chip.advance(100)
    c = chip.counters()
    assert c["perturbed_inferences"] == 100 and c["baseline_inferences"] == 10
    # eta = 0: an update does not change theta, so only new inputs make the baseline stale
    chip2 = analytic_chip(linear_cost, np.zeros(3), model=(np.ones(3),), tau_x=20,
                          tau_theta=10, eta=0.0)
    chip2.advance(100)
    assert chip2.counters()["baseline_inferences"] == 5


def test_chunking_does_not_change_results():
    ds = load_task("digits")
    net = MLP([64, 16, 10], cost="cross_entropy")
    a = Chip(net, ds.X_train, ds.Y_train, net.init_params(0), seed=1, eta=2.0, tau_p=3)
    b = Chip(net, ds.X_train, ds.Y_train, net.init_params(0), seed=1, eta=2.0, tau_p=3)
    a.advance(5000)
    for n in (1, 2, 997, 3, 1999, 998, 1000):
        b.advance(n)
    assert np.array_equal(a.theta, b.theta) and np.array_equal(a.grad, b.grad)


def test_state_round_trip_continues_bit_identically():
    ds = load_task("digits")
    net = MLP([64, 16, 10])
    a = Chip(net, ds.X_train, ds.Y_train, net.init_params(0), seed=1, eta=2.0, tau_p=3,
             tau_x=2, tau_theta=4)
    a.advance(3001)  # mid-epoch, mid-hold
    state = a.get_state()
    a.advance(4000)
    b = Chip(net, ds.X_train, ds.Y_train, net.init_params(9), seed=1, eta=2.0, tau_p=3,
             tau_x=2, tau_theta=4)
    b.set_state(state)
    b.advance(4000)
    assert np.array_equal(a.theta, b.theta) and np.array_equal(a.grad, b.grad)
    assert a.step == b.step == 7001


def test_R2_nan_guard_fires_with_production_flags():  # case R2
    from hwsim.kernels._config import JIT_OPTIONS
    from hwsim.kernels import step as K

    assert JIT_OPTIONS["fastmath"] is False
    ds = load_task("digits")
    net = MLP([64, 32, 10])
    theta = net.init_params(0)
    theta[100] = np.nan
    chip = Chip(net, ds.X_train, ds.Y_train, theta)
    status = chip.advance(10)
    assert status == K.STATUS_NONFINITE_COST
    assert chip.bad_step == 0
    assert "weight layer0.W[1, 36]" in chip.nonfinite_component()


@pytest.mark.parametrize("sizes", [[2, 2, 1], [13, 9, 8, 3], [64, 32, 10]])
def test_fused_forward_is_bit_identical_to_two_passes(sizes):
    from hwsim.kernels import mlp as K

    rng = np.random.default_rng(1)
    net = MLP(sizes, "tanh", "softmax", "cross_entropy")
    theta, pert = rng.normal(size=net.n_params), 0.01 * rng.normal(size=net.n_params)
    x = rng.random(sizes[0])
    n_act = sum(sizes[1:])
    a, b, c, d = (np.zeros(n_act) for _ in range(4))
    off = K.forward2(theta, pert, x, net.sizes, net.kinds[0], net.kinds[1], a, b)
    assert off == K.forward(theta, pert, True, x, net.sizes, net.kinds[0], net.kinds[1], c)
    K.forward(theta, pert, False, x, net.sizes, net.kinds[0], net.kinds[1], d)
    assert np.array_equal(a, c) and np.array_equal(b, d)


@pytest.mark.parametrize("act,out_act", [("relu", "linear"), ("tanh", "auto"),
                                         ("sigmoid", "auto"), ("relu", "softmax")])
def test_R2_guard_fires_mid_run_for_every_activation(act, out_act):  # case R2
    """A NaN appearing in a weight at step 37 stops the kernel at step 37, whatever the
    activation (ReLU must propagate NaN, not clip it to 0)."""
    from hwsim.kernels import step as K

    ds = load_task("digits")
    cost = "cross_entropy" if out_act == "softmax" else "mse"
    net = MLP([64, 16, 10], act, out_act, cost)
    chip = Chip(net, ds.X_train, ds.Y_train, net.init_params(0), eta=0.5)
    assert chip.advance(37) == K.STATUS_OK
    chip.theta[100] = np.nan
    assert chip.advance(10) != K.STATUS_OK
    assert chip.bad_step == 37 and chip.step == 37


def test_checkpoint_state_does_not_depend_on_where_a_run_was_resumed():
    """The data-order epoch is derived state: get_state never records it (E1: same files)."""
    ds = load_task("parity", bits=3)
    net = MLP([3, 4, 1])
    a = Chip(net, ds.X_train, ds.Y_train, net.init_params(0), tau_x=10)
    a.advance(1000)
    b = Chip(net, ds.X_train, ds.Y_train, net.init_params(0), tau_x=10)
    b.advance(995)
    c = Chip(net, ds.X_train, ds.Y_train, net.init_params(0), tau_x=10)
    c.set_state(b.get_state())
    c.advance(5)  # no new sample is presented in these 5 steps
    sa, sc = a.get_state(), c.get_state()
    assert all(np.array_equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize("kw,match", [
    ({"tau_p": 2.5}, "mgd.tau_p = 2.5"), ({"tau_theta": 0}, "mgd.tau_theta = 0"),
    ({"seed": 7.9}, "seed = 7.9"), ({"fdma_period": 25.5}, "fdma_period"),
    ({"amplitude": 0.0}, "mgd.amplitude = 0.0"), ({"eta": -1.0}, "mgd.eta = -1.0"),
    ({"amplitude": float("nan")}, "mgd.amplitude = nan")])
def test_chip_api_refuses_what_it_would_truncate(kw, match):  # case C2 kind
    from hwsim.exceptions import ConfigError

    ds = load_task("xor")
    net = MLP([2, 2, 1])
    with pytest.raises(ConfigError, match=match):
        Chip(net, ds.X_train, ds.Y_train, net.init_params(0), **kw)


def test_network_and_advance_refuse_non_integers():
    from hwsim.exceptions import ConfigError

    with pytest.raises(ConfigError, match="integers"):
        MLP([2, 2.5, 1])
    ds = load_task("xor")
    net = MLP([2, 2, 1])
    chip = Chip(net, ds.X_train, ds.Y_train, net.init_params(0))
    with pytest.raises(ConfigError, match="n_steps = 2.7"):
        chip.advance(2.7)
