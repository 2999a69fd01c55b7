"""Tiki-Taka transfer (chip.transfer, hwsim/kernels/transfer.py, docs/tiki_taka.md): hand
values, a plain-Python reference of the schedule, checkpoints, and the refusals."""

import math

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.devices import DeviceArray, params_for
from hwsim.chip.network import MLP
from hwsim.chip.port import EmulatorPort
from hwsim.chip.transfer import columns, transfer_seed
from hwsim.config import RunConfig
from hwsim.exceptions import ConfigError, HwsimError
from hwsim.kernels.transfer import TRANSFER_COUNTER
from hwsim.kernels.devices import S_RESET_STD
from hwsim.kernels.hashing import STREAM_CHOPPER, STREAM_TT_RESET
from tests import naive
from tests.test_devices import device_dict

QUANTISED = dict(dw_min=0.01, w_max=1.0, w_min=-1.0, dw_min_dtod=0.0, dw_min_std=0.0,
                 up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0, write_noise_std=0.0,
                 pulse_rounding="nearest")
NOISY = dict(dw_min=0.01, w_max=1.0, w_min=-1.0, dw_min_dtod=0.3, dw_min_std=0.3,
             up_down_dtod=0.05, w_max_dtod=0.0, w_min_dtod=0.0, write_noise_std=1.0,
             pulse_rounding="nearest", read_noise="additive", read_noise_std=0.004)
P8, TAU, AMP = 8, 8, 0.02


def _linear_chip(device_values, gamma, **tt):
    """One parameter, C(θ) = θ, TDMA: G = 1 every update, so Δ = −η (hand-computable)."""
    dev = None if device_values is None else DeviceArray(
        params_for("ConstantStep", device_values), 1, 1)
    return Chip(None, np.zeros((1, 0)), None, np.array([0.5]), seed=1, perturbation="tdma",
                amplitude=0.05, eta=0.03, analytic=("linear", np.array([1.0])), device=dev,
                transfer=dict(enabled=True, gamma=gamma, **tt))


@pytest.mark.parametrize("device_values", [None, QUANTISED], ids=["ideal", "constant_step"])
@pytest.mark.parametrize("gamma", [0.0, 0.5])
def test_hand_computed_transfers(device_values, gamma):
    """transfer_every = 1, every column, transfer_lr = 1, A never reset: after update k,
    A_k = −0.03·k (3 pulses of dw_min = 0.01 per update) and C_k = C_{k−1} + A_k, so
    C_k = 0.5 − 0.03·k(k+1)/2 and θ = γ·A + C."""
    chip = _linear_chip(device_values, gamma)
    assert not chip.fast_path_applies()
    assert chip.theta[0] == 0.5 and chip.state.tt_a[0] == 0.0
    for k in (1, 2, 3):
        chip.advance(1 if k > 1 else 2)  # the first update is at step 1
        a, c = -0.03 * k, 0.5 - 0.03 * k * (k + 1) / 2
        assert chip.state.tt_a[0] == pytest.approx(a, abs=1e-12)
        assert chip.state.tt_c[0] == pytest.approx(c, abs=1e-12)
        assert chip.theta[0] == pytest.approx(gamma * a + c, abs=1e-12)
    cnt = chip.counters()
    assert cnt["transfers"] == 3 and cnt["transfer_reads"] == 3
    if device_values is not None:  # A: 3 × 3 pulses down; C: 3 + 6 + 9
        assert cnt["transfer_pulses_down"] == 18 and cnt["transfer_pulses_up"] == 0
        assert cnt["write_pulses_down"] == 9 + 18
    # the inferences read one array (γ = 0) or both
    assert cnt["device_reads"] == cnt["perturbed_inferences"] * (2 if gamma else 1) + \
        cnt["baseline_inferences"] * (2 if gamma else 1)


def test_columns_are_input_indices_and_biases():
    col_of, start, idx, layers = columns(np.array([2, 3, 1]), 13)
    # layer 0: W (3×2) at 0..5 row-major, biases 6..8; layer 1: W (1×3) at 9..11, bias 12
    cols = [idx[start[c]:start[c + 1]].tolist() for c in range(len(start) - 1)]
    assert cols == [[0, 2, 4], [1, 3, 5], [6, 7, 8], [9], [10], [11], [12]]
    assert layers.tolist() == [0, 3, 7]
    assert all(col_of[i] == c for c, m in enumerate(cols) for i in m)


def _quad_chip(vals, transfer, eta=0.05):
    theta0 = np.random.default_rng(0).uniform(-0.4, 0.4, P8)
    dev = DeviceArray(params_for("ConstantStep", vals), P8, 1)
    return Chip(None, np.zeros((4, 1)), None, theta0, seed=1, perturbation="tdma",
                amplitude=AMP, eta=eta, tau_theta=TAU, analytic=("quadratic", None),
                device=dev, transfer=dict(enabled=True, **transfer))


def _naive_transfer(chip, tt, n_updates, eta=0.05):
    """The transfer schedule in plain Python (tests/naive.py devices), update by update,
    checked against the kernel's A, C, H and θ after every update."""
    A, Cdev = chip.device, chip.device_c
    seed_a, seed_c = 1, transfer_seed(1)
    assert Cdev.seed == seed_c
    dA = [device_dict(A, c) for c in range(P8)]
    dC = [device_dict(Cdev, c) for c in range(P8)]
    WA, WNA = A.dev[5].astype(float).tolist(), A.dev[6].astype(float).tolist()
    WC, WNC = Cdev.dev[5].astype(float).tolist(), Cdev.dev[6].astype(float).tolist()
    thA = chip.state.tt_a.astype(float).tolist()
    chop, H, ptr = [1.0] * P8, [0.0] * P8, 0
    sig = float(A.params.read_noise_std) if A.params.read_noise == "additive" else 0.0
    every, per, lr, g = tt["transfer_every"], tt["columns_per_transfer"], tt["transfer_lr"], \
        tt.get("gamma", 0.0)
    buf, thr = tt.get("buffer", False), tt.get("buffer_threshold", 1.0) * 0.01
    forget, cp = tt.get("forget_buffer", True), tt.get("chopper_p", 0.0)
    rp, rstd = tt.get("reset_prob", 0.0), float(A.dev[2][S_RESET_STD])
    resets = 0
    kw = dict(dw_min=0.01, stochastic=False, write_std=float(A.params.write_noise_std) * 0.01)
    wrote = reads = 0
    chip.advance(TAU)
    for u in range(n_updates):
        req = [-eta * float(x) * chop[i] for i, x in enumerate(chip.grad)]
        thA, WA, WNA, _ = naive.device_update("ConstantStep", dA, WA, WNA, [-r for r in req],
                                              1.0, u, seed_a, **kw)
        reqC = [0.0] * P8
        if (u + 1) % every == 0:
            n = (u + 1) // every - 1
            read = naive.additive_read(thA, sig, seed_a, TRANSFER_COUNTER + n, 0) if sig \
                else list(thA)
            for _ in range(min(per, P8)):
                c, ptr = ptr, (ptr + 1) % P8  # analytic cost: one layer, a column per weight
                v = lr * (chop[c] * read[c])
                if buf:
                    h = H[c] + v
                    if abs(h) >= thr:
                        reqC[c] = math.trunc(h / thr) * thr
                        h = 0.0 if forget else h - reqC[c]
                    H[c] = h
                else:
                    reqC[c] = v
                reads += 1
                if cp > 0 and naive.uniform01(naive.hash4(1, STREAM_CHOPPER, n, c)) < cp:
                    chop[c] = -chop[c]
                if rp > 0 and naive.uniform01(naive.hash4(1, STREAM_TT_RESET, n, c)) < rp:
                    # hard reset to the device's reset value (+ reset_std c2c), WN = 0
                    d, xi = dA[c], naive.normal_from_bits(naive.hash_sub(
                        seed_a, naive.STREAM_C2C, TRANSFER_COUNTER + n, c, 0))
                    WA[c] = min(max(d["reset"] + rstd * xi, d["b_min"]), d["b_max"])
                    WNA[c] = 0.0
                    thA[c] = WA[c]
                    resets += 1
        thC, WC, WNC, p = naive.device_update("ConstantStep", dC, WC, WNC,
                                              [-r for r in reqC], 1.0, u, seed_c, **kw)
        wrote += p
        chip.advance(TAU)
        np.testing.assert_allclose(chip.state.tt_a, thA, rtol=0, atol=1e-12)
        np.testing.assert_allclose(chip.state.tt_c, thC, rtol=0, atol=1e-12)
        np.testing.assert_allclose(chip.theta, [g * a + c for a, c in zip(thA, thC)],
                                   rtol=0, atol=1e-12)
        if buf:
            np.testing.assert_allclose(chip.state.tt_h, H, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(chip.state.tt_chop, chop)
    cnt = chip.counters()
    assert cnt["transfer_reads"] == reads and cnt["transfers"] == n_updates // every
    assert cnt["transfer_resets"] == resets and (resets > 0) == (rp > 0)
    assert cnt["transfer_pulses_up"] + cnt["transfer_pulses_down"] == wrote > 0


def test_kernel_equals_naive_reference_ttv1_with_read_noise():
    tt = dict(transfer_every=2, columns_per_transfer=3, transfer_lr=0.5, gamma=0.3)
    _naive_transfer(_quad_chip(NOISY, tt), tt, 40)


def test_kernel_equals_naive_reference_ttv2_with_chopper():
    tt = dict(transfer_every=1, columns_per_transfer=2, transfer_lr=0.8, buffer=True,
              buffer_threshold=2.0, forget_buffer=False, chopper_p=0.3)
    _naive_transfer(_quad_chip(NOISY, tt), tt, 40)


def test_kernel_equals_naive_reference_with_reset():
    """reset_prob = 0.6 on devices with spread reset values and reset_std (a reset is a hard
    set to r_c + reset_std·ξ, write-noise offset 0), TTv1 with the chopper and read noise."""
    vals = dict(NOISY, reset=0.05, reset_dtod=0.1, reset_std=0.02)
    tt = dict(transfer_every=2, columns_per_transfer=3, transfer_lr=0.7, chopper_p=0.2,
              reset_prob=0.6)
    _naive_transfer(_quad_chip(vals, tt), tt, 40)


def _mlp_chip(**transfer):
    net = MLP([3, 4, 2])
    rng = np.random.default_rng(5)
    X, Y = rng.uniform(0, 1, (6, 3)), rng.uniform(0, 1, (6, 2))
    return Chip(net, X, Y, net.init_params(0), seed=3, eta=0.5, amplitude=0.05,
                tau_theta=4, transfer=dict(transfer) if transfer else None)


def test_reset_makes_transfer_plain_mgd_on_ideal_synapses():
    """By construction: Ideal A and C, transfer every update, every column, λ = 1,
    reset_prob = 1, γ = 0 ⇒ A holds exactly the last update Δ_k, C ← C + Δ_k, A ← 0, so
    θ = C follows plain MGD's trajectory bit for bit (same seed). Without the reset A keeps
    integrating and θ leaves that trajectory."""
    plain = _mlp_chip()
    tt = dict(enabled=True, transfer_every=1, columns_per_transfer=5, transfer_lr=1.0,
              gamma=0.0, reset_prob=1.0)
    reset, no_reset = _mlp_chip(**tt), _mlp_chip(**{**tt, "reset_prob": 0.0})
    for _ in range(5):
        for chip in (plain, reset, no_reset):
            chip.advance(40)
        np.testing.assert_array_equal(reset.theta, plain.theta)
        np.testing.assert_array_equal(reset.state.tt_a, 0.0)
    assert not np.allclose(no_reset.theta, plain.theta, atol=1e-6)
    cnt = reset.counters()
    assert cnt["transfers"] == reset.updates > 40
    assert cnt["transfer_resets"] == cnt["transfer_reads"] == reset.updates * reset.P


def test_transfer_refuses_conv_layers():
    from hwsim.chip.layers import build_network
    from hwsim.sections.network import NetworkConfig

    net = build_network(NetworkConfig(layers=[dict(type="conv2d", channels=2, kernel=2),
                                              dict(type="flatten"), dict(type="dense", units=2)],
                                      activation="relu"), (1, 3, 3))
    X = np.zeros((2, 9))
    with pytest.raises(ConfigError, match="needs a dense network .*conv2d and pool layers"):
        Chip(net, X, np.zeros((2, 2)), net.init_params(0), transfer=dict(enabled=True))
    with pytest.raises(ConfigError, match="covers 13 weights, the chip has 12"):
        from hwsim.chip.transfer import build
        build(dict(enabled=True), sizes=np.array([2, 3, 1]), P=12, seed=0, dtype=np.float64,
              device=None, theta0=np.zeros(12))


def test_checkpoint_resume_is_bit_exact():
    tt = dict(transfer_every=3, columns_per_transfer=2, buffer=True, chopper_p=0.2,
              reset_prob=0.3)
    ref = _quad_chip(NOISY, tt)
    ref.advance(300)
    a = _quad_chip(NOISY, tt)
    a.advance(130)
    saved = a.get_state()
    assert {"tt_a", "tt_c", "tt_h", "tt_chop", "tt_ptr", "device_c.W"} <= set(saved)
    b = _quad_chip(NOISY, tt)
    b.set_state(saved)
    b.advance(170)
    for name in ("theta", "tt_a", "tt_c", "tt_h", "tt_chop", "tt_ptr"):
        np.testing.assert_array_equal(getattr(b.state, name), getattr(ref.state, name))
    assert b.counters() == ref.counters() and ref.counters()["transfer_resets"] > 0
    saved.pop("tt_a")  # e.g. a checkpoint of the same chip without transfer
    with pytest.raises(ConfigError, match="lacks 'tt_a'"):
        b.set_state(saved)


def test_off_by_default_and_refusals():
    cfg = RunConfig()
    assert cfg.chip.transfer.enabled is False
    chip = Chip(None, np.zeros((1, 0)), None, np.zeros(2), analytic=("linear", np.ones(2)))
    assert chip.params.transfer.on == 0 and chip.state.tt_a.size == 0
    with pytest.raises(HwsimError, match="chip.transfer.chopper_p"):
        RunConfig().with_overrides({"chip.transfer.enabled": True, "chip.transfer.gamma": 0.5,
                                    "chip.transfer.chopper_p": 0.1})
    with pytest.raises(ConfigError, match="EmulatorPort: chip.transfer.enabled"):
        EmulatorPort(_linear_chip(None, 0.0))
    with pytest.raises(ConfigError, match="needs mgd.target = 'weights'"):
        net = MLP([2, 2, 1])
        Chip(net, np.zeros((2, 2)), np.zeros((2, 1)), net.init_params(0), target="nodes",
             transfer=dict(enabled=True))
    drift = dict(QUANTISED, drift="power")
    with pytest.raises(ConfigError, match="needs device.drift = 'none'"):
        _linear_chip(drift, 0.0)
    with pytest.raises(ConfigError, match="buffer = true: needs a pulsed device"):
        _linear_chip(None, 0.0, buffer=True)


def test_trainer_runs_transfer_and_resumes_bit_exact(tmp_path):
    """A run with [chip.transfer] through the trainer: the counters reach summary.json, and a
    run stopped at 300 steps and resumed from its checkpoint writes the same metrics.csv as an
    uninterrupted one."""
    from hwsim.config import load_config
    from hwsim.experiment import resume_experiment, run_experiment

    over = {"chip.device": "rpu_spec", "chip.transfer.enabled": True,
            "chip.transfer.columns_per_transfer": 2, "chip.transfer.buffer": True,
            "chip.transfer.chopper_p": 0.2, "sim.steps": 600, "sim.eval_every": 100}
    cfg = load_config("examples/xor.toml").with_overrides(over)
    whole = run_experiment(cfg, tmp_path / "one")
    c = whole.summary_["counters"]
    assert c["transfers"] == whole.chip_.updates and c["transfer_reads"] > 0
    run_experiment(cfg.with_overrides({"sim.steps": 300}), tmp_path / "two")
    resume_experiment(tmp_path / "two", ["sim.steps=600"])
    assert (tmp_path / "one" / "metrics.csv").read_bytes() == \
        (tmp_path / "two" / "metrics.csv").read_bytes()


@pytest.mark.slow
def test_tiki_taka_example_checks_pass(tmp_path):
    """examples/tiki_taka.py at its defaults (12 digits runs of 150,000 steps; Tiki-Taka with
    reset_prob = 0.01): (a) within 2 points of plain MGD on idealized, (b) above plain MGD on
    reram_sb (docs/tiki_taka.md, 'Measured')."""
    import runpy

    mod = runpy.run_path("examples/tiki_taka.py")
    assert mod["main"](["--out", str(tmp_path)]) == 0
