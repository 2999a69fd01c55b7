"""Node perturbation and two-sided estimates through the periphery (DAC/ADC, neuron variation).

The node perturbation is injected on each neuron's analog pre-activation before its ADC, and
each synapse integrates g_i·q_j with q_j the DAC-converted input it multiplies.
"""

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.devices import DeviceArray, params_for
from hwsim.chip.network import MLP
from hwsim.chip.port import EmulatorPort
from hwsim.config import RunConfig
from hwsim.kernels.periphery import quantize
from hwsim.learn.controller import MGDController
from hwsim.tasks import load_task

COARSE = dict(inp_bound=1.0, inp_res=1 / 14, out_bound=3.0, out_res=1 / 60,
              neuron_gain_dtod=0.2, neuron_offset_dtod=0.1)


def chip_cfg(**kw):
    return RunConfig.from_dict({"chip": kw}).chip


def _device(net, read_std=0.002, seed=3):
    noise = {"read_noise": "additive", "read_noise_std": read_std} if read_std else {}
    p = params_for("ConstantStep", {"dw_min": 0.001, "w_max": 2.0, "w_min": -2.0, **noise})
    return DeviceArray(p, net.n_params, seed)


def _naive_periph(net, theta, x, y, npert):
    """C and every layer's DAC output, in NumPy, for the node perturbation ``npert``."""
    sizes = net.sizes
    a, o, k, pre = x, 0, 0, []
    for l in range(len(sizes) - 1):
        nin, nout = sizes[l], sizes[l + 1]
        W = theta[o:o + nin * nout].reshape(nout, nin)
        b = theta[o + nin * nout:o + nin * nout + nout]
        o += nin * nout + nout
        q = np.array([quantize(v, COARSE["inp_bound"], COARSE["inp_res"]) for v in a])
        pre.append(q)
        z = W @ q + b + npert[k:k + nout]
        s = np.array([quantize(v, COARSE["out_bound"], COARSE["out_res"]) for v in z])
        a = 1 / (1 + np.exp(-(net.neuron_gain[k:k + nout] * s + net.neuron_offset[k:k + nout])))
        k += nout
    return np.mean((a - y) ** 2), pre


def test_first_node_step_is_the_hand_computed_correlation_of_dac_inputs():
    ds = load_task("xor")
    net = MLP([2, 4, 1], periphery=chip_cfg(**COARSE), seed=5)
    theta = net.init_params(2)
    chip = Chip(net, ds.X_train, ds.Y_train, theta, seed=4, amplitude=0.3, eta=0.0,
                tau_theta=10**9, target="nodes")
    chip.advance(1)
    sample = int(chip.state.clock[0]["sample"])
    x, y = ds.X_train[sample], ds.Y_train[sample]
    code = chip.state.applied.copy()
    c, pre = _naive_periph(net, theta, x, y, code)
    c0, _ = _naive_periph(net, theta, x, y, np.zeros_like(code))
    assert c != c0  # the perturbation is above the ADC step here
    g_node = (c - c0) * chip.params.integrator.inv_d2 * code
    expected, o, k = [], 0, 0
    for l, q in enumerate(pre):
        nout = net.sizes[l + 1]
        expected += [np.outer(g_node[k:k + nout], q).ravel(), g_node[k:k + nout]]
        k += nout
    np.testing.assert_allclose(chip.grad, np.concatenate(expected), rtol=1e-12, atol=1e-15)


def test_transparent_periphery_gives_the_plain_node_estimate():
    ds = load_task("xor")
    plain = MLP([2, 3, 1])
    wide = MLP([2, 3, 1], periphery=chip_cfg(inp_bound=1e6, out_bound=1e6))
    theta = plain.init_params(1)
    G = []
    for net in (plain, wide):
        chip = Chip(net, ds.X_train, ds.Y_train, theta, seed=2, amplitude=0.05, eta=0.0,
                    tau_theta=10**9, target="nodes")
        chip.advance(300)
        G.append(chip.grad)
    np.testing.assert_allclose(G[1], G[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("mode,target,estimate", [
    ("discrete", "nodes", "one_sided"), ("analog", "nodes", "one_sided"),
    ("discrete", "nodes", "two_sided"), ("discrete", "weights", "two_sided")])
@pytest.mark.parametrize("device", [False, True], ids=["ideal", "device"])
def test_controller_over_port_equals_fused_path_through_the_periphery(mode, target, estimate,
                                                                      device):
    ds = load_task("xor")
    periph = chip_cfg(**COARSE, inp_noise=0.01, out_noise=0.01)
    rule = dict(amplitude=0.2, eta=0.5, tau_p=2, tau_x=3, tau_theta=4, target=target,
                estimate=estimate)
    chips = []
    for _ in range(2):
        net = MLP([2, 3, 1], periphery=periph, seed=7)
        chips.append(Chip(net, ds.X_train, ds.Y_train, net.init_params(3), seed=3, mode=mode,
                          device=_device(net) if device else None, **rule))
    ctl = MGDController(EmulatorPort(chips[1]), seed=3, mode=mode, **rule)
    for n in (1, 6, 41, 150):
        chips[0].advance(n)
        ctl.run(n)
        assert np.array_equal(chips[0].theta, chips[1].theta)
        assert np.array_equal(chips[0].grad, ctl.G)
    assert not np.array_equal(chips[0].theta, net.init_params(3))


def test_converter_noise_draws_do_not_depend_on_whether_reads_are_noisy():
    """Case D5's kind: switching device read noise on must not make the baseline pass reuse
    the perturbed pass's converter noise (read noise far below one ulp of the weights)."""
    ds = load_task("xor")
    periph = chip_cfg(out_bound=3.0, out_noise=0.05)
    c0 = []
    for read_std in (0.0, 1e-300):
        net = MLP([2, 3, 1], periphery=periph, seed=7)
        chip = Chip(net, ds.X_train, ds.Y_train, net.init_params(3), seed=3, amplitude=0.05,
                    eta=0.0, device=_device(net, read_std))
        assert chip.noisy_reads == (read_std > 0)
        vals = []
        for _ in range(5):
            chip.advance(1)
            cl = chip.state.cost_line[0]
            vals.append((float(cl["c0"]), float(cl["c"])))
        c0.append(vals)
    assert c0[0] == c0[1]
    assert all(c != b for b, c in c0[0])  # independent converter noise on the two passes


def test_node_perturbation_trains_xor_through_8_bit_converters():
    ds = load_task("xor")
    periph = chip_cfg(inp_bound=1.0, inp_res=1 / 255, out_bound=8.0, out_res=1 / 255)
    solved = 0
    for seed in range(4):
        net = MLP([2, 3, 1], periphery=periph, seed=seed)
        chip = Chip(net, ds.X_train, ds.Y_train, net.init_params(seed), seed=seed,
                    amplitude=0.1, eta=2.0, target="nodes")
        chip.advance(20_000)
        _, acc = net.evaluate(chip.theta, ds.X_test, ds.Y_test, ds.labels_test)
        solved += acc == 1.0
    assert solved >= 3
