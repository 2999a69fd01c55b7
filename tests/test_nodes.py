"""Node perturbation (issue 9): the estimate's scale and angle law with M nodes in place of P
parameters, the gradient it implies for the weights, and the controller over the port."""

import math

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.devices import DeviceArray, params_for
from hwsim.chip.network import MLP
from hwsim.chip.port import EmulatorPort
from hwsim.kernels import nodes as K
from hwsim.learn.controller import MGDController
from hwsim.tasks import load_task
from tests.test_mgd_facts import fd_gradient


def _node_gradient(net, theta, x, y, h=1e-6):
    """∂C/∂z by central differences on each pre-activation (naive: one-hot node perturbations)."""
    M = int(net.sizes[1:].sum())
    buf = np.zeros(M)
    sm = net.sense_model(x[None], y[None])

    def cost(npert):
        off = K.forward_nodes(theta, npert, True, x, sm.sizes, sm.kinds[0], sm.kinds[1], buf,
                              sm.scale)
        from hwsim.kernels.mlp import output_cost
        return output_cost(buf, off, y, sm.kinds[1], sm.kinds[2])

    return np.array([(cost(h * e) - cost(-h * e)) / (2 * h) for e in np.eye(M)])


def _angle(a, b):
    return math.degrees(math.acos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))


def test_node_forward_is_the_network_plus_a_pre_activation_offset():
    ds = load_task("parity", bits=4)
    net = MLP([4, 5, 1])
    theta = net.init_params(1)
    x, y = ds.X_train[3], ds.Y_train[3]
    M = 6
    buf = np.zeros(M)
    sm = net.sense_model(x[None], y[None])
    K.forward_nodes(theta, np.zeros(M), True, x, sm.sizes, sm.kinds[0], sm.kinds[1], buf, 1.0)
    W1, b1 = theta[:20].reshape(5, 4), theta[20:25]
    h = 1 / (1 + np.exp(-(W1 @ x + b1)))
    np.testing.assert_allclose(buf[:5], h, rtol=1e-13)
    d = np.zeros(M)
    d[2] = 0.3
    K.forward_nodes(theta, d, True, x, sm.sizes, sm.kinds[0], sm.kinds[1], buf, 1.0)
    np.testing.assert_allclose(buf[2], 1 / (1 + np.exp(-(W1[2] @ x + b1[2] + 0.3))), rtol=1e-13)


def test_node_angle_law_and_the_implied_weight_estimate():
    """θ frozen, one fixed sample, Δ = 1e-3, CDMA: the node estimate (the bias integrators) has
    the angle atan(√((M−1)/N)) to ∂C/∂z (fact 3 with M in place of P); the implied weight
    estimate is reported next to weight perturbation's at the same N."""
    ds = load_task("parity", bits=4)
    net = MLP([4, 10, 1])
    X, Y, lab = ds.X_train[5:6], ds.Y_train[5:6], ds.labels_train[5:6]
    theta = net.init_params(2, "uniform", -1.0, 1.0)
    M, P = 11, net.n_params
    dz = _node_gradient(net, theta, X[0], Y[0])
    true = fd_gradient(lambda th: net.evaluate(th, X, Y, lab)[0], theta)
    bias = np.r_[40:50, 60]  # the biases of layer 0 and layer 1: their G is the node estimate
    report = {}
    for N in (20, 200, 2000):
        node_a, node_w, weight_w = [], [], []
        for seed in range(40):
            chip = Chip(net, X, Y, theta, seed=seed, amplitude=1e-3, eta=0.0, tau_theta=N,
                        target="nodes")
            chip.advance(N)
            node_a.append(_angle(chip.grad[bias], dz))
            node_w.append(_angle(chip.grad, true))
            wchip = Chip(net, X, Y, theta, seed=seed, amplitude=1e-3, eta=0.0, tau_theta=N)
            wchip.advance(N)
            weight_w.append(_angle(wchip.grad, true))
        law = math.degrees(math.atan(math.sqrt((M - 1) / N)))
        assert abs(np.mean(node_a) - law) < 0.12 * law, (N, np.mean(node_a), law)
        report[N] = (np.mean(node_w), np.mean(weight_w))
    # fewer perturbed quantities: the implied weight estimate beats weight perturbation's
    for N, (nw, ww) in report.items():
        assert nw < ww, report


def test_node_estimate_scale_is_gradient_over_M():
    """E[G per step] = ∇C/M for the weights and biases (small Δ, ± codes, frozen θ)."""
    ds = load_task("parity", bits=4)
    net = MLP([4, 6, 1])
    X, Y, lab = ds.X_train[5:6], ds.Y_train[5:6], ds.labels_train[5:6]
    theta = net.init_params(3, "uniform", -1.0, 1.0)
    true = fd_gradient(lambda th: net.evaluate(th, X, Y, lab)[0], theta)
    N = 100_000
    chip = Chip(net, X, Y, theta, seed=1, amplitude=1e-3, eta=0.0, tau_theta=10**9,
                target="nodes")
    chip.advance(N)
    est = chip.grad * 7 / N
    assert np.linalg.norm(est - true) < 0.03 * np.linalg.norm(true)


@pytest.mark.parametrize("device", [False, True], ids=["ideal", "device"])
@pytest.mark.parametrize("mode", ["discrete", "analog"])
@pytest.mark.parametrize("code", ["cdma", "walsh", "fdma", "tdma"])
def test_node_controller_over_port_equals_fused_path(code, mode, device):
    ds = load_task("xor")
    net = MLP([2, 3, 1])
    rule = dict(amplitude=0.1, eta=0.5, tau_p=2, tau_x=3, tau_theta=4, target="nodes")
    chips = []
    for _ in range(2):
        dev = None
        if device:
            p = params_for("ConstantStep", {"dw_min": 0.001, "w_max": 2.0, "w_min": -2.0,
                                            "read_noise": "additive", "read_noise_std": 0.002})
            dev = DeviceArray(p, net.n_params, 3)
        chips.append(Chip(net, ds.X_train, ds.Y_train, net.init_params(3), seed=3,
                          perturbation=code, mode=mode, device=dev, **rule))
    ctl = MGDController(EmulatorPort(chips[1]), seed=3, perturbation=code, mode=mode, **rule)
    for n in (1, 6, 41, 150):
        chips[0].advance(n)
        ctl.run(n)
        assert np.array_equal(chips[0].theta, chips[1].theta)
        assert np.array_equal(chips[0].grad, ctl.G)
    c = chips[0].counters()
    assert c["synapse_multiplies"] == 198 * net.n_params == ctl.counters["synapse_multiplies"]
    assert c["integrator_ops"] == 198 * 4 and c["code_generations"] == ctl.counters["code_generations"]
    assert not np.array_equal(chips[0].theta, net.init_params(3))


def test_node_perturbation_trains_xor():
    ds = load_task("xor")
    net = MLP([2, 2, 1])
    ok = 0
    for seed in range(8):
        chip = Chip(net, ds.X_train, ds.Y_train, net.init_params(seed, "uniform"), seed=seed,
                    amplitude=0.05, eta=1.0, target="nodes")
        chip.advance(20_000)
        ok += net.evaluate(chip.theta, ds.X_test, ds.Y_test, ds.labels_test)[1] == 1.0
    assert ok >= 4
