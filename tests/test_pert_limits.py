"""Perturbation at device limits (issue 13): a write-based perturbation (the code written
into the devices as pulses) that clips at a device bound or rounds to zero pulses is counted
(``pert_writes``, ``pert_clipped``, ``pert_zero_pulses``) and its fractions reported."""

import json

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.devices import DeviceArray
from hwsim.chip.network import MLP
from hwsim.chip.profiles import load_profile, profile_from_dict
from hwsim.config import RunConfig
from hwsim.experiment import run_experiment
from hwsim.learn.trainer import build_chip, startup_warnings
from hwsim.tasks import load_task

DW = 0.01  # dw_min of the fixture device
EXACT = dict(model="ConstantStep", dw_min=DW, w_max=1.0, w_min=-1.0, dw_min_dtod=0.0,
             dw_min_std=0.0, up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0,
             pulse_rounding="nearest")


def _profile(**over):
    dev = {**EXACT, "perturbation_by_write": True, **over}
    return profile_from_dict({"name": "limits", "source": "test fixture", "device": dev})


def _chip(theta0, A_rel, *, tau_x=10**9, tau_p=1, profile=None, seed=3):
    """xor on a 2-3-1 MLP (P = 13), eta = 0, a CDMA code of per-weight amplitude
    A_rel·dw_min, ``theta0`` written into the exact ConstantStep devices."""
    ds = load_task("xor")
    net = MLP([2, 3, 1])
    P = net.n_params
    prof = profile or _profile()
    dev = DeviceArray(prof.params, P, seed)
    return Chip(net, ds.X_train, ds.Y_train, np.asarray(theta0, float), seed=seed,
                amplitude=A_rel * DW * np.sqrt(P), eta=0.0, tau_theta=10**9, tau_x=tau_x,
                tau_p=tau_p, device=dev)


def _reference(theta0, codes, stale_every):
    """Independent model of the pulse writes: nearest rounding, exact ±DW pulses, each
    clipped at ±1; the code removed before every stale baseline (every ``stale_every``
    steps) and the change to the next code written. Returns (writes, clipped, zero, w)."""
    w = np.array(theta0, float)
    held = np.zeros_like(w)
    writes = clipped = zero = 0

    def write(req):
        nonlocal writes, clipped, zero
        for i, r in enumerate(req):
            if r == 0.0:
                continue
            writes += 1
            n = int(np.floor(abs(r) / DW + 0.5))
            if n == 0:
                zero += 1
                continue
            hit = False
            for _ in range(n):
                w[i] += np.sign(r) * DW
                if w[i] > 1.0 or w[i] < -1.0:
                    w[i] = np.clip(w[i], -1.0, 1.0)
                    hit = True
            clipped += hit

    written = False
    for n, code in enumerate(codes):
        if n % stale_every == 0 and written:
            write(-held)
            written = False
        write(code - (held if written else 0.0))
        held, written = code.copy(), True
    return writes, clipped, zero, w


def _theta0(P):
    t = np.zeros(P)
    t[:4] = 1.0    # at the upper bound: a positive code clips
    t[4:7] = -1.0  # at the lower bound: a negative code clips
    t[7:] = 0.3
    return t


def test_a_code_written_at_a_bound_clips_a_known_set():
    """One step: every weight receives its code ±A (A = 1.2 dw_min, one pulse); exactly
    the weights at +1 with a positive code and at −1 with a negative code clip."""
    t0 = _theta0(13)
    chip = _chip(t0, 1.2)
    chip.advance(1)
    code = chip.pert.copy()
    expect = int(np.sum(code[:4] > 0) + np.sum(code[4:7] < 0))
    assert 0 < expect < 7  # the fixture seed gives both signs at the bounds
    c = chip.counters()
    assert (c["pert_writes"], c["pert_clipped"], c["pert_zero_pulses"]) == (13, expect, 0)
    assert chip.perturbation_clipped_fraction() == expect / 13
    assert chip.perturbation_zero_fraction() == 0.0


@pytest.mark.parametrize("stale_every", [1, 4, 10**9])
def test_clipped_and_zero_counts_match_an_independent_pulse_model(stale_every):
    """40 steps, a new code each step, baselines every ``stale_every`` steps: the counters
    and the weights equal a plain-Python pulse model (code changes of 0 or ±2A between
    baselines, removals and rewrites of ±A; A = 0.4 dw_min, so ±A rounds to zero pulses and
    ±2A to one)."""
    t0 = _theta0(13)
    chip = _chip(t0, 0.4, tau_x=stale_every)
    codes = []
    for _ in range(40):
        chip.advance(1)
        codes.append(chip.pert.copy())
    writes, clipped, zero, w = _reference(t0, codes, stale_every)
    c = chip.counters()
    assert (c["pert_writes"], c["pert_clipped"], c["pert_zero_pulses"]) == (writes, clipped, zero)
    assert np.allclose(chip.theta, w, atol=1e-12)
    if stale_every == 1:
        assert zero == writes and chip.perturbation_zero_fraction() == 1.0
    else:
        assert 0 < zero < writes and clipped > 0


def test_codes_below_half_a_pulse_round_to_zero_with_nearest_rounding():
    """A = 0.45 dw_min, a baseline every step: every perturbation write (code in, code out)
    rounds to zero pulses, fraction exactly 1.0; the devices are never moved."""
    t0 = _theta0(13)
    chip = _chip(t0, 0.45, tau_x=1)
    chip.advance(50)
    c = chip.counters()
    assert c["pert_writes"] == 13 + 49 * 2 * 13  # first write, then out + in each step
    assert c["pert_zero_pulses"] == c["pert_writes"] and c["pert_clipped"] == 0
    assert chip.perturbation_zero_fraction() == 1.0
    assert np.array_equal(chip.theta, t0)
    assert chip.device_stats()["pulses"] == 0


def test_the_counters_stay_zero_without_a_write_based_perturbation():
    t0 = _theta0(13)
    chip = _chip(t0, 1.2, profile=_profile(perturbation_by_write=False))
    chip.advance(30)
    c = chip.counters()
    assert c["pert_writes"] == c["pert_clipped"] == c["pert_zero_pulses"] == 0
    assert chip.perturbation_clipped_fraction() == chip.perturbation_zero_fraction() == 0.0
    assert chip.state.written.size == 0  # no scratch buffer when off


def _cfg(tmp_path, amplitude, rounding="nearest", by_write=True, steps=200):
    prof = tmp_path / f"p{amplitude}{rounding}{by_write}.toml"
    dev = {**EXACT, "pulse_rounding": rounding, "perturbation_by_write": by_write}
    prof.write_text('name = "limits"\nsource = "test fixture"\n[device]\n'
                    + "".join(f"{k} = {json.dumps(v)}\n" for k, v in dev.items()),
                    encoding="utf-8")
    return RunConfig.from_dict({
        "seed": 1, "task": {"name": "xor"}, "network": {"sizes": [2, 3, 1]},
        "mgd": {"amplitude": amplitude, "eta": 0.5, "tau_theta": 10},
        "chip": {"device": str(prof)}, "sim": {"steps": steps, "eval_every": 100}})


@pytest.mark.parametrize("rel,rounding,expect", [
    (0.4, "nearest", "expected perturbation_zero_fraction 1 for code writes of size A"),
    (0.8, "nearest", "expected perturbation_zero_fraction 0 for code writes of size A"),
    (0.25, "stochastic", "1 − A/dw_min = 0.75"),
])
def test_startup_warning_names_the_expected_zero_fraction(tmp_path, rel, rounding, expect):
    cfg = _cfg(tmp_path, rel * DW * np.sqrt(13), rounding)
    chip, _, _ = build_chip(cfg)
    msgs = startup_warnings(chip, cfg, load_profile(cfg.chip.device))
    assert len(msgs) == 1 and "device.dw_min = 0.01" in msgs[0] and expect in msgs[0], msgs


def test_summary_reports_the_fractions(tmp_path):
    """All writes of ±A = 0.4 dw_min after a baseline round to zero; the run's summary
    carries the counted fractions, equal to the counters' ratios."""
    tr = run_experiment(_cfg(tmp_path, 0.4 * DW * np.sqrt(13)), tmp_path / "run")
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    c = s["counters"]
    assert c["pert_writes"] > 0 and c["pert_zero_pulses"] > 0
    assert s["perturbation_zero_fraction"] == c["pert_zero_pulses"] / c["pert_writes"]
    assert s["perturbation_clipped_fraction"] == c["pert_clipped"] / c["pert_writes"]
    assert s["startup_warnings"] and tr.summary_["perturbation_zero_fraction"] > 0.5
    off = run_experiment(_cfg(tmp_path, 0.4 * DW * np.sqrt(13), by_write=False),
                         tmp_path / "off")
    assert off.summary_["perturbation_zero_fraction"] == 0.0
    assert off.summary_["counters"]["pert_writes"] == 0
