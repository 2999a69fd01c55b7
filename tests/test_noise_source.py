"""The devices' own write noise as the perturbation source (chip.perturbation.kind =
"write_noise", issue 13): each code period writes a pulse pair (+dw_min, −dw_min) to every
device, reads back what it did (the reference), and leaves it in the devices (the applied
perturbation); G is scaled by 1/(P·v), so E[G per step] = ∇C/P as with a ±A code."""

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.devices import DeviceArray
from hwsim.chip.network import MLP
from hwsim.chip.profiles import profile_from_dict
from hwsim.exceptions import ConfigError
from hwsim.tasks import load_task
from tests.test_mgd_facts import fd_gradient

A = np.array([1.0, -2.0, 3.0, 0.5, -1.5, 2.5])
# Only write noise (offset s = write_noise_std·dw_min = 2e-3, redrawn at each write): the
# pulses are exact and equal (+dw − dw = 0), so the stored weights never walk away and
# r = WN_new − WN_old, E[r_i r_j] = 2s²·δ_ij = v·δ_ij.
WN_ONLY = dict(model="ConstantStep", dw_min=1e-3, w_max=1.0, w_min=-1.0, dw_min_std=0.0,
               dw_min_dtod=0.0, up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0,
               write_noise_std=2.0)


def _dev(P, seed=2, **over):
    prof = profile_from_dict({"name": "wn", "source": "test fixture",
                              "device": {**WN_ONLY, **over}})
    return DeviceArray(prof.params, P, seed)


def _linear(seed=2, **kw):
    kw = {"eta": 0.0, "tau_theta": 10**9, **kw}
    return Chip(None, np.zeros((1, 0)), None, np.zeros(6), analytic=("linear", A), seed=seed,
                device=_dev(6, seed), source_noise={"kind": "write_noise"}, **kw)


def test_the_estimate_on_a_linear_cost_is_its_slope():
    """C = a·θ, so C̃ = a·δ exactly and G·P/N estimates a. Per component the estimate's
    standard deviation is about sqrt((‖a‖² + a_i²)/N) (Gaussian δ; consecutive periods share
    a write-noise draw, which adds at most a factor ~1.5): 5 of those is the tolerance."""
    N = 20_000
    chip = _linear()
    chip.advance(N)
    est = chip.grad * chip.P / N
    sd = np.sqrt((A @ A + A * A) / N)
    assert (np.abs(est - A) < 5 * sd).all(), (est, 5 * sd)
    assert chip.write_noise_variance == pytest.approx(2 * (2e-3) ** 2, rel=1e-12)
    c = chip.counters()
    assert c["noise_readback_reads"] == 2 * 6 * N and c["code_generations"] == 0
    assert c["pert_writes"] == 2 * 6 * N and c["pert_zero_pulses"] == 0
    assert not chip.pert.any()  # nothing is added on the read path
    assert np.abs(chip.theta).max() < 0.02  # the weights hold only the write-noise offset


def test_the_estimate_on_a_tiny_network_matches_finite_differences():
    """4-10-1 on one 4-bit parity sample, θ frozen (η = 0), N = 40,000 periods: G·P/N is ∇C
    from central finite differences within 15 % (norm). Statistical error ≈ sqrt(P/N)·1.5 ≈
    6 % for P = 61; the bias of the finite offset s = 2e-3 is O(s²·C''') and negligible."""
    ds = load_task("parity", bits=4)
    net = MLP([4, 10, 1])
    X, Y, lab = ds.X_train[5:6], ds.Y_train[5:6], ds.labels_train[5:6]
    theta = net.init_params(2, "uniform", -1.0, 1.0)
    N = 40_000
    chip = Chip(net, X, Y, theta, seed=4, eta=0.0, tau_theta=10**9, device=_dev(net.n_params, 4),
                source_noise={"kind": "write_noise"})
    chip.advance(N)
    grad = fd_gradient(lambda th: net.evaluate(th, X, Y, lab)[0], theta)
    est = chip.grad * chip.P / N
    err = np.linalg.norm(est - grad) / np.linalg.norm(grad)
    assert err < 0.15, err


def test_chunked_and_resumed_runs_are_bit_identical():
    one = _linear(tau_p=3, tau_x=3, tau_theta=6, eta=0.5)
    one.advance(300)
    a = _linear(tau_p=3, tau_x=3, tau_theta=6, eta=0.5)
    a.advance(7)
    state = a.get_state()
    b = _linear(tau_p=3, tau_x=3, tau_theta=6, eta=0.5)
    b.set_state(state)
    b.advance(100)
    b.advance(193)
    assert np.array_equal(b.grad, one.grad) and np.array_equal(b.theta, one.theta)
    assert b.counters() == one.counters()


@pytest.mark.parametrize("kw,dev,msg", [
    ({}, dict(write_noise_std=0.0), "has no write noise"),
    (dict(mode="analog", tau_x=10), {}, "mgd.mode = 'discrete'"),
    (dict(estimate="two_sided"), {}, "mgd.estimate = 'one_sided'"),
    (dict(tau_p=2, tau_x=3), {}, "multiples of mgd.tau_p"),
    (dict(cost_line=dict(latency=2, match_delay=True)), {}, "match_delay = false"),
    ({}, dict(perturbation_by_write=True), "perturbation_by_write = false"),
])
def test_refused_where_it_cannot_work(kw, dev, msg):
    with pytest.raises(ConfigError, match=msg):
        Chip(None, np.zeros((1, 0)), None, np.zeros(6), analytic=("linear", A), eta=0.0,
             device=_dev(6, **dev), source_noise={"kind": "write_noise"}, **kw)


def test_refused_on_ideal_synapses_and_unknown_kinds():
    with pytest.raises(ConfigError, match="needs a pulsed device"):
        Chip(None, np.zeros((1, 0)), None, np.zeros(6), analytic=("linear", A),
             source_noise={"kind": "write_noise"})
    with pytest.raises(ConfigError, match="allowed: code, write_noise"):
        Chip(None, np.zeros((1, 0)), None, np.zeros(6), analytic=("linear", A),
             source_noise={"kind": "noise"})
