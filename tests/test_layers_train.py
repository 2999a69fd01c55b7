"""Training layer networks through the whole product (issue 11): MGD facts 1 and 2 on a small
conv net (independent value: central finite differences of the chip's cost), `hwsim run`
with conv layers on ideal and pulsed synapses, counters against hand counts, refusals."""

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.layers import build_network
from hwsim.config import NetworkConfig, RunConfig
from hwsim.exceptions import ConfigError
from hwsim.experiment import resume_experiment, run_experiment
from tests import naive
from tests.test_mgd_facts import fd_gradient

LAYERS = [dict(type="conv2d", channels=2, kernel=3), dict(type="maxpool", size=2, stride=1),
          dict(type="flatten"), dict(type="dense", units=2)]
#: conv 2·(3·3 outputs)·(1·3·3) = 162 MACs, dense 8·2 = 16 (hand count)
MACS = 162 + 16


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(2)
    X = rng.random((10, 25))
    labels = rng.integers(0, 2, 10)
    net = build_network(NetworkConfig(layers=LAYERS, activation="relu"), (5, 5))
    return net, X, np.eye(2)[labels], labels


def make_chip(data, **kw):
    net, X, Y, _ = data
    return Chip(net, X, Y, net.init_params(1, "uniform", -1.0, 1.0), seed=3, **kw)


def test_fact1_cdma_expectation_is_the_batch_mean_gradient_over_P(data):
    net, X, Y, labels = data
    T = 20_000
    c = make_chip(data, batch=4, amplitude=0.01, eta=0.0, tau_x=T, tau_theta=T + 1)
    theta = c.theta.copy()
    c.advance(T)
    batch = naive.batch_indices(3, 0, 4, 10)
    want = fd_gradient(lambda th: net.evaluate(th, X[batch], Y[batch], labels[batch])[0],
                       theta) / c.P
    assert c.P == 38
    err = np.linalg.norm(c.grad / T - want) / np.linalg.norm(want)
    assert err < 0.15, err


def test_fact2_unbiased_over_the_dataset(data):
    net, X, Y, labels = data
    N = 60_000
    c = make_chip(data, amplitude=1e-3, eta=0.0, tau_theta=N + 1)
    theta = c.theta.copy()
    c.advance(N)
    true = fd_gradient(lambda th: net.evaluate(th, X, Y, labels)[0], theta)
    ratio = np.linalg.norm(c.grad) * c.P / (N * np.linalg.norm(true))
    cos = c.grad @ true / (np.linalg.norm(c.grad) * np.linalg.norm(true))
    assert abs(ratio - 1) < 0.06 and cos > 0.995, (ratio, cos)


@pytest.mark.parametrize("estimate", ["one_sided", "two_sided"])
def test_node_perturbation_per_conv_output_element_estimates_grad_over_M(data, estimate):
    """Nodes = every conv output element and dense pre-activation (M = 2·3·3 + 2 = 20); each
    conv weight integrates Σ over its output grid of g·(its input there): E[G] = ∇C/M for
    the held sample (mgd.md fact 1 with M in place of P; docs/algorithms.md)."""
    _, X, Y, labels = data
    net = build_network(NetworkConfig(layers=LAYERS, activation="tanh"), (5, 5))  # no dead units
    T = 20_000
    c = Chip(net, X, Y, net.init_params(1, "uniform", -1.0, 1.0), seed=3, target="nodes",
             estimate=estimate, amplitude=0.01, eta=0.0, tau_x=T + 1, tau_theta=T + 1)
    theta = c.theta.copy()
    c.advance(T)
    i = int(c.state.clock[0]["sample"])
    want = fd_gradient(lambda th: net.evaluate(th, X[i:i + 1], Y[i:i + 1], labels[i:i + 1])[0],
                       theta)
    M = c.n_perturbed
    assert M == 20
    err = np.linalg.norm(c.grad / T - want / M) / np.linalg.norm(want / M)
    assert err < 0.06, err  # measured 0.018 (one-sided); sqrt(M/T) ≈ 0.03
    from hwsim.chip.port import EmulatorPort
    with pytest.raises(ConfigError, match="^EmulatorPort: node perturbation of a conv network"):
        EmulatorPort(c)


def test_counters_count_conv_macs_and_every_parameter_read(data):
    c = make_chip(data, batch=4, tau_x=3, eta=0.0)
    c.advance(7)  # new batches at steps 0, 3, 6: 3 baseline passes, 7 perturbed
    cnt = c.counters()
    assert (cnt["perturbed_inferences"], cnt["baseline_inferences"]) == (28, 12)
    assert cnt["macs"] == 40 * MACS and cnt["device_reads"] == 40 * 38
    assert c.network.per_inference_counts()[0] == MACS


def test_chunked_advance_and_state_restore_are_bit_identical(data):
    one = make_chip(data, batch=3, tau_x=2, eta=0.5)
    one.advance(40)
    parts = make_chip(data, batch=3, tau_x=2, eta=0.5)
    for n in (1, 6, 13):
        parts.advance(n)
    fresh = make_chip(data, batch=3, tau_x=2, eta=0.5)
    fresh.set_state(parts.get_state())
    fresh.advance(20)
    assert np.array_equal(fresh.theta, one.theta) and np.array_equal(fresh.grad, one.grad)


RUN = {"seed": 2, "task": {"name": "digits", "n_train": 240, "n_test": 80},
       "network": {"activation": "relu", "cost": "cross_entropy", "layers": [
           {"type": "conv2d", "channels": 3, "kernel": 3}, {"type": "maxpool", "size": 2},
           {"type": "flatten"}, {"type": "dense", "units": 10}]},
       "mgd": {"batch": 8, "amplitude": 0.01, "eta": 5.0},
       "sim": {"steps": 600, "eval_every": 300}}


@pytest.mark.parametrize("device", ["ideal", "idealized"])
def test_hwsim_run_trains_a_conv_net_and_resumes_bit_identically(tmp_path, device):
    cfg = RunConfig.from_dict(dict(RUN, chip={"device": device}))
    run = run_experiment(cfg, tmp_path / "whole")
    m = run.metrics_
    assert m[-1]["train_cost"] < 0.95 * m[0]["train_cost"]
    s = run.summary_
    assert s["n_params"] == 3 * 9 + 3 + 3 * 3 * 3 * 10 + 10
    # 8 samples per pass; conv 3·(6·6)·9 + dense 27·10 MACs per inference (hand count)
    macs = 3 * 36 * 9 + 270
    inf = s["counters"]["perturbed_inferences"] + s["counters"]["baseline_inferences"]
    assert s["counters"]["perturbed_inferences"] == 8 * 600
    assert s["counters"]["macs"] == inf * macs
    if device != "ideal":
        assert s["counters"]["write_pulses_up"] + s["counters"]["write_pulses_down"] > 0
        return
    half = dict(RUN, chip={"device": device}, sim={"steps": 301, "eval_every": 300})
    run_experiment(RunConfig.from_dict(half), tmp_path / "half")
    resumed = resume_experiment(tmp_path / "half", ["sim.steps=600"])
    assert np.array_equal(run.chip_.theta, resumed.chip_.theta)


# Slow: a float32 layer network is its own specialisation of the step driver (about 2 min of
# compilation on 2 cores); float32 conv numerics are in the default suite
# (tests/test_layers_kernels.py, against the naive loops and across thread counts).
@pytest.mark.slow
def test_a_float32_conv_run_trains_and_resumes_bit_identically(tmp_path):
    """sim.dtype = float32: the layer network's forward passes run in float32 (sgemm), the
    run trains and resumes bit for bit."""
    f = dict(RUN, sim={"steps": 600, "eval_every": 300, "dtype": "float32"})
    run = run_experiment(RunConfig.from_dict(f), tmp_path / "whole")
    assert run.network_.dtype == np.float32 and run.chip_.theta.dtype == np.float32
    m = run.metrics_
    assert m[-1]["train_cost"] < 0.95 * m[0]["train_cost"]
    half = dict(RUN, sim={"steps": 301, "eval_every": 300, "dtype": "float32"})
    run_experiment(RunConfig.from_dict(half), tmp_path / "half")
    resumed = resume_experiment(tmp_path / "half", ["sim.steps=600"])
    assert np.array_equal(run.chip_.theta, resumed.chip_.theta)


@pytest.mark.parametrize("over,msg", [
    ({"chip": {"out_bound": 2.0}}, r"^network.layers: converters and neuron variation"),
    ({"chip": {"inp_bound": 1.0, "dac_bits": 6}}, r"^network.layers: converters and neuron"),
    ({"chip": {"device": "pcm_pair"}}, r"^network.layers: device read noise is not modelled"),
    ({"learn": {"algorithm": "backprop"}}, r"network.layers: learn.algorithm = 'backprop' "),
    # a segfault before: the batched node pass assumed a dense stack
    ({"mgd": {"batch": 8, "target": "nodes"}}, r"^mgd.batch = 8: node perturbation of a layer "),
])
def test_refusals_are_one_line_errors(tmp_path, over, msg):
    with pytest.raises(ConfigError, match=msg):
        run_experiment(RunConfig.from_dict({**RUN, **over}), tmp_path / "r")


def test_gradient_diagnostics_run_on_a_conv_net(tmp_path):
    """The exact gradient of a conv net (hwsim.chip.gradient, tested against finite
    differences in test_layers_kernels.py) feeds [diagnostics] at evaluation ticks."""
    d = dict(RUN, diagnostics={"enabled": True}, sim={"steps": 200, "eval_every": 100})
    run = run_experiment(RunConfig.from_dict(d), tmp_path / "diag")
    row = run.metrics_[-1]
    assert np.isfinite(row["grad_cos"]) and -1 <= row["grad_cos"] <= 1, row
