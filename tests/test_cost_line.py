"""The nonideal global cost line ([chip.cost_line], docs/chip.md): latency with and without
reference delay matching, noise, quantisation with clipping, finite bandwidth."""

import math

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.network import MLP
from hwsim.chip.port import EmulatorPort
from hwsim.config import RunConfig
from hwsim.exceptions import ConfigError
from hwsim.learn.controller import MGDController
from hwsim.tasks import load_task
from tests import naive
from tests.costs import analytic_chip, linear_cost

A = np.array([1.0, -2.0, 3.0, 0.5, -1.5, 2.5, -0.7, 1.2])


def _angle(g, true):
    return math.degrees(math.acos(g @ true / np.linalg.norm(g) / np.linalg.norm(true)))


def _one_sample_chip(cost_line=None, code="cdma", tau_p=1, seed=4):
    ds = load_task("parity", bits=4)
    net = MLP([4, 10, 1])
    X, Y = ds.X_train[5:6], ds.Y_train[5:6]
    return Chip(net, X, Y, net.init_params(2, "uniform", -1.0, 1.0), seed=seed, amplitude=1e-2,
                eta=0.0, tau_theta=10**9, tau_p=tau_p, perturbation=code, cost_line=cost_line)


@pytest.mark.parametrize("code,tau_p", [("cdma", 1), ("cdma", 3), ("walsh", 2)])
@pytest.mark.parametrize("L", [1, 4, 9])
def test_matched_latency_gives_the_estimate_of_no_latency(code, tau_p, L):
    """θ frozen, one fixed input: after N + L steps the matched delayed line has integrated
    exactly the N products of the ideal line (same values, same order)."""
    ideal = _one_sample_chip(code=code, tau_p=tau_p)
    late = _one_sample_chip(dict(latency=L, match_delay=True), code=code, tau_p=tau_p)
    ideal.advance(600)
    late.advance(L)
    assert not late.grad.any()  # nothing has arrived yet
    for n in (1, 250, 349):  # chunked
        late.advance(n)
    assert np.array_equal(late.grad, ideal.grad)
    # the applied code over 600 + L steps, and the reference regenerated for steps 0..599
    periods = -(-(600 + L) // tau_p) + -(-600 // tau_p)
    assert late.counters()["code_generations"] == periods * late.P


def test_unmatched_latency_angle_grows_with_k_as_the_code_overlap_predicts():
    """Linear cost, CDMA held τp = 8 steps: the delayed C̃ correlates with the current code
    only while both lie in the same code period, a fraction (τp − k)/τp of the steps, so
    E[G]·a shrinks by that factor and the angle to ∇C grows with k (90° on average for
    k ≥ τp)."""
    tau_p, N, ks = 8, 40_000, (0, 2, 4, 6, 7, 8, 12)
    angles, proj = np.zeros(len(ks)), np.zeros(len(ks))
    for seed in range(4):
        for j, k in enumerate(ks):
            chip = analytic_chip(linear_cost, np.zeros(A.size), model=(A,), amplitude=0.01,
                                 eta=0.0, tau_theta=10**9, tau_p=tau_p, seed=seed,
                                 cost_line=dict(latency=k) if k else None)
            chip.advance(N + k)
            angles[j] += _angle(chip.grad, A) / 4
            proj[j] += chip.grad @ A / 4
    sel = [0, 2, 3, 4, 5]  # k = 0, 4, 6, 7, 8: expected signal 1, 1/2, 1/4, 1/8, 0
    assert all(angles[a] < angles[b] for a, b in zip(sel, sel[1:])), angles
    assert angles[0] < 2.0 and angles[5] > 45.0
    for j, k in ((1, 2), (2, 4), (3, 6)):
        assert abs(proj[j] / proj[0] - (tau_p - k) / tau_p) < 0.03, (k, proj[j] / proj[0])
    assert abs(proj[6] / proj[0]) < 0.03


def test_latency_in_seconds_becomes_steps():
    chip = _one_sample_chip()
    base = chip._cost_p
    from hwsim.chip.signal_path import latency_steps
    assert latency_steps(0, 3e-6, 1e-6) == 3  # within 1e-6 of an integer: rounded
    assert latency_steps(0, 3.2e-6, 1e-6) == 4  # else the first step at or after
    assert latency_steps(5, 0.0, 1e-6) == 5
    with pytest.raises(ConfigError, match="give one of them"):
        latency_steps(2, 1e-6, 1e-6)
    assert base.latency == 0 and base.nonideal == 0


def _step_by_step(cost_line, n_steps=300, seed=6):
    """Run one step at a time; return (measured C̃ per step, received per step, chip)."""
    chip = _one_sample_chip(cost_line, seed=seed)
    chip._int_p  # noqa: B018 - the chip is built
    sent, got = [], []
    for _ in range(n_steps):
        chip.advance(1)
        sent.append(chip.cost_line["ctilde"])
        got.append(chip.cost_received)
    return np.array(sent), np.array(got), chip


def test_noise_is_added_from_its_own_stream_and_changes_nothing_else():
    sigma = 3e-4
    sent, got, chip = _step_by_step(dict(noise_std=sigma))
    ref_sent, ref_got, ideal = _step_by_step(None)
    assert np.array_equal(sent, ref_sent) and np.array_equal(ref_got, ref_sent)
    noise = np.array([sigma * naive.normal_from_bits(naive.hash4(6, 20, n, 0))
                      for n in range(sent.size)])
    assert np.allclose(got - sent, noise, rtol=0, atol=1e-15)
    assert abs(np.std(got - sent) / sigma - 1) < 0.15
    a, b = chip.get_state(), ideal.get_state()
    assert not np.array_equal(a["G"], b["G"])
    for k in a:
        if k not in ("G", "line_mem"):
            assert a[k].tobytes() == b[k].tobytes(), k


@pytest.mark.parametrize("bits", [2, 4, 7])
def test_quantiser_levels_clipping_and_clipped_fraction(bits):
    R = 3e-4  # about the 85th percentile of |C̃| here: some broadcasts clip
    sent, got, chip = _step_by_step(dict(bits=bits, range=R))
    K = 2 ** (bits - 1) - 1
    lsb = R / K
    k = got / lsb
    assert np.allclose(k, np.round(k), atol=1e-9) and np.abs(np.round(k)).max() <= K
    inside = np.abs(sent) <= R
    assert np.allclose(got[inside], np.floor(sent[inside] / lsb + 0.5) * lsb, rtol=0, atol=1e-18)
    assert np.array_equal(got[~inside], np.sign(sent[~inside]) * K * lsb)
    clipped = int((~inside).sum())
    assert clipped > 0
    assert chip.counters()["cost_clipped"] == clipped
    assert chip.cost_clipped_fraction() == clipped / sent.size


def test_bandwidth_is_a_first_order_low_pass():
    tau = 3.5
    sent, got, _ = _step_by_step(dict(bandwidth_tau=tau))
    a, y, want = tau / (tau + 1), 0.0, []
    for x in sent:
        y = a * y + (1 - a) * x
        want.append(y)
    assert np.allclose(got, want, rtol=1e-12, atol=0)


def test_quantised_angle_approaches_the_unquantised_one_with_bits():
    """Mean over seeds: 2 bits is clearly worse than the analog line, 12 bits within 0.05°."""
    N, R = 3000, 0.05
    angles = {0: 0.0, 2: 0.0, 12: 0.0}
    for seed in range(4):
        for b in angles:
            chip = analytic_chip(linear_cost, np.zeros(A.size), model=(A,), amplitude=0.01,
                                 eta=0.0, tau_theta=10**9, seed=seed,
                                 cost_line=dict(bits=b, range=R) if b else None)
            chip.advance(N)
            angles[b] += _angle(chip.grad, A) / 4
    assert angles[2] > 1.3 * angles[0] and abs(angles[12] - angles[0]) < 0.05, angles


LINES = [dict(latency=3, match_delay=True, noise_std=1e-3, bits=6, range=0.003,
              bandwidth_tau=2.0), dict(latency=5), dict(noise_std=2e-3, bits=3, range=0.004)]


@pytest.mark.parametrize("mode,estimate", [("discrete", "one_sided"), ("analog", "one_sided"),
                                           ("discrete", "two_sided")])
@pytest.mark.parametrize("line", LINES, ids=["all", "latency", "noise+bits"])
def test_controller_over_port_equals_fused_path(line, mode, estimate):
    rule = dict(amplitude=0.05, eta=0.5, tau_p=2, tau_x=3, tau_theta=4, tau_hp=10.0)
    ds = load_task("xor")
    net = MLP([2, 3, 1])
    chips = [Chip(net, ds.X_train, ds.Y_train, net.init_params(3), seed=3, mode=mode,
                  estimate=estimate, cost_line=line, **rule) for _ in range(2)]
    assert not chips[0].fast_path_applies()
    ctl = MGDController(EmulatorPort(chips[1]), seed=3, mode=mode, estimate=estimate,
                        cost_line=line, **rule)
    for n in (1, 5, 37, 157):
        chips[0].advance(n)
        ctl.run(n)
        assert np.array_equal(chips[0].theta, chips[1].theta)
        assert np.array_equal(chips[0].grad, ctl.G)
        assert chips[0].cost_received == ctl.received
        assert chips[0].cost_line["ctilde"] == ctl.ctilde
    a = chips[0].counters()
    for k, v in ctl.counters.items():
        assert a[k] == v, k


def test_resume_mid_run_continues_bit_identically():
    line = dict(latency=5, match_delay=True, noise_std=1e-3, bandwidth_tau=1.5)
    ds = load_task("xor")
    net = MLP([2, 3, 1])
    mk = lambda: Chip(net, ds.X_train, ds.Y_train, net.init_params(3), seed=3, tau_p=3,
                      tau_theta=4, eta=0.5, cost_line=line)  # noqa: E731
    whole, part = mk(), mk()
    whole.advance(503)
    part.advance(251)
    saved = part.get_state()
    fresh = mk()
    fresh.set_state(saved)
    fresh.advance(252)
    for k, v in whole.get_state().items():
        assert v.tobytes() == fresh.get_state()[k].tobytes(), k


def test_ideal_line_keeps_the_fast_path_and_old_checkpoints_load():
    chip = _one_sample_chip({})
    assert chip.fast_path_applies() and chip._cost_p.nonideal == 0
    state = chip.get_state()
    del state["line_mem"]  # a checkpoint of an earlier hwsim
    state["counters"] = np.zeros(1, [(n, np.int64) for n in state["counters"].dtype.names
                                     if n != "cost_clipped"])
    _one_sample_chip({}).set_state(state)
    with pytest.raises(ConfigError, match="line_mem"):
        _one_sample_chip(dict(latency=2)).set_state(state)


@pytest.mark.parametrize("over,match", [
    ({"chip.cost_line.bits": 8}, "needs chip.cost_line.range > 0"),
    ({"chip.cost_line.bits": 1, "chip.cost_line.range": 1.0}, "at least 2"),
    ({"chip.cost_line.latency": 2, "chip.cost_line.latency_s": 1e-6}, "give one of them"),
    ({"chip.cost_line.noise_std": -1.0}, "chip.cost_line.noise_std = -1.0"),
])
def test_config_errors_name_the_key(over, match):
    with pytest.raises(ConfigError, match=match):
        RunConfig().with_overrides(over)


def test_latency_with_node_perturbation_is_refused():
    ds = load_task("xor")
    net = MLP([2, 3, 1])
    with pytest.raises(ConfigError, match="chip.cost_line.latency = 2 steps: needs mgd.target"):
        Chip(net, ds.X_train, ds.Y_train, net.init_params(3), target="nodes",
             cost_line=dict(latency=2))
    with pytest.raises(ConfigError, match="chip.cost_line.bits = 9: needs"):
        Chip(net, ds.X_train, ds.Y_train, net.init_params(3), cost_line=dict(bits=9))


def test_latency_in_seconds_is_capped_like_latency_in_steps():  # the kind of case D11
    from hwsim.chip.signal_path import MAX_LATENCY, latency_steps
    from hwsim.exceptions import ConfigError

    assert latency_steps(0, 0.3, 0.1) == 3
    with pytest.raises(ConfigError, match="latency_s = 20.0.*at most"):
        latency_steps(0, 20.0, 1e-6)
    assert latency_steps(0, MAX_LATENCY * 1e-6, 1e-6) == MAX_LATENCY
