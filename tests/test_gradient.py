"""The analytic gradient of the emulated network (hwsim.chip.gradient) against central finite
differences of the chip's own forward pass and cost (the Numba kernels: MLP.evaluate for
∂C/∂θ, the node-perturbation sense pass for ∂C/∂z), on every activation, cost and periphery
setting. The reference never calls the backprop code."""

import numpy as np
import pytest

from hwsim.chip.gradient import backprop
from hwsim.chip.network import MLP
from hwsim.config import RunConfig
from hwsim.exceptions import ConfigError
from hwsim.kernels.nodes import measure_nodes

SIZES = [3, 4, 3, 2]


def chip_cfg(**kw):
    return RunConfig.from_dict({"chip": kw}).chip


def data(n, seed=0, n_out=2):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.5, 1.5, (n, SIZES[0]))
    labels = rng.integers(0, n_out, n)
    Y = np.eye(n_out)[labels] * 0.8 + 0.1
    return X, Y, labels


def fd_theta(net, theta, X, Y, labels, h):
    """Central differences of the kernels' mean cost over (X, Y)."""
    g = np.zeros(net.n_params)
    for i in range(net.n_params):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        g[i] = (net.evaluate(tp, X, Y, labels)[0] - net.evaluate(tm, X, Y, labels)[0]) / (2 * h)
    return g


def fd_nodes(net, theta, X, Y, h):
    """Central differences of the mean cost in each node pre-activation, through the chip's
    node-perturbation sense pass (the perturbation enters where the chip's code does)."""
    m = net.sense_model(X, Y)
    M = int(net.sizes[1:].sum())
    out = np.zeros(2)
    g = np.zeros(M)
    for i in range(M):
        c = []
        for sign in (1.0, -1.0):
            npert = np.zeros(M)
            npert[i] = sign * h
            tot = 0.0
            for s in range(len(X)):
                measure_nodes(m, theta, npert, s, False, out, 0)
                tot += out[0]
            c.append(tot / len(X))
        g[i] = (c[0] - c[1]) / (2 * h)
    return g


def rel_err(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


NETS = [  # (hidden, output, cost)
    ("sigmoid", "sigmoid", "mse"), ("tanh", "tanh", "mse"), ("relu", "linear", "mse"),
    ("sigmoid", "relu", "mse"), ("tanh", "softmax", "mse"), ("relu", "softmax", "cross_entropy"),
    ("sigmoid", "softmax", "cross_entropy"), ("tanh", "linear", "mse"),
]
PERIPHERY = {
    "none": {},
    "scale": {"weight_scale": 0.7},
    "dac_clip": {"inp_bound": 1.0},
    "adc_clip": {"out_bound": 0.6},
    "neurons": {"neuron_gain_dtod": 0.3, "neuron_offset_dtod": 0.2},
    "all_clips": {"inp_bound": 1.0, "out_bound": 0.8, "neuron_gain_dtod": 0.2,
                  "neuron_offset_dtod": 0.1, "weight_scale": 1.3},
}


@pytest.mark.parametrize("hidden,out,cost", NETS)
@pytest.mark.parametrize("per", list(PERIPHERY))
@pytest.mark.parametrize("n", [1, 6])
def test_backprop_matches_central_differences(hidden, out, cost, per, n):
    kw = dict(PERIPHERY[per])
    scale = kw.pop("weight_scale", 1.0)
    net = MLP(SIZES, hidden, out, cost, periphery=chip_cfg(**kw), seed=3, weight_scale=scale)
    theta = net.init_params(1) + 0.05 * np.random.default_rng(2).standard_normal(net.n_params)
    if out == "relu":  # keep the output units alive, so the gradient is not all 0
        theta[net.layer_slices(len(SIZES) - 2)[1]] += 1.0
    X, Y, labels = data(n, seed=n)
    h = 1e-6
    g = backprop(net, theta, X, Y)
    assert g.cost == pytest.approx(net.evaluate(theta, X, Y, labels)[0], rel=1e-12)
    assert rel_err(g.grad, fd_theta(net, theta, X, Y, labels, h)) < 1e-6
    assert rel_err(g.node_grad, fd_nodes(net, theta, X, Y, h)) < 1e-6
    # the batch mean is the mean of the per-sample gradients
    if n > 1:
        each = np.mean([backprop(net, theta, X[i], Y[i]).grad for i in range(n)], axis=0)
        np.testing.assert_allclose(g.grad, each, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g.node_grad, g.dz.mean(axis=0), rtol=1e-12, atol=1e-15)


def test_clipping_really_happens_in_the_clip_cases():
    """The clip settings above do clip some signals (else they would test nothing)."""
    X, _, _ = data(6, seed=6)
    assert (np.abs(X) > 1.0).any()  # the DAC at inp_bound = 1 saturates some inputs
    net = MLP(SIZES, "tanh", "tanh", "mse", periphery=chip_cfg(out_bound=0.6), seed=3)
    theta = net.init_params(1) + 0.05 * np.random.default_rng(2).standard_normal(net.n_params)
    g = backprop(net, theta, X, np.zeros((6, 2)) + 0.1)
    assert (g.dz == 0).any() and (g.dz != 0).any()  # some pre-activations beyond ±0.6


def test_fine_quantiser_straight_through_matches_differences_wider_than_its_step():
    """A quantiser with a step (1e-13) far below the FD step (1e-6): the staircase is the
    identity at the FD's scale, so its straight-through gradient is the true slope."""
    res = 1e-13 / 2.0
    net = MLP(SIZES, "sigmoid", "softmax", "cross_entropy",
              periphery=chip_cfg(inp_bound=1.0, inp_res=res, out_bound=2.0, out_res=res / 2),
              seed=3)
    theta = net.init_params(1)
    X, Y, labels = data(5)
    g = backprop(net, theta, X, Y, quantizer="straight_through")
    assert rel_err(g.grad, fd_theta(net, theta, X, Y, labels, 1e-6)) < 1e-6
    assert rel_err(g.node_grad, fd_nodes(net, theta, X, Y, 1e-6)) < 1e-6
    assert not np.any(backprop(net, theta, X, Y).grad)  # exact: 0 behind every ADC


def test_coarse_dac_exact_gradient_is_zero_upstream_and_matches_differences():
    """Exact rounding derivative 0: with a coarse DAC on every layer's inputs, the first
    layer (whose outputs the next DAC rounds) has gradient 0 and the last layers do not;
    FD steps (1e-7) far inside a DAC step (1/7) see the same."""
    net = MLP(SIZES, "tanh", "sigmoid", "mse", periphery=chip_cfg(inp_bound=1.0, inp_res=1 / 14),
              seed=3)
    theta = net.init_params(1)
    X, Y, labels = data(4)
    g = backprop(net, theta, X, Y)
    fd = fd_theta(net, theta, X, Y, labels, 1e-7)
    w0, b0 = net.layer_slices(0)
    assert not g.grad[w0].any() and not g.grad[b0].any() and not fd[:b0.stop].any()
    assert np.abs(g.grad[b0.stop:]).max() > 1e-3
    assert rel_err(g.grad, fd) < 1e-6


def test_noise_is_off_for_the_gradient():
    noisy = MLP(SIZES, periphery=chip_cfg(inp_bound=1.0, inp_noise=0.1, out_bound=2.0,
                                         out_noise=0.1), seed=3)
    quiet = MLP(SIZES, periphery=chip_cfg(inp_bound=1.0, out_bound=2.0), seed=3)
    theta = noisy.init_params(1)
    X, Y, _ = data(3)
    np.testing.assert_array_equal(backprop(noisy, theta, X, Y).grad,
                                  backprop(quiet, theta, X, Y).grad)


def test_hand_computed_one_neuron():
    """1-1 linear network, MSE: C = (w·x + b − t)², ∂C/∂w = 2(wx + b − t)x."""
    net = MLP([1, 1], "sigmoid", "linear", "mse")
    g = backprop(net, np.array([0.5, -0.2]), [2.0], [1.0])
    r = 0.5 * 2.0 - 0.2 - 1.0
    np.testing.assert_allclose(g.grad, [2 * r * 2.0, 2 * r])
    np.testing.assert_allclose(g.node_grad, [2 * r])


def test_bad_input_is_refused():
    net = MLP(SIZES)
    with pytest.raises(ConfigError, match="quantizer_gradient"):
        backprop(net, np.zeros(net.n_params), np.zeros(3), np.zeros(2), quantizer="ste")
    with pytest.raises(ConfigError, match="do not fit"):
        backprop(net, np.zeros(3), np.zeros(3), np.zeros(2))
