"""Remedies for devices that do not train under plain MGD (issue 12), and the LinearStep
bound reference: each checked against an independent value (equation, hand computation)."""

import numpy as np
import pytest

from hwsim.chip.devices import DeviceArray, params_for
from hwsim.chip.profiles import load_profile
from tests import naive


# ------------------------------------------------------------------ LinearStep bound reference

def _slopes(mean_ref, seed=5, n=64):
    p = params_for("LinearStep", dict(gamma_up=0.4, gamma_down=0.6, gamma_up_dtod=0.05,
                                      gamma_down_dtod=0.05, w_max=1.2, w_min=-0.8,
                                      w_max_dtod=0.2, w_min_dtod=0.2,
                                      mean_bound_reference=mean_ref))
    arr = DeviceArray(p, n, seed)
    rows = arr.device_parameters()
    expect_up, expect_down = [], []
    for c in range(n):  # aihwkit LinearStep: slope = −|γ + γ_dtod·ξ| / reference bound
        gu = abs(0.4 + 0.05 * naive.dtod_normal(seed, 4, c))
        gd = abs(0.6 + 0.05 * naive.dtod_normal(seed, 5, c))
        ref_up = 1.2 if mean_ref else rows["b_max"][c]
        ref_down = -0.8 if mean_ref else rows["b_min"][c]
        expect_up.append(-gu / ref_up)
        expect_down.append(-gd / ref_down)
    return rows, np.array(expect_up), np.array(expect_down)


@pytest.mark.parametrize("mean_ref", [True, False])
def test_linear_step_slope_divides_by_mean_or_own_bounds(mean_ref):
    rows, up, down = _slopes(mean_ref)
    np.testing.assert_allclose(rows["gamma_up"], up, rtol=1e-12)
    np.testing.assert_allclose(rows["gamma_down"], down, rtol=1e-12)
    # the two references really differ when the bounds spread
    other, _, _ = _slopes(not mean_ref)
    assert not np.allclose(other["gamma_up"], rows["gamma_up"])


def test_mean_bound_reference_default_is_aihwkits_and_ecram_fits_use_it():
    assert params_for("LinearStep").mean_bound_reference is True
    for name in ("ecram_li", "ecram_mo", "capacitor"):
        assert load_profile(name).params.mean_bound_reference is True


# ------------------------------------------------------------------ threshold writes and sign

from hwsim.chip.chip import Chip  # noqa: E402
from hwsim.chip.network import MLP  # noqa: E402
from hwsim.chip.port import EmulatorPort  # noqa: E402
from hwsim.exceptions import ConfigError  # noqa: E402
from hwsim.learn.controller import MGDController  # noqa: E402
from hwsim.tasks import load_task  # noqa: E402

QUANTISED = dict(dw_min=0.01, w_max=1.0, w_min=-1.0, dw_min_dtod=0.0, dw_min_std=0.0,
                 up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0, write_noise_std=0.0,
                 pulse_rounding="nearest")
P8 = 8
TAU = P8  # TDMA: one update sees every parameter once, G = exact finite difference
AMP = 0.02


def _quadratic_chip(device_values, eta, **kw):
    theta0 = np.random.default_rng(0).uniform(-0.4, 0.4, P8)
    dev = None
    if device_values is not None:
        dev = DeviceArray(params_for("ConstantStep", device_values), P8, 1)
    return Chip(None, np.zeros((4, 1)), None, theta0, seed=1, perturbation="tdma",
                amplitude=AMP, eta=eta, tau_theta=TAU, analytic=("quadratic", None),
                device=dev, **kw)


def _trajectory(chip, updates):
    out = []
    for _ in range(updates):
        chip.advance(TAU)
        out.append(chip.theta.copy())
    return np.array(out)


@pytest.mark.parametrize("k", [1.0, 3.0])
def test_threshold_writes_follow_the_ideal_trajectory_within_the_quantisation(k):
    """C = ½‖θ‖², TDMA: exact gradient θ + Δ/2. With residue r (|r| < k·dw_min) the virtual
    weight u = θ + r obeys u' = (1 − η)u + η·r − η·Δ/2, so |u − θ_ideal| ≤ k·dw_min and
    |θ − θ_ideal| ≤ 2·k·dw_min at every update (hand derivation, linear contraction)."""
    eta, n_upd = 0.02, 300  # requests ≈ 0.02·0.4 < dw_min: single writes are sub-step
    ideal = _trajectory(_quadratic_chip(None, eta), n_upd)
    dev = _trajectory(_quadratic_chip(QUANTISED, eta, write_threshold=k), n_upd)
    err = np.abs(dev - ideal).max()
    assert err <= 2 * k * 0.01 + 1e-12
    assert np.abs(ideal[-1] - ideal[0]).max() > 0.2  # the trajectory really moves
    # without the threshold, sub-step requests round to zero pulses and θ never moves
    plain = _trajectory(_quadratic_chip(QUANTISED, eta), n_upd)
    assert np.abs(plain - ideal).max() > 10 * 0.01


def _ledger(chip, updates, eta):
    """Σ requests (−η·G before each write), Σ nominal written (the kernel's ``written``)."""
    req = np.zeros(chip.P)
    wr = np.zeros(chip.P)
    chip.advance(TAU)
    for _ in range(updates):
        req += -eta * chip.grad.astype(np.float64)
        chip.advance(TAU)  # the first step writes
        wr += chip.state.written
    return req, wr


NOISY = dict(dw_min=0.01, w_max=1.0, w_min=-1.0, dw_min_dtod=0.3, dw_min_std=0.5,
             up_down=0.2, write_noise_std=2.0)


def test_threshold_residue_bookkeeping_loses_nothing_nominal():
    eta = 0.05
    chip = _quadratic_chip(NOISY, eta, write_threshold=2.0)
    req, wr = _ledger(chip, 200, eta)
    res = chip.state.residue
    np.testing.assert_allclose(wr + res, req, rtol=0, atol=1e-12)
    assert np.all(np.abs(res) < 2.0 * 0.01 + 1e-12)  # an unwritten residue is below k·dw_min
    st = chip.device_stats()  # independent: pulse counts × dw_min
    assert wr.sum() == pytest.approx(0.01 * (st["pulses_up"] - st["pulses_down"]), abs=1e-9)
    assert chip.counters()["readback_reads"] == 0


def test_threshold_residue_bookkeeping_loses_nothing_read_back():
    """Without read noise, the read-backs sum to the whole change of θ: Σ requests =
    θ_T − θ_0 + residue (write noise and c2c noise included)."""
    eta = 0.05
    chip = _quadratic_chip(NOISY, eta, write_threshold=2.0, write_residue="read_back")
    theta0 = chip.theta.astype(np.float64).copy()
    req, wr = _ledger(chip, 200, eta)
    res = chip.state.residue
    np.testing.assert_allclose(wr + res, req, rtol=0, atol=1e-12)
    np.testing.assert_allclose(chip.theta - theta0 + res, req, rtol=0, atol=1e-12)
    writes = chip.device_stats()["device_writes"]
    assert writes > 0 and chip.counters()["readback_reads"] == 2 * writes


def test_threshold_residue_is_checkpointed_and_resumes_bit_identically():
    a = _quadratic_chip(NOISY, 0.05, write_threshold=2.0)
    b = _quadratic_chip(NOISY, 0.05, write_threshold=2.0)
    a.advance(TAU * 37 + 3)
    state = a.get_state()
    assert "residue" in state and np.any(state["residue"] != 0)
    a.advance(TAU * 20)
    b.set_state(state)
    b.advance(TAU * 20)
    assert np.array_equal(a.theta, b.theta) and np.array_equal(a.state.residue, b.state.residue)


def test_sign_updates_send_one_pulse_per_synapse_and_update():
    eta = 0.05
    chip = _quadratic_chip(QUANTISED, eta, optimizer="sign", sign_step=1.0)
    chip.advance(TAU)
    before = chip.theta.copy()
    g = chip.grad.copy()
    chip.advance(1)
    np.testing.assert_allclose(chip.theta - before, -0.01 * np.sign(g), atol=1e-15)
    assert chip.device_stats()["pulses"] == np.count_nonzero(g)


def test_remedy_options_refused_on_ideal_synapses_and_in_the_controller():
    with pytest.raises(ConfigError, match="write_threshold = 1.0: needs a pulsed device"):
        _quadratic_chip(None, 0.1, write_threshold=1.0)
    with pytest.raises(ConfigError, match="optimizer = 'sign': needs a pulsed device"):
        _quadratic_chip(None, 0.1, optimizer="sign")
    with pytest.raises(ConfigError, match="write_residue = 'exact'"):
        _quadratic_chip(QUANTISED, 0.1, write_threshold=1.0, write_residue="exact")
    chip = _quadratic_chip(QUANTISED, 0.1)
    with pytest.raises(ConfigError, match="not available in the plain-Python controller"):
        MGDController(EmulatorPort(chip), write_threshold=1.0)


def test_sign_controller_over_port_equals_fused_driver():
    ds = load_task("xor")
    net = MLP([2, 3, 1])
    p = params_for("ConstantStep", {"dw_min": 0.001, "w_max": 2.0, "w_min": -2.0})
    rule = dict(amplitude=0.05, eta=0.5, tau_p=2, tau_x=3, tau_theta=4)
    chips = [Chip(net, ds.X_train, ds.Y_train, net.init_params(3), seed=3,
                  device=DeviceArray(p, net.n_params, 3), optimizer="sign", sign_step=2.0,
                  **rule) for _ in range(2)]
    ctl = MGDController(EmulatorPort(chips[1]), seed=3, optimizer="sign", sign_step=0.002,
                        **rule)
    for n in (3, 50, 201):
        chips[0].advance(n)
        ctl.run(n)
        assert np.array_equal(chips[0].theta, chips[1].theta)
    assert chips[0].device_stats()["pulses"] > 0


# ------------------------------------------------------------------ symmetry point

def test_symmetry_point_of_soft_bounds_found_within_two_dw_min():
    """SoftBounds: |Δw⁺| = dw_up·(1 − w/b_max), |Δw⁻| = dw_down·(1 − w/b_min) are equal at
    w* = (dw_up − dw_down)/(dw_up/b_max − dw_down/b_min) (solved by hand)."""
    dw = 0.002
    p = params_for("SoftBounds", dict(dw_min=dw, w_max=1.25, w_min=-0.75, dw_min_dtod=0.1,
                                      up_down=0.3, up_down_dtod=0.05, w_max_dtod=0.1,
                                      w_min_dtod=0.1, dw_min_std=0.3, mult_noise=True))
    arr = DeviceArray(p, 50, 4)
    arr.init_weights(np.linspace(-0.6, 1.1, 50))
    rows = arr.device_parameters()
    up, down, bmax, bmin = rows["dw_up"], rows["dw_down"], rows["b_max"], rows["b_min"]
    expect = (up - down) / (up / bmax - down / bmin)
    assert np.ptp(expect) > 10 * dw  # the points differ from device to device
    before = arr.theta.copy()
    found = arr.symmetry_point()
    assert np.abs(found - expect).max() < 2 * dw
    assert np.array_equal(arr.theta, before)  # measured on a copy


def test_symmetry_reference_holds_a_zero_mean_pulse_train_at_zero():
    """Alternating ± requests walk an asymmetric SoftBounds weight to its w* (the device's
    own physics); with the reference subtracted the network sees W − w*, which stays ≈ 0."""
    vals = dict(dw_min=0.005, w_max=1.0, w_min=-1.0, up_down=0.5, dw_min_std=0.0,
                dw_min_dtod=0.0, up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0)
    plain = DeviceArray(params_for("SoftBounds", vals), 4, 2)
    ref = DeviceArray(params_for("SoftBounds", vals), 4, 2)
    w_star = ref.set_symmetry_reference()
    np.testing.assert_allclose(w_star, 1 / 3, atol=2 * 0.005)  # 0.005(1−w) = 0.0025(1+w)
    for arr in (plain, ref):
        arr.init_weights(np.zeros(4))
        assert np.array_equal(arr.theta, np.zeros(4))
        for k in range(4000):
            arr.write(np.full(4, 0.005 if k % 2 == 0 else -0.005), k)
    assert np.all(plain.theta > 0.3)  # walked to w* = 1/3
    assert np.all(np.abs(ref.theta) < 0.02)  # held at 0 (± one step and the estimate)
    assert ref.stats["reference_pulses"] == 2 * ref.symmetry_cycles() * 4
    # stored weights really sit at w*: the reference is subtracted, not the physics changed
    np.testing.assert_allclose(ref.conductances, ref.theta + w_star, atol=1e-12)


def test_symmetry_reference_in_a_chip_counts_two_reads_per_weight_and_is_refused_on_pairs():
    chip = _quadratic_chip(NOISY, 0.05, symmetry_reference=True)
    chip.advance(3)
    c = chip.counters()
    assert c["device_reads"] == 2 * P8 * c["perturbed_inferences"] + 2 * P8 * c[
        "baseline_inferences"]
    assert c["reference_pulses"] > 0
    pair = DeviceArray(load_profile("pcm_pair").params, 4, 1)
    with pytest.raises(ConfigError, match="needs a two-sided pulsed device"):
        pair.set_symmetry_reference(10)
    with pytest.raises(ConfigError, match="symmetry_reference = true: needs a pulsed device"):
        _quadratic_chip(None, 0.1, symmetry_reference=True)


def test_threshold_write_stage_equals_a_naive_python_reference():
    """The fused threshold stage (gate, pulses, settle) against tests/naive.py's pulsed update
    driven by a Python residue, update by update, on a noisy ConstantStep device."""
    import math

    from hwsim.kernels import devices as K
    from tests.test_devices import device_dict

    vals = dict(NOISY, pulse_rounding="nearest")
    eta, k = 0.05, 2.0
    chip = _quadratic_chip(vals, eta, write_threshold=k)
    arr = chip.device
    devs = [device_dict(arr, c) for c in range(P8)]
    W = arr.dev[5].astype(float).tolist()
    WN = arr.dev[6].astype(float).tolist()
    res = [0.0] * P8
    chip.advance(TAU)
    for u in range(120):
        req = (-eta * chip.grad.astype(np.float64)).tolist()
        acc = [r + q for r, q in zip(res, req)]
        gated = [a if abs(a) >= k * 0.01 else 0.0 for a in acc]
        theta, W, WN, _ = naive.device_update(
            "ConstantStep", devs, W, WN, [-g for g in gated], 1.0, u, 1, dw_min=0.01,
            stochastic=False, write_std=2.0 * 0.01)
        written = [math.copysign(math.floor(abs(g) / 0.01 + 0.5) * 0.01, g) if g else 0.0
                   for g in gated]
        res = [a - w for a, w in zip(acc, written)]
        chip.advance(TAU)
        np.testing.assert_allclose(chip.theta, theta, rtol=0, atol=1e-12)
        np.testing.assert_allclose(chip.state.residue, res, rtol=0, atol=1e-12)
    assert arr.stats["device_writes"] > 50
    assert K.ROW_NAMES[K.R_REF] == "reference"
