"""Case T1: an epoch of MGD on 784-100-10 with per-device dtod variation runs in one kernel
call, in bounded memory, counting its work; benchmarks/bench_t1.py states its time (34 s for
a 60,000-step epoch on the 2-core reference machine, docs/performance.md)."""

import numpy as np

from hwsim.chip.chip import Chip
from hwsim.chip.devices import DeviceArray, params_for
from hwsim.chip.network import MLP


def test_T1_an_epoch_of_784_100_10_with_dtod_devices():  # case T1
    rng = np.random.default_rng(0)
    n = 300
    X = rng.random((n, 784))
    Y = np.eye(10)[rng.integers(0, 10, n)]
    net = MLP([784, 100, 10], cost="cross_entropy", output_activation="softmax")
    P = net.n_params
    dev = DeviceArray(params_for("ConstantStep", {"dw_min": 0.001, "w_max": 1.0, "w_min": -1.0}),
                      P, 0)
    b_max, _ = dev.bounds()
    assert np.unique(b_max).size > P // 2  # each device has its own bounds (dtod)
    mem = Chip.estimate_bytes(P, n) + DeviceArray.estimate_bytes(dev.params, P)
    assert mem < 100 * P * 8  # P = 79,510: arrays of P, nothing of P² or of steps
    chip = Chip(net, X, Y, net.init_params(0), seed=0, amplitude=0.05, eta=0.5, device=dev)
    theta0 = chip.theta.copy()
    assert chip.advance(n) == 0  # one call, one epoch, status OK
    c = chip.counters()
    assert c["steps"] == n and c["update_requests"] == (n - 1) * P
    assert c["perturbed_inferences"] == n and c["macs"] == (n + c["baseline_inferences"]) * (
        784 * 100 + 100 * 10)
    assert c["write_pulses_up"] + c["write_pulses_down"] > 0
    assert not np.array_equal(chip.theta, theta0)
