"""Minibatch costs (mgd.batch = B): C and C₀ are means over B samples held for τx steps.

Independent values: the naive MGD reference (tests/naive.py) with its own batch order, the
batch-mean gradient by central finite differences of a NumPy forward pass, and hand counts.
"""

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.network import MLP
from hwsim.chip.port import EmulatorPort
from hwsim.config import MgdConfig, RunConfig
from hwsim.exceptions import ConfigError
from hwsim.experiment import resume_experiment, run_experiment
from hwsim.learn.controller import MGDController
from tests import naive
from tests.costs import analytic_chip, linear_cost
from tests.test_mgd_facts import fd_gradient

SIZES = [3, 4, 2]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.random((10, 3))
    labels = rng.integers(0, 2, 10)
    return X, np.eye(2)[labels]


def make_chip(data, **kw):
    net = MLP(SIZES, "sigmoid", "auto", "mse")
    X, Y = data
    return Chip(net, X, Y, net.init_params(1, "uniform", -1.0, 1.0), seed=3, **kw)


def batch_cost(theta, X, Y, batch):
    return float(np.mean([naive.mlp_cost(theta, X[i], Y[i], SIZES) for i in batch]))


def test_batches_follow_the_permutation_stream_across_epochs(data):
    c = make_chip(data, batch=4, tau_x=2, eta=0.0)
    for k in range(7):  # 10 samples, batches of 4: presentation 2 straddles epochs 0 and 1
        c.advance(2)
        want = naive.batch_indices(3, k, 4, 10)
        assert c.model.sense.batch.tolist() == want and c.state.clock[0]["sample"] == want[0]
    seen = sum((naive.batch_indices(3, k, 4, 10) for k in range(5)), [])
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:20]) == list(range(10))


def test_cost_and_baseline_are_batch_means(data):
    X, Y = data
    c = make_chip(data, batch=5, eta=0.0, tau_x=4)
    theta = c.theta.copy()
    c.advance(1)
    batch = naive.batch_indices(3, 0, 5, 10)
    A = 0.05 / np.sqrt(c.P)
    pert = A * naive.cdma_code(3, 0, c.P)
    line = c.cost_line
    assert line["c0"] == pytest.approx(batch_cost(theta, X, Y, batch), rel=1e-13)
    assert line["c"] == pytest.approx(batch_cost(theta + pert, X, Y, batch), rel=1e-13)
    assert line["c"] != pytest.approx(naive.mlp_cost(theta + pert, X[batch[0]], Y[batch[0]],
                                                     SIZES), rel=1e-3)


@pytest.mark.parametrize("code,tau,mode", [("cdma", (1, 2, 3), "discrete"),
                                           ("walsh", (2, 3, 1), "discrete"),
                                           ("fdma", (1, 1, 5), "discrete"),
                                           ("cdma", (1, 4, 3), "analog")])
def test_training_matches_the_naive_reference(data, code, tau, mode):
    X, Y = data
    tau_p, tau_x, tau_theta = tau
    c = make_chip(data, batch=3, perturbation=code, tau_p=tau_p, tau_x=tau_x,
                  tau_theta=tau_theta, eta=2.0, mode=mode)
    theta0 = c.theta.copy()
    c.advance(90)
    ref, G = naive.mgd_reference(lambda th, b: batch_cost(th, X, Y, b), theta0, 10, 90, seed=3,
                                 code=code, eta=2.0, tau_p=tau_p, tau_x=tau_x,
                                 tau_theta=tau_theta, period=c.code_period, batch=3, mode=mode)
    assert np.allclose(c.theta, ref, rtol=0, atol=1e-12)
    assert np.allclose(c.grad, G, rtol=0, atol=1e-10)
    assert not np.allclose(c.theta, theta0, atol=1e-3)  # it trained


def test_walsh_estimate_is_the_batch_mean_gradient_over_P(data):
    """Two-sided Walsh over one code period H: Σ w wᵀ = H·I exactly, so G/H = ∇C_batch/P up
    to O(Δ²) (MGD fact: the estimate's expectation is ∇C/P; here the batch-mean ∇C)."""
    X, Y = data
    c = make_chip(data, batch=6, perturbation="walsh", estimate="two_sided", amplitude=1e-3,
                  eta=0.0, tau_x=10**6, tau_theta=10**6)
    theta = c.theta.copy()
    H = c.code_period
    c.advance(H)
    batch = naive.batch_indices(3, 0, 6, 10)
    g = fd_gradient(lambda th: batch_cost(th, X, Y, batch), theta)
    assert np.allclose(c.grad / H, g / c.P, rtol=1e-5, atol=1e-12)
    g_one = fd_gradient(lambda th: naive.mlp_cost(th, X[batch[0]], Y[batch[0]], SIZES), theta)
    assert np.linalg.norm(c.grad / H - g_one / c.P) > 0.1 * np.linalg.norm(g / c.P)


def test_cdma_estimate_expectation_is_the_batch_mean_gradient_over_P(data):
    """One-sided CDMA, one batch held for T steps: the mean of G per step approaches ∇C_batch/P
    (relative error ≈ sqrt(P/T) ≈ 0.04 here; O(Δ) bias far smaller)."""
    X, Y = data
    T = 20_000
    c = make_chip(data, batch=4, amplitude=0.01, eta=0.0, tau_x=T, tau_theta=T + 1)
    theta = c.theta.copy()
    c.advance(T)
    batch = naive.batch_indices(3, 0, 4, 10)
    want = fd_gradient(lambda th: batch_cost(th, X, Y, batch), theta) / c.P
    err = np.linalg.norm(c.grad / T - want) / np.linalg.norm(want)
    assert err < 0.15, err


def test_counters_count_B_inferences_per_pass(data):
    c = make_chip(data, batch=4, tau_x=3, eta=0.0)
    c.advance(7)  # inputs at steps 0, 3, 6: 3 baseline passes; 7 perturbed passes
    cnt = c.counters()
    macs = 3 * 4 + 4 * 2
    assert (cnt["perturbed_inferences"], cnt["baseline_inferences"]) == (28, 12)
    assert cnt["macs"] == 40 * macs and cnt["device_reads"] == 40 * c.P
    assert cnt["cost_broadcasts"] == 7 and cnt["integrator_ops"] == 7 * c.P


def test_chunking_and_state_restore_mid_batch_are_bit_identical(data):
    one = make_chip(data, batch=4, tau_x=3, tau_theta=2, eta=1.0)
    one.advance(50)
    parts = make_chip(data, batch=4, tau_x=3, tau_theta=2, eta=1.0)
    for n in (1, 4, 2, 7, 5):
        parts.advance(n)
    fresh = make_chip(data, batch=4, tau_x=3, tau_theta=2, eta=1.0)
    fresh.set_state(parts.get_state())  # step 19: in the middle of a held batch
    fresh.advance(31)
    assert np.array_equal(fresh.theta, one.theta) and np.array_equal(fresh.grad, one.grad)
    assert fresh.counters() == one.counters()


@pytest.mark.parametrize("mode,estimate", [("discrete", "one_sided"), ("discrete", "two_sided"),
                                           ("analog", "one_sided")])
def test_controller_over_the_port_equals_the_fused_driver(data, mode, estimate):
    rule = dict(perturbation="cdma", mode=mode, estimate=estimate, amplitude=0.05, eta=0.5,
                tau_p=2, tau_x=3, tau_theta=4)
    fused, ported = make_chip(data, batch=4, **rule), make_chip(data, batch=4, **rule)
    ctl = MGDController(EmulatorPort(ported), seed=3, batch=4, **rule)
    for n in (1, 5, 37, 157):  # chunked, mid-hold, batches straddling epochs
        fused.advance(n)
        ctl.run(n)
        assert np.array_equal(fused.theta, ported.theta) and np.array_equal(fused.grad, ctl.G)
        assert fused.cost_line["ctilde"] == ctl.ctilde
    a, b = fused.counters(), ported.counters()
    for k in ("perturbed_inferences", "baseline_inferences", "macs", "device_reads"):
        assert a[k] == b[k], k
    assert a["perturbed_inferences"] == 4 * 200 * (2 if estimate == "two_sided" else 1)


def test_batch_one_is_the_one_sample_chip(data):
    a = make_chip(data, tau_x=2, eta=1.0)
    b = make_chip(data, tau_x=2, eta=1.0, batch=1)
    assert b.fast_path_applies() and not make_chip(data, batch=2).fast_path_applies()
    a.advance(40)
    b.advance(40)
    assert np.array_equal(a.theta, b.theta) and MgdConfig().batch == 1


def test_refusals(data, tmp_path):
    with pytest.raises(ConfigError, match="^mgd.batch = 11: larger than the 10 training"):
        make_chip(data, batch=11)
    with pytest.raises(ConfigError, match="^mgd.batch = 2: minibatch costs need a network"):
        analytic_chip(linear_cost, np.zeros(4), model=(np.ones(4),), batch=2)
    with pytest.raises(ConfigError, match="^EmulatorPort.present: the chip takes minibatches "
                       "of 2 samples; got 3"):
        EmulatorPort(make_chip(data, batch=2)).present([1, 2, 3])


def test_a_digits_run_with_batches_resumes_bit_identically(tmp_path):
    base = {"seed": 5, "task": {"name": "digits", "n_train": 300, "n_test": 100},
            "network": {"sizes": [64, 10, 10], "cost": "cross_entropy"},
            "mgd": {"batch": 8, "tau_x": 3, "eta": 2.0}, "sim": {"steps": 900, "eval_every": 300}}
    whole = run_experiment(RunConfig.from_dict(base), tmp_path / "whole")
    half = dict(base, sim={"steps": 451, "eval_every": 300})  # stops mid-batch (τx = 3)
    run_experiment(RunConfig.from_dict(half), tmp_path / "half")
    resumed = resume_experiment(tmp_path / "half", ["sim.steps=900"])
    assert np.array_equal(whole.chip_.theta, resumed.chip_.theta)
    assert (tmp_path / "whole" / "metrics.csv").read_bytes() == \
        (tmp_path / "half" / "metrics.csv").read_bytes()
    s = whole.summary_["counters"]
    # τθ = 1: θ changes every step, so the baseline is remeasured on every step's batch
    assert s["perturbed_inferences"] == s["baseline_inferences"] == 8 * 900
