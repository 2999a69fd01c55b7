"""The nonideal local lock-in integrators ([chip.integrator], docs/chip.md): leak,
saturation, offset, gain mismatch, quantised accumulator, partial reset."""

import math

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.network import MLP
from hwsim.chip.port import EmulatorPort
from hwsim.config import RunConfig
from hwsim.exceptions import ConfigError
from hwsim.kernels.integrator import leak_factors
from hwsim.learn.controller import MGDController
from hwsim.tasks import load_task
from tests import naive


def _chip(integrator=None, tau_theta=10**9, eta=0.0, seed=4, **kw):
    ds = load_task("parity", bits=4)
    net = MLP([4, 10, 1])
    return Chip(net, ds.X_train, ds.Y_train, net.init_params(2, "uniform", -1.0, 1.0),
                seed=seed, amplitude=1e-2, eta=eta, tau_theta=tau_theta, tau_x=3,
                integrator=integrator, **kw)


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def test_leak_factors_are_the_exact_step_response():
    """κ = e^(−1/τ), λ = ∫₀¹ e^(−s/τ) ds = τ(1 − κ); no leak is (1, 1)."""
    assert leak_factors(0.0) == (1.0, 1.0) == leak_factors(math.inf)
    k, lam = leak_factors(2.0)
    assert k == math.exp(-0.5) and abs(lam - 2.0 * (1 - math.exp(-0.5))) < 1e-15


def test_slow_leak_equals_the_ideal_integrator_within_one_percent():
    """τ_leak = 1000·τθ: every window's G within 1 % of the ideal one."""
    tau_theta = 50
    ideal, leaky = _chip(tau_theta=tau_theta), _chip(dict(tau_leak=50_000.0), tau_theta=tau_theta)
    for _ in range(6):
        ideal.advance(tau_theta)
        leaky.advance(tau_theta)
        assert _rel(leaky.grad, ideal.grad) < 0.01
        assert not np.array_equal(leaky.grad, ideal.grad)


@pytest.mark.parametrize("tau", [1e-2, 1e-4])
def test_fast_leak_makes_the_estimate_vanish(tau):
    """τ_leak → 0: G ≈ τ·(the last step's input), so ‖G‖/‖G_ideal‖ → 0 as τ does."""
    ideal, leaky = _chip(tau_theta=400), _chip(dict(tau_leak=tau), tau_theta=400)
    ideal.advance(399)
    leaky.advance(399)
    r = np.linalg.norm(leaky.grad) / np.linalg.norm(ideal.grad)
    assert r < 2 * tau


def test_saturation_caps_G_exactly():
    """Step by step: |G| never exceeds G_max, reaches it exactly, and G equals the ideal one
    until the first time it would have gone beyond."""
    sat = 0.5
    chip, free = _chip(dict(saturation=sat), tau_theta=2000), _chip(tau_theta=2000)
    peak, hit, first_hit = 0.0, 0, None
    for n in range(1999):
        chip.advance(1)
        free.advance(1)
        g = np.abs(chip.grad)
        peak = max(peak, g.max())
        hit += int((g == sat).sum())
        if first_hit is None:
            if (np.abs(free.grad) > sat).any():
                first_hit = n
            else:
                assert np.array_equal(chip.grad, free.grad)
    assert np.abs(free.grad).max() > 2 * sat  # the ideal integrator goes far beyond
    assert peak == sat and hit > 10 and first_hit is not None


def test_offset_adds_o_per_step():
    o, n = 1e-3, 500
    chip, ideal = _chip(dict(offset=o)), _chip()
    chip.advance(n)
    ideal.advance(n)
    assert np.allclose(chip.grad - ideal.grad, n * o, rtol=1e-9, atol=0)


def test_gain_mismatch_is_drawn_once_per_synapse_from_its_own_stream():
    sigma, n = 0.2, 400
    chip, ideal = _chip(dict(gain_dtod=sigma)), _chip()
    chip.advance(n)
    ideal.advance(n)
    gamma = np.array([1 + sigma * naive.normal_from_bits(naive.hash4(4, 21, 0, i))
                      for i in range(chip.P)])
    assert np.array_equal(chip._int_p.gain, gamma) or np.allclose(chip._int_p.gain, gamma,
                                                                  rtol=1e-15)
    assert np.allclose(chip.grad, gamma * ideal.grad, rtol=1e-9, atol=1e-15)
    assert abs(np.std(gamma) / sigma - 1) < 0.3
    a, b = chip.get_state(), ideal.get_state()
    for k in a:  # nothing but G differs
        if k != "G":
            assert a[k].tobytes() == b[k].tobytes(), k


@pytest.mark.parametrize("bits,lsb", [(4, 0.005), (16, 1e-4)])
def test_quantised_accumulator_is_a_saturating_counter(bits, lsb):
    chip, ideal = _chip(dict(bits=bits, lsb=lsb)), _chip()
    chip.advance(300)
    ideal.advance(300)
    k = chip.grad / lsb
    K = 2 ** (bits - 1) - 1
    assert np.allclose(k, np.round(k), rtol=0, atol=1e-9)
    assert np.abs(np.round(k)).max() <= K
    if bits == 4:
        assert (np.abs(np.round(k)) == K).any()  # a counter saturated
    else:
        # rounding each step to the nearest count: at most 300 half-counts from the ideal sum
        assert np.abs(chip.grad - ideal.grad).max() <= 300 * lsb / 2
        assert _rel(chip.grad, ideal.grad) < 0.05


def test_counter_dead_zone_when_every_step_is_below_half_an_lsb():
    """A step's input below LSB/2 rounds to nothing: with LSB above twice the largest
    per-step input (about 0.03 here) G never leaves 0, the hardware designer's dead zone."""
    chip = _chip(dict(bits=8, lsb=0.1))
    chip.advance(300)
    assert not chip.grad.any()


def test_partial_reset_keeps_rho_of_G_at_each_update():
    """ρ = 1 never resets (η = 0: the ideal integrator over the whole run); ρ = 0.5 gives
    G_after = 0.5·G_before + this step's input."""
    never = _chip(dict(reset_keep=1.0), tau_theta=10)
    whole = _chip(tau_theta=10**9)
    never.advance(95)
    whole.advance(95)
    assert np.allclose(never.grad, whole.grad, rtol=1e-12, atol=0)
    half, ideal = _chip(dict(reset_keep=0.5), tau_theta=10), _chip(tau_theta=10)
    half.advance(10)
    ideal.advance(10)
    before = half.grad.copy()
    assert np.array_equal(before, ideal.grad)  # no update yet
    half.advance(1)
    ideal.advance(1)  # ideal: full reset, then this step's input
    assert np.allclose(half.grad, 0.5 * before + ideal.grad, rtol=1e-12, atol=1e-15)


ALL = dict(tau_leak=30.0, saturation=0.5, offset=1e-4, gain_dtod=0.1, bits=12, lsb=1e-3,
           reset_keep=0.3)


@pytest.mark.parametrize("integ", [ALL, dict(tau_leak=5.0), dict(gain_dtod=0.3, reset_keep=0.7)],
                         ids=["all", "leak", "gain+reset"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_controller_over_port_equals_fused_path(integ, dtype):
    rule = dict(amplitude=0.05, eta=0.5, tau_p=2, tau_x=3, tau_theta=4)
    ds = load_task("xor")
    net = MLP([2, 3, 1])
    chips = [Chip(net, ds.X_train, ds.Y_train, net.init_params(3, dtype=dtype), seed=3,
                  dtype=dtype, integrator=integ, cost_line=dict(noise_std=1e-3), **rule)
             for _ in range(2)]
    assert not chips[0].fast_path_applies()
    ctl = MGDController(EmulatorPort(chips[1]), seed=3, dtype=dtype, integrator=integ,
                        cost_line=dict(noise_std=1e-3), **rule)
    for n in (1, 5, 37, 157):
        chips[0].advance(n)
        ctl.run(n)
        assert np.array_equal(chips[0].theta, chips[1].theta)
        assert np.array_equal(chips[0].grad, ctl.G)


def test_refused_where_not_modelled_and_config_errors():
    ds = load_task("xor")
    net = MLP([2, 3, 1])
    with pytest.raises(ConfigError, match="needs mgd.mode = 'discrete'"):
        Chip(net, ds.X_train, ds.Y_train, net.init_params(3), mode="analog", tau_x=3,
             integrator=dict(tau_leak=3.0))
    with pytest.raises(ConfigError, match="mgd.target = 'weights'"):
        Chip(net, ds.X_train, ds.Y_train, net.init_params(3), target="nodes",
             integrator=dict(saturation=1.0))
    with pytest.raises(ConfigError, match="chip.integrator.bits = 8: needs chip.integrator.lsb"):
        RunConfig().with_overrides({"chip.integrator.bits": 8})
    with pytest.raises(ConfigError, match="chip.integrator.reset_keep = 1.5"):
        RunConfig().with_overrides({"chip.integrator.reset_keep": 1.5})
    with pytest.raises(ConfigError, match="chip.integrator.tau_lek: unknown key"):
        Chip(net, ds.X_train, ds.Y_train, net.init_params(3), integrator=dict(tau_lek=1.0))
    ideal = Chip(net, ds.X_train, ds.Y_train, net.init_params(3), integrator={})
    assert ideal.fast_path_applies()
