"""Converters in bits ([chip] dac_bits/adc_bits), range calibration recorded in config.toml,
and the start-up warning when a perturbation's cost change is below one ADC step."""

import tomllib
import warnings

import numpy as np
import pytest

from hwsim.config import RunConfig, load_config
from hwsim.exceptions import ConfigError
from hwsim.experiment import resume_experiment, run_experiment
from hwsim.learn.converters import CALIBRATION_MARGIN, adc_warnings, calibrate_config
from hwsim.learn.trainer import build_chip
from hwsim.tasks import load_task

BASE = {"task.name": "parity", "task.bits": 4, "network.sizes": [4, 6, 1],
        "sim.steps": 400, "sim.eval_every": 200}


def _cfg(**over):
    return RunConfig().with_overrides({**BASE, **over})


def test_bits_are_the_same_converter_as_the_resolution():
    """adc_bits = 8 is out_res = 1/255 and dac_bits = 6 is inp_res = 1/63, bit for bit."""
    a = _cfg(**{"chip.adc_bits": 8, "chip.out_bound": 4.0, "chip.dac_bits": 6,
                "chip.inp_bound": 1.0})
    b = _cfg(**{"chip.out_res": 1 / 255, "chip.out_bound": 4.0, "chip.inp_res": 1 / 63,
                "chip.inp_bound": 1.0})
    assert a.chip.converters().out_res == 1 / 255 and a.chip.converters().inp_res == 1 / 63
    ca, cb = build_chip(a)[0], build_chip(b)[0]
    ca.advance(300)
    cb.advance(300)
    assert np.array_equal(ca.theta, cb.theta) and ca.counters() == cb.counters()
    assert ca.counters()["adc_conversions"] > 0


@pytest.mark.parametrize("over,match", [
    ({"chip.adc_bits": 8, "chip.out_res": 0.01, "chip.out_bound": 1.0},
     "chip.adc_bits = 8: must be 0 when chip.out_res > 0"),
    ({"chip.dac_bits": 4}, "chip.dac_bits = 4: needs chip.inp_bound > 0 or chip.converter_range"),
    ({"chip.adc_bits": 1, "chip.out_bound": 1.0}, "chip.adc_bits = 1: must be 0 .off. or at"),
    ({"chip.converter_range": "guess"}, "must be one of"),
])
def test_bad_converter_settings_name_the_keys(over, match):
    with pytest.raises(ConfigError, match=match):
        _cfg(**over)


def _preactivation_max(cfg, ds):
    """Largest abs pre-activation at θ0 over the calibration samples, by explicit loops."""
    chip, net, _ = build_chip(cfg.with_overrides({"chip.converter_range": "given",
                                                  "chip.adc_bits": 0}), ds)
    theta = chip.theta
    best = 0.0
    for x in ds.X_train[: cfg.chip.calibration_samples]:
        a = list(x)
        for l in range(len(net.sizes) - 1):
            w, b = net.layer_slices(l)
            nin, nout = int(net.sizes[l]), int(net.sizes[l + 1])
            z = [theta[b][o] + sum(theta[w][o * nin + i] * a[i] for i in range(nin))
                 for o in range(nout)]
            best = max(best, max(abs(v) for v in z))
            a = [1 / (1 + np.exp(-v)) for v in z]
    return best


def test_calibrated_range_is_measured_and_recorded_in_config_toml(tmp_path):
    cfg = _cfg(**{"chip.adc_bits": 6, "chip.converter_range": "calibrate",
                  "chip.calibration_samples": 10})
    ds = load_task("parity", bits=4, seed=cfg.seed)
    want = CALIBRATION_MARGIN * _preactivation_max(cfg, ds)
    got = calibrate_config(cfg, ds).chip.out_bound
    assert abs(got - want) < 1e-12 * want
    assert calibrate_config(cfg, ds).chip.inp_bound == 0.0  # no DAC asked for
    out = tmp_path / "run"
    tr = run_experiment(cfg, out)
    saved = tomllib.loads((out / "config.toml").read_text())
    assert saved["chip"]["out_bound"] == got == tr.config.chip.out_bound
    assert tr.chip_.counters()["adc_conversions"] > 0
    # the recorded range is used as given on resume (no second calibration)
    again = resume_experiment(out, ["sim.steps=600"])
    assert again.config.chip.out_bound == got and again.chip_.step == 600


def test_warning_when_the_perturbation_is_below_one_adc_step():
    small = load_config("examples/digits.toml").with_overrides({
        "chip.adc_bits": 8, "chip.converter_range": "calibrate", "mgd.amplitude": 0.05})
    ds = load_task("digits", seed=small.seed)
    small = calibrate_config(small, ds)
    chip = build_chip(small, ds)[0]
    msgs = adc_warnings(small, chip, ds)
    assert len(msgs) == 1 and "below one ADC step" in msgs[0] and "chip.adc_bits = 8" in msgs[0]
    # the RMS pre-activation change, by hand: A·‖(x, 1)‖ of the inputs (largest layer here)
    A = 0.05 / np.sqrt(chip.P)
    x = ds.X_train[:256]
    dz = A * np.sqrt(np.mean((x * x).sum(1) + 1))
    assert f"{dz:.3g}" in msgs[0]
    big = small.with_overrides({"mgd.amplitude": 2.0})
    assert adc_warnings(big, build_chip(big, ds)[0], ds) == []


def test_trainer_reports_the_adc_warning_at_start():
    cfg = _cfg(**{"chip.adc_bits": 3, "chip.converter_range": "calibrate",
                  "mgd.amplitude": 1e-3, "sim.steps": 10, "sim.eval_every": 10})
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        tr = run_experiment(cfg)
    assert any("below one ADC step" in str(m.message) for m in w)
    assert tr.summary_["startup_warnings"] and "chip.adc_bits = 3" in tr.summary_[
        "startup_warnings"][0]
