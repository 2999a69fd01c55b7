"""Synapse devices inside whole training runs: the chip, the trainer and the run folder."""

import json

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.network import MLP
from hwsim.chip.profiles import load_profile, profile_from_dict
from hwsim.config import RunConfig
from hwsim.experiment import resume_experiment, run_experiment
from hwsim.learn import MGDTrainer, build_chip
from hwsim.runs import load_checkpoint, read_metrics
from hwsim.tasks import load_task


def write_profile(tmp_path, name="dev", **device):
    lines = [f'name = "{name}"', 'source = "test fixture"', "[device]"]
    device.setdefault("model", "ConstantStep")
    for k, v in device.items():
        lines.append(f"{k} = {json.dumps(v)}")
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def digits_cfg(**over):
    d = {"seed": 1, "task": {"name": "digits"},
         "network": {"sizes": [64, 32, 10], "cost": "cross_entropy"},
         "mgd": {"eta": 0.5, "tau_theta": 50}, "sim": {"steps": 20_000, "eval_every": 5_000}}
    for k, v in over.items():
        sec, key = k.split(".")
        d.setdefault(sec, {})[key] = v
    return RunConfig.from_dict(d)


def test_device_run_reports_pulses_and_resumes_bit_identically(tmp_path):
    cfg = digits_cfg(**{"chip.device": "rpu_spec"})
    full = run_experiment(cfg, tmp_path / "full")
    rows = read_metrics(tmp_path / "full" / "metrics.csv")
    assert rows[-1]["pulses"] > 0 and rows[-1]["pulses"] == full.summary_["device_stats"]["pulses"]
    assert full.summary_["device"] == "rpu_spec" and full.summary_["device_model"] == "ConstantStep"
    assert (tmp_path / "full" / "device.toml").exists()
    half = digits_cfg(**{"chip.device": "rpu_spec", "sim.steps": 10_000})
    run_experiment(half, tmp_path / "half")
    resume_experiment(tmp_path / "half", ["sim.steps=20000"])
    assert (tmp_path / "half" / "metrics.csv").read_bytes() == \
        (tmp_path / "full" / "metrics.csv").read_bytes()
    a, b = (load_checkpoint(tmp_path / d / "checkpoint.npz") for d in ("full", "half"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert any(k.startswith("device.") for k in a)


def test_D6_drift_is_felt_after_training(tmp_path):  # case D6
    costs = {}
    for nu in (0.05, 0.0):
        prof = write_profile(tmp_path, f"drift{nu}", dw_min=0.001, w_max=1.0, w_min=-1.0,
                             drift="power", drift_nu=nu, dw_min_std=0.0, dw_min_dtod=0.0)
        t = MGDTrainer(digits_cfg(**{"chip.device": prof})).run()
        chip, net, ds = t.chip_, t.network_, t.dataset_
        before = net.evaluate(chip.theta, ds.X_test, ds.Y_test, ds.labels_test)[0]
        chip.drift_to(chip.step * t.config.sim.dt + 1e4)
        after = net.evaluate(chip.theta, ds.X_test, ds.Y_test, ds.labels_test)[0]
        costs[nu] = (before, after)
    assert costs[0.05][1] != costs[0.05][0]
    assert costs[0.0][1] == costs[0.0][0]


def test_D7_one_sided_pair_with_refresh_learns_parity(tmp_path):  # case D7
    prof = write_profile(tmp_path, "onesided", one_sided=True, refresh_every=200, dw_min=0.002,
                         w_min=0.0, w_max=1.0, dw_min_dtod=0.1, dw_min_std=0.1, w_max_dtod=0.05,
                         w_min_dtod=0.0, reset=0.0, reset_dtod=0.0, reset_std=0.0)
    p = load_profile(prof)
    assert p.n_states() == pytest.approx(500.0)  # (w_max - w_min) / dw_min
    cfg = RunConfig.from_dict({
        "seed": 2, "task": {"name": "parity", "bits": 4}, "network": {"sizes": [4, 10, 1]},
        "chip": {"device": prof, "weight_scale": 5.0}, "mgd": {"eta": 0.04, "tau_theta": 20},
        "sim": {"steps": 300_000, "eval_every": 20_000}})
    t = MGDTrainer(cfg).run()
    assert t.summary_["device_stats"]["refreshes"] > 0
    assert t.summary_["best_test_accuracy"] >= 0.9  # chance is 0.5


def test_D9_chip_state_round_trip_with_devices():  # case D9
    cfg = digits_cfg(**{"chip.device": "reram_es"})
    a, _, _ = build_chip(cfg)
    a.advance(3333)
    state = a.get_state()
    a.advance(2000)
    b, _, _ = build_chip(cfg.with_overrides({"seed": 1}))
    b.set_state(state)
    b.advance(2000)
    sa, sb = a.get_state(), b.get_state()
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)


def test_D10_float32_everywhere():  # case D10
    cfg = digits_cfg(**{"chip.device": "rpu_spec", "sim.dtype": "float32"})
    chip, _, _ = build_chip(cfg)
    chip.advance(500)
    # the cost line (its record and the nonideal line's memory line_mem) holds float64
    # costs; G, applied follow dtype
    floats = {k: v for k, v in chip.get_state().items() if v.dtype.kind == "f"
              and k != "line_mem"}
    float_state = set(floats)
    assert float_state >= {"theta", "G", "applied", "device.theta", "device.D"}
    assert all(floats[k].dtype == np.float32 for k in float_state), \
        {k: floats[k].dtype for k in float_state}


@pytest.mark.parametrize("dtype,device", [("float32", "ideal"), ("float64", "quantized")])
def test_M3_no_trace_in_float32_and_on_a_quantized_device(tmp_path, dtype, device):  # case M3
    dev = "ideal" if device == "ideal" else write_profile(tmp_path, "q", n_states=64)
    cfg = digits_cfg(**{"chip.device": dev, "sim.dtype": dtype, "mgd.eta": 0.0, "mgd.tau_p": 5,
                        "mgd.tau_theta": 1})
    chip, _, _ = build_chip(cfg)
    theta0 = chip.theta.copy()
    chip.advance(200_000)
    assert np.array_equal(chip.theta, theta0)


@pytest.mark.parametrize("model", ["per_neuron", "per_weight"])
@pytest.mark.parametrize("target", ["weights", "nodes"])
def test_D12_read_noise_independent_or_frozen_per_step(tmp_path, model, target):  # case D12
    """With a vanishing perturbation (Δ = 1e-12), C~ is the read-noise difference when the two
    reads of a step draw independent noise, and vanishes when the noise is frozen per step
    (to the size of C~ itself, ~1e-13), for both read-noise models and both targets."""
    if model == "per_neuron" and target == "nodes":
        pytest.skip("per-neuron read noise is for weight perturbation (auto picks per_weight)")
    spread = {}
    for frozen in (False, True):
        prof = write_profile(tmp_path, f"rn{frozen}", read_noise="additive", read_noise_std=0.02,
                             read_noise_frozen_per_step=frozen, dw_min=0.001, w_max=1.0,
                             w_min=-1.0)
        cfg = digits_cfg(**{"chip.device": prof, "mgd.eta": 0.0, "mgd.amplitude": 1e-12,
                            "chip.read_noise_model": model, "mgd.target": target})
        chip, _, _ = build_chip(cfg)
        assert chip.read_noise_model == model
        ct = []
        for _ in range(200):
            chip.advance(1)
            ct.append(chip.cost_line["ctilde"])
        spread[frozen] = np.std(ct)
    assert spread[True] < 1e-11 and spread[False] > 1e-4, spread


def test_profile_pulse_settings_apply_unless_the_chip_overrides(tmp_path):
    """A profile's pulse_rounding/max_pulses take effect; [chip] overrides only when set."""
    prof = write_profile(tmp_path, "mp", dw_min=0.001, w_max=1.0, w_min=-1.0, max_pulses=1,
                         pulse_rounding="nearest")
    chip, _, _ = build_chip(digits_cfg(**{"chip.device": prof}))
    assert chip.pulse_settings() == {"pulse_rounding": "nearest", "max_pulses": 1}
    chip, _, _ = build_chip(digits_cfg(**{"chip.device": prof, "chip.max_pulses": 0,
                                          "chip.update_rounding": "stochastic"}))
    assert chip.pulse_settings() == {"pulse_rounding": "stochastic", "max_pulses": 0}
    t = MGDTrainer(digits_cfg(**{"chip.device": prof, "sim.steps": 2000,
                                 "mgd.tau_theta": 1})).run()
    assert t.summary_["device_stats"]["capped_updates"] > 0


def test_a_dw_min_that_would_hang_a_run_is_refused(tmp_path):
    from hwsim.exceptions import ConfigError

    with pytest.raises(ConfigError, match=r"device.dw_min = 1e-300: must be ≥"):
        load_profile(write_profile(tmp_path, "tiny", dw_min=1e-300))


def test_write_based_perturbation_matches_the_signal_in_the_ideal_limit(tmp_path):
    """A noiseless, symmetric, fine-grained device: writing the code into the device and
    removing it again gives the same training as adding it on the read path."""
    fine = dict(dw_min=1e-5, w_max=1.0, w_min=-1.0, dw_min_dtod=0.0, dw_min_std=0.0,
                up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0, pulse_rounding="nearest")
    runs = {}
    for by_write in (False, True):
        prof = write_profile(tmp_path, f"w{by_write}", perturbation_by_write=by_write, **fine)
        chip, _, _ = build_chip(digits_cfg(**{"chip.device": prof, "mgd.tau_theta": 1,
                                              "mgd.tau_p": 3, "mgd.tau_x": 2}))
        chip.advance(200)
        runs[by_write] = chip
    a, b = runs[False], runs[True]
    assert b.device_stats()["pulses"] > 2 * a.device_stats()["pulses"]  # the code is written
    # b holds theta + code at the end; remove the code to compare the weights
    err = np.abs((b.theta - b.pert) - a.theta).max()
    moved = np.abs(a.theta - build_chip(digits_cfg())[0].theta).max()
    assert err < 0.02 * moved, (err, moved)


def test_write_based_perturbation_leaves_a_trace_on_real_devices(tmp_path):
    """With eta = 0 the signal path leaves theta bit-identical (case M3), while writing and
    removing the code on a noisy device does not: the residue is the physics it models."""
    noisy = dict(dw_min=0.001, w_max=1.0, w_min=-1.0, dw_min_std=0.3)
    out = {}
    for by_write in (False, True):
        prof = write_profile(tmp_path, f"n{by_write}", perturbation_by_write=by_write, **noisy)
        chip, _, _ = build_chip(digits_cfg(**{"chip.device": prof, "mgd.eta": 0.0,
                                              "mgd.tau_theta": 1}))
        theta0 = chip.theta.copy()
        chip.advance(2000)
        w = chip.theta - (chip.pert if by_write else 0.0)
        out[by_write] = np.abs(w - theta0).max()
    assert out[False] == 0.0 and out[True] > 1e-3


def test_a_drift_epoch_makes_the_baseline_stale(tmp_path):
    """Drift moves θ: C₀ must be remeasured, or C − C₀ carries the drift into G (field case
    auditor: C̃ = −0.22 against a 1e-11 signal with τx = 1000)."""
    prof = write_profile(tmp_path, "drifty", dw_min=0.001, w_max=1.0, w_min=-1.0,
                         drift="power", drift_nu=0.05)
    cfg = digits_cfg(**{"chip.device": prof, "mgd.eta": 0.0, "mgd.amplitude": 1e-9,
                        "mgd.tau_x": 1000, "network.sizes": [64, 16, 10]})
    chip, _, _ = build_chip(cfg)
    chip.advance(10)
    before = chip.theta.copy()
    chip.drift_to(1e4)
    assert not np.array_equal(chip.theta, before)  # drift was felt
    chip.advance(1)
    assert abs(chip.cost_line["ctilde"]) < 1e-6
