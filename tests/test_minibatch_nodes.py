"""Node perturbation with minibatches: per-sample node codes (mgd.target = "nodes", batch B).

Node j of sample b is perturbed by code entry b·M + j, and each synapse integrates
Σ_b g_{b,i}·x_{b,j}: E[G] = batch-mean ∇C/(M·B). Independent values: the batch-mean gradient
by finite differences of a NumPy forward pass, NumPy node passes through the converters, hand
counts, and the plain-Python controller over the port.
"""

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.network import MLP
from hwsim.chip.port import EmulatorPort
from hwsim.config import MgdConfig
from hwsim.learn.controller import MGDController
from tests import naive
from tests.test_mgd_facts import fd_gradient
from tests.test_minibatch_periph import NOISY, mlp_chip, noisy_device, periph_chip, periph_cost

SIZES = [3, 4, 2]
M = 6  # nodes of one sample: 4 hidden + 2 output


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.random((10, 3))
    return X, np.eye(2)[rng.integers(0, 2, 10)]


def node_chip(data, **kw):
    net = MLP(SIZES, "sigmoid", "auto", "mse")
    X, Y = data
    return Chip(net, X, Y, net.init_params(1, "uniform", -1.0, 1.0), seed=3, target="nodes",
                **kw)


def batch_cost(X, Y, batch):
    return lambda th: np.mean([naive.mlp_cost(th, X[i], Y[i], SIZES) for i in batch])


def test_every_sample_has_its_own_node_code(data):
    c = node_chip(data, batch=3)
    assert c.n_perturbed == 3 * M and c.state.applied.shape == (3 * M,)
    assert MgdConfig(batch=3, target="nodes").batch == 3  # no longer refused


def test_walsh_two_sided_estimate_is_the_batch_mean_gradient_over_MB(data):
    """Walsh codes over one period H: Σ ñ ñᵀ = H·A²·I exactly, so G/H = ∇C_batch/(M·B) up to
    the O(Δ²) terms of the central difference and of x_j's own dependence on the code."""
    X, Y = data
    B = 3
    c = node_chip(data, batch=B, perturbation="walsh", estimate="two_sided", amplitude=1e-4,
                  eta=0.0, tau_x=10**6, tau_theta=10**6)
    theta, H = c.theta.copy(), c.code_period
    c.advance(H)
    batch = naive.batch_indices(3, 0, B, 10)
    want = fd_gradient(batch_cost(X, Y, batch), theta) / (M * B)
    assert np.linalg.norm(c.grad / H - want) < 1e-4 * np.linalg.norm(want)  # 9e-6 measured
    # a code shared by the batch would correlate each synapse with one sample's activity only
    first = fd_gradient(batch_cost(X, Y, batch[:1]), theta) / (M * B)
    assert np.linalg.norm(c.grad / H - first) > 0.1 * np.linalg.norm(want)


def test_cdma_expectation_is_the_batch_mean_gradient_over_MB(data):
    X, Y = data
    B, T = 4, 20_000
    c = node_chip(data, batch=B, amplitude=0.01, eta=0.0, tau_x=T, tau_theta=T + 1)
    theta = c.theta.copy()
    c.advance(T)
    want = fd_gradient(batch_cost(X, Y, naive.batch_indices(3, 0, B, 10)), theta) / (M * B)
    assert np.linalg.norm(c.grad / T - want) / np.linalg.norm(want) < 0.15


def test_node_costs_through_the_periphery_per_sample(data):
    """Sample b's node code ñ[b·M:(b+1)·M] is added to its neurons' analog pre-activations
    before the ADC; its converters draw noise at sub-coordinate k + b·2³²."""
    c = periph_chip(data, batch=3, target="nodes", eta=0.0, tau_x=4)
    m, theta = c.model.sense, c.theta.copy()
    c.advance(1)
    code = c.state.applied.copy()
    batch = naive.batch_indices(3, 0, 3, 10)
    base = np.mean([periph_cost(m, theta, m.X[i], m.Y[i], 0, 1 + b * 2**32)
                    for b, i in enumerate(batch)])
    pert = np.mean([periph_cost(m, theta, m.X[i], m.Y[i], 0, b * 2**32,
                                npert=code[b * M:(b + 1) * M]) for b, i in enumerate(batch)])
    assert c.cost_line["c0"] == pytest.approx(base, rel=1e-12)
    assert c.cost_line["c"] == pytest.approx(pert, rel=1e-12)
    assert NOISY["out_noise"] > 0


def test_counters_with_per_sample_node_codes(data):
    c = node_chip(data, batch=4, tau_x=3, eta=0.0)
    c.advance(7)
    cnt = c.counters()
    assert (cnt["perturbed_inferences"], cnt["baseline_inferences"]) == (28, 12)
    assert cnt["integrator_ops"] == 7 * M * 4 and cnt["synapse_multiplies"] == 7 * 26 * 4
    assert cnt["code_generations"] == 7 * M * 4  # a new code of M·B values every step (τp = 1)


def test_chunking_and_state_restore_mid_batch_are_bit_identical(data):
    kw = dict(batch=3, tau_x=3, tau_theta=2, eta=1.0, amplitude=0.1)
    one = node_chip(data, **kw)
    one.advance(50)
    parts = node_chip(data, **kw)
    for n in (1, 4, 2, 7, 5):
        parts.advance(n)
    fresh = node_chip(data, **kw)
    fresh.set_state(parts.get_state())  # step 19: in the middle of a held batch
    fresh.advance(31)
    assert np.array_equal(fresh.theta, one.theta) and np.array_equal(fresh.grad, one.grad)
    assert fresh.counters() == one.counters()


RULE = dict(perturbation="cdma", amplitude=0.1, eta=0.5, tau_p=2, tau_x=3, tau_theta=4,
            target="nodes")


@pytest.mark.parametrize("case", ["mlp-discrete", "mlp-two_sided", "mlp-analog",
                                  "periph-discrete", "reads-discrete"])
def test_controller_over_the_port_equals_the_fused_driver(data, case):
    what, how = case.split("-")
    rule = dict(RULE, mode="analog" if how == "analog" else "discrete",
                estimate="two_sided" if how == "two_sided" else "one_sided")
    if what == "mlp":
        fused, ported = (node_chip(data, batch=3, **{k: v for k, v in rule.items()
                                                      if k != "target"}) for _ in range(2))
    elif what == "periph":
        fused, ported = (periph_chip(data, batch=3, **rule) for _ in range(2))
    else:
        fused, ported = (mlp_chip(data, noisy_device(), batch=3, read_noise_model="per_weight",
                                  **rule) for _ in range(2))
    port = EmulatorPort(ported)
    assert port.n_nodes == 3 * M
    ctl = MGDController(port, seed=3, batch=3, **rule)
    theta0 = fused.theta.copy()
    for n in (1, 5, 37, 157):
        fused.advance(n)
        ctl.run(n)
        assert np.array_equal(fused.theta, ported.theta) and np.array_equal(fused.grad, ctl.G)
        assert fused.cost_line["ctilde"] == ctl.ctilde
    a, b = fused.counters(), ported.counters()
    for k in ("perturbed_inferences", "baseline_inferences", "macs", "device_reads",
              "dac_conversions", "adc_conversions"):
        assert a[k] == b[k], k
    for k, v in ctl.counters.items():
        assert a[k] == v, k
    assert not np.allclose(fused.theta, theta0, atol=1e-3)  # it trained
