"""The plain-Python controller over the chip port equals the fused driver bit for bit."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.devices import DeviceArray, params_for
from hwsim.chip.network import MLP
from hwsim.chip.port import ChipPort, EmulatorPort
from hwsim.learn.controller import MGDController
from hwsim.tasks import load_task

ROOT = Path(__file__).resolve().parents[1]
RULE = dict(amplitude=0.05, eta=0.5, tau_p=2, tau_x=3, tau_theta=4, tau_hp=10.0)


def _pair(code, mode, device, dtype=np.float64):
    ds = load_task("xor")
    net = MLP([2, 3, 1])
    chips = []
    for _ in range(2):
        dev = None
        if device:
            p = params_for("ConstantStep", {"dw_min": 0.001, "w_max": 2.0, "w_min": -2.0,
                                            "read_noise": "additive", "read_noise_std": 0.002})
            dev = DeviceArray(p, net.n_params, 3, dtype=dtype)
        chips.append(Chip(net, ds.X_train, ds.Y_train, net.init_params(3, dtype=dtype), seed=3,
                          perturbation=code, mode=mode, device=dev, dtype=dtype,
                          read_noise_model="per_weight", **RULE))
    return chips


@pytest.mark.parametrize("device", [False, True], ids=["ideal", "device"])
@pytest.mark.parametrize("mode", ["discrete", "analog"])
@pytest.mark.parametrize("code", ["cdma", "walsh", "fdma", "tdma"])
def test_controller_over_port_equals_fused_path(code, mode, device):
    fused, ported = _pair(code, mode, device)
    port = EmulatorPort(ported)
    assert isinstance(port, ChipPort)
    ctl = MGDController(port, seed=3, perturbation=code, mode=mode, **RULE)
    for n in (1, 5, 37, 157):  # chunked, mid-hold
        fused.advance(n)
        ctl.run(n)
        assert np.array_equal(fused.theta, ported.theta)
        assert np.array_equal(fused.grad, ctl.G)
        assert fused.cost_line["ctilde"] == ctl.ctilde
    assert fused.updates == ctl.updates
    a, b = fused.counters(), ported.counters()
    for k in ("perturbed_inferences", "baseline_inferences", "macs", "device_reads",
              "write_pulses_up", "write_pulses_down"):
        assert a[k] == b[k], k
    for k, v in ctl.counters.items():
        assert a[k] == v, k
    if device:
        assert a["write_pulses_up"] > 0 and a["write_pulses_down"] > 0


@pytest.mark.parametrize("opt", [dict(optimizer="momentum", momentum=0.9),
                                 dict(optimizer="nesterov", momentum=0.8, clip=0.01),
                                 dict(optimizer="adam", momentum=0.9, beta2=0.99, eps=1e-6)],
                         ids=["momentum", "nesterov+clip", "adam"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_optimizers_controller_equals_fused_path(opt, dtype):
    ds = load_task("xor")
    net = MLP([2, 3, 1])
    chips = [Chip(net, ds.X_train, ds.Y_train, net.init_params(3, dtype=dtype), seed=3,
                  dtype=dtype, **RULE, **opt) for _ in range(2)]
    ctl = MGDController(EmulatorPort(chips[1]), seed=3, dtype=dtype, **RULE, **opt)
    for n in (3, 50, 201):
        chips[0].advance(n)
        ctl.run(n)
        assert np.array_equal(chips[0].theta, chips[1].theta)
        assert np.array_equal(chips[0].state.m1, ctl.m1)
    assert chips[0].updates > 50 and not np.array_equal(chips[0].theta, net.init_params(3))


def test_controller_float32_device_equals_fused_path():
    fused, ported = _pair("cdma", "discrete", True, np.float32)
    ctl = MGDController(EmulatorPort(ported), seed=3, dtype=np.float32, **RULE)
    fused.advance(300)
    ctl.run(300)
    assert ported.theta.dtype == np.float32
    assert np.array_equal(fused.theta, ported.theta) and np.array_equal(fused.grad, ctl.G)


def test_chip_in_the_loop_example_trains_its_instrument():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "chip_in_the_loop.py")],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    last = out.strip().splitlines()[-1]
    assert last.startswith("final accuracy") and float(last.split()[2]) == 1.0, out
