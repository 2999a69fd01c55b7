"""Two-sided estimates (issue 9): C̃ = (C(θ + θ̃) − C(θ − θ̃))/2, one more inference per step."""

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.devices import DeviceArray, params_for
from hwsim.chip.network import MLP
from hwsim.chip.port import EmulatorPort
from hwsim.config import RunConfig
from hwsim.exceptions import ConfigError
from hwsim.learn.controller import MGDController
from hwsim.tasks import load_task
from tests.costs import analytic_chip, linear_cost, quadratic_cost


@pytest.mark.parametrize("estimate", ["one_sided", "two_sided"])
def test_both_give_the_slope_of_a_linear_cost(estimate):
    a = np.array([1.0, -2.0, 3.0, 0.5])
    chip = analytic_chip(linear_cost, np.full(4, 0.3), model=(a,), perturbation="tdma",
                         amplitude=0.1, eta=0.0, tau_theta=10**9, estimate=estimate)
    chip.advance(4)  # one TDMA sweep
    np.testing.assert_allclose(chip.grad, a, rtol=1e-12)


def test_two_sided_removes_the_known_one_sided_bias():
    """C = ½θ², θ = 0.5, TDMA, Δ = 0.1: one-sided 0.55 (the O(Δ) bias, case M2), two-sided 0.5."""
    got = {}
    for estimate in ("one_sided", "two_sided"):
        chip = analytic_chip(quadratic_cost, [0.5], perturbation="tdma", amplitude=0.1, eta=0.0,
                             tau_theta=10**9, estimate=estimate)
        chip.advance(1)
        got[estimate] = chip.grad[0]
    assert got["one_sided"] == pytest.approx(0.55, rel=1e-12)
    assert got["two_sided"] == pytest.approx(0.5, rel=1e-12)


def test_two_sided_counts_two_inferences_per_step_and_no_baseline():
    chip = analytic_chip(linear_cost, np.zeros(3), model=(np.ones(3),), tau_x=5, eta=0.1,
                         estimate="two_sided")
    chip.advance(20)
    c = chip.counters()
    assert c["perturbed_inferences"] == 40 and c["baseline_inferences"] == 0


@pytest.mark.parametrize("device", [False, True], ids=["ideal", "device"])
@pytest.mark.parametrize("target", ["weights", "nodes"])
@pytest.mark.parametrize("code", ["cdma", "walsh", "fdma", "tdma"])
def test_two_sided_controller_over_port_equals_fused_path(code, target, device):
    ds = load_task("xor")
    net = MLP([2, 3, 1])
    rule = dict(amplitude=0.1, eta=0.5, tau_p=2, tau_x=3, tau_theta=4, target=target,
                estimate="two_sided")
    chips = []
    for _ in range(2):
        dev = None
        if device:
            p = params_for("ConstantStep", {"dw_min": 0.001, "w_max": 2.0, "w_min": -2.0,
                                            "read_noise": "additive", "read_noise_std": 0.002})
            dev = DeviceArray(p, net.n_params, 3)
        chips.append(Chip(net, ds.X_train, ds.Y_train, net.init_params(3), seed=3,
                          perturbation=code, device=dev, **rule))
    assert not chips[0].fast_path_applies()
    ctl = MGDController(EmulatorPort(chips[1]), seed=3, perturbation=code, **rule)
    for n in (1, 6, 41, 150):
        chips[0].advance(n)
        ctl.run(n)
        assert np.array_equal(chips[0].theta, chips[1].theta)
        assert np.array_equal(chips[0].grad, ctl.G)
    assert chips[0].counters()["perturbed_inferences"] == 2 * 198
    assert not np.array_equal(chips[0].theta, net.init_params(3))


def test_two_sided_needs_discrete_mode_named_in_the_config():
    with pytest.raises(ConfigError, match="mgd.estimate"):
        RunConfig.from_dict({"mgd": {"estimate": "two_sided", "mode": "analog", "tau_x": 3}})


def test_two_sided_trains_xor_as_often_as_one_sided():
    """Fact 7's setting (η = 1, Δ = 0.05), 16 seeds, 40,000 steps: the same success count
    within two seeds, and the one-sided count itself in fact 7's band."""
    ds = load_task("xor")
    net = MLP([2, 2, 1])
    ok = {}
    for est in ("one_sided", "two_sided"):
        ok[est] = 0
        for seed in range(16):
            chip = Chip(net, ds.X_train, ds.Y_train, net.init_params(seed, "uniform"),
                        seed=seed, amplitude=0.05, eta=1.0, estimate=est)
            chip.advance(40_000)
            ok[est] += net.evaluate(chip.theta, ds.X_test, ds.Y_test, ds.labels_test)[1] == 1.0
    assert 6 <= ok["one_sided"] <= 14 and abs(ok["two_sided"] - ok["one_sided"]) <= 2, ok
