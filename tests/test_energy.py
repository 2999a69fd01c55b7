"""The [hardware] energy and time model: hand-computed totals for a tiny run, the write-stall
formulas, summary.json keys and `hwsim energy`."""

import json

import pytest

from hwsim.analysis.energy_report import run_energy
from hwsim.cli import main
from hwsim.config import RunConfig, load_config
from hwsim.energy import crossbar_rows, energy_breakdown, energy_summary, time_breakdown
from hwsim.exceptions import ConfigError
from hwsim.experiment import run_experiment
from hwsim.hwconfig import HardwareConfig
from hwsim.learn.trainer import defining_hash
from hwsim.runs import read_metrics

ONE_SIDED = """name = "onesided"
source = "test fixture"
[device]
model = "ConstantStep"
one_sided = true
refresh_every = 200
dw_min = 0.002
w_min = 0.0
w_max = 1.0
"""

# A distinct energy per key (distinct primes, fJ), so a counter priced with the wrong key fails.
ENERGIES = {"step_j": 2e-15, "inference_j": 3e-15, "mac_j": 5e-15, "read_j": 7e-15,
            "dac_j": 11e-15, "adc_j": 13e-15, "broadcast_j": 17e-15, "code_j": 19e-15,
            "integrator_j": 23e-15, "synapse_multiply_j": 29e-15, "update_request_j": 31e-15,
            "update_sent_j": 37e-15, "write_pulse_up_j": 41e-15, "write_pulse_down_j": 43e-15,
            "verify_pulse_j": 47e-15, "refresh_j": 53e-15}


def close(x, rel=1e-12):
    """Relative tolerance only: pytest.approx's default absolute 1e-12 would pass any pJ."""
    return pytest.approx(x, rel=rel, abs=0)


def hand_energy(c, e):
    """Σ count × energy per event, written out counter by counter."""
    return (c["steps"] * e["step_j"]
            + c["perturbed_inferences"] * e["inference_j"]
            + c["baseline_inferences"] * e["inference_j"]
            + c["macs"] * e["mac_j"]
            + c["device_reads"] * e["read_j"]
            + c["dac_conversions"] * e["dac_j"]
            + c["adc_conversions"] * e["adc_j"]
            + c["cost_broadcasts"] * e["broadcast_j"]
            + c["code_generations"] * e["code_j"]
            + c["integrator_ops"] * e["integrator_j"]
            + c["synapse_multiplies"] * e["synapse_multiply_j"]
            + c["update_requests"] * e["update_request_j"]
            + c["updates_sent"] * e["update_sent_j"]
            + c["write_pulses_up"] * e["write_pulse_up_j"]
            + c["write_pulses_down"] * e["write_pulse_down_j"]
            + c["write_verify_pulses"] * e["verify_pulse_j"]
            + c["refreshes"] * e["refresh_j"])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """xor 2-2-1 on a one-sided pair with refresh, a DAC and an ADC: 3,000 steps."""
    tmp = tmp_path_factory.mktemp("energy")
    prof = tmp / "onesided.toml"
    prof.write_text(ONE_SIDED, encoding="utf-8")
    over = {"chip.device": str(prof), "chip.weight_scale": 5.0, "chip.inp_bound": 4.0,
            "chip.out_bound": 16.0, "sim.steps": 3000, "sim.eval_every": 500,
            "sim.target_accuracy": 0.75, **{f"hardware.{k}": v for k, v in ENERGIES.items()}}
    cfg = load_config("examples/xor.toml").with_overrides(over)
    run_experiment(cfg, tmp / "run")
    return tmp / "run", cfg


def test_energy_adds_up_to_the_hand_computed_total(tiny_run):
    out, cfg = tiny_run
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    c = s["counters"]
    # the counts themselves, by hand: 2-2-1 has P = 9 weights, 2 cells each (one-sided
    # pairs), 2·2 + 2·1 = 6 MACs, 2 + 2 DAC inputs, 2 + 1 ADC outputs per inference;
    # tau_x = 1 remeasures C0 every step
    n = 3000
    assert c["steps"] == c["perturbed_inferences"] == c["baseline_inferences"] == n
    assert c["device_reads"] == 2 * n * 18 and c["macs"] == 2 * n * 6
    assert c["dac_conversions"] == 2 * n * 4 and c["adc_conversions"] == 2 * n * 3
    assert c["write_pulses_up"] > 0 and c["write_verify_pulses"] > 0 and c["refreshes"] > 0
    assert s["energy_j"] == close(hand_energy(c, ENERGIES))
    assert sum(s["energy_breakdown_j"].values()) == close(s["energy_j"])
    assert s["energy_breakdown_j"]["write_pulses_down"] == c["write_pulses_down"] * 43e-15
    # to the target: the counters of the first metrics row at the target accuracy
    rows = read_metrics(out / "metrics.csv")
    hit = next(r for r in rows if r["test_accuracy"] >= 0.75)
    assert 0 < hit["step"] < n and s["steps_to_target"] == hit["step"]
    assert s["energy_to_target_j"] == close(hand_energy(hit, ENERGIES))
    assert 0 < s["energy_to_target_j"] < s["energy_j"]


def test_hardware_time_with_and_without_stalling_writes(tiny_run):
    out, cfg = tiny_run
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    hit = next(r for r in read_metrics(out / "metrics.csv") if r["test_accuracy"] >= 0.75)
    dt, tp, tv = 1e-6, 50e-9, 10e-9  # sim.dt, write_pulse_s, verify_read_s defaults
    rows, devices = 3 + 3, 18  # (2 inputs + bias) + (2 hidden + bias); 9 weights x 2 cells
    pulses = hit["write_pulses_up"] + hit["write_pulses_down"]
    base = hit["steps"] * dt + hit["write_verify_pulses"] * (tp + tv)
    row_parallel = tp * max(hit["updates_sent"] * rows, pulses * rows / devices)
    assert s["hardware_time_to_target_s"] == close(base + row_parallel)
    hw = cfg.hardware
    for over, expected in (
            ({"write_stalls": False}, base),
            ({"write_mode": "serial"}, base + tp * pulses),
            ({"extra_inference_s": 1e-6, "broadcast_latency_s": 2e-7},
             base + row_parallel + hit["baseline_inferences"] * 1e-6
             + hit["cost_broadcasts"] * 2e-7)):
        hw2 = HardwareConfig(**{**hw.__dict__, **over})
        t = time_breakdown(hit, hw2, dt, cfg.network.sizes)
        assert sum(t.values()) == close(expected), over
    assert s["hardware_time_to_target_s"] > s["time_to_target_s"] == hit["step"] * dt


def test_row_parallel_write_time_by_hand():
    hw = HardwareConfig(write_pulse_s=1.0)
    sizes = (4, 3, 2)  # rows (4 + 1) + (3 + 1) = 9; cells (5·3 + 4·2) = 23 per inference
    assert crossbar_rows(sizes) == 9
    c = {"perturbed_inferences": 2, "baseline_inferences": 0, "device_reads": 46,
         "updates_sent": 10, "write_pulses_up": 40, "write_pulses_down": 6}
    # one slot per row per update: 10 · 9 = 90 > 46 pulses / (23 cells / 9 rows) = 18
    assert time_breakdown(c, hw, 0.0, sizes)["write_pulses"] == 90
    c["write_pulses_up"] = 500  # now 506 · 9 / 23 = 198 slots
    assert time_breakdown(c, hw, 0.0, sizes)["write_pulses"] == close(506 * 9 / 23)
    serial = HardwareConfig(write_pulse_s=1.0, write_mode="serial")
    assert time_breakdown(c, serial, 0.0, sizes)["write_pulses"] == 506
    c["write_pulses_up"] = c["write_pulses_down"] = 0  # ideal synapses: no write time
    assert time_breakdown(c, hw, 0.0, sizes)["write_pulses"] == 0


def test_extra_inferences_of_the_two_sided_estimate_take_time():
    # two-sided: 2 perturbed inferences per step, no baseline; one-sided with a stale C0
    # on every 4th step: 1 perturbed + 1/4 baseline per step
    hw = HardwareConfig(extra_inference_s=3.0)
    two = {"steps": 8, "perturbed_inferences": 16, "baseline_inferences": 0}
    one = {"steps": 8, "perturbed_inferences": 8, "baseline_inferences": 2}
    assert time_breakdown(two, hw, 0.5, (2, 1))["extra_inferences"] == 8 * 3.0
    assert time_breakdown(one, hw, 0.5, (2, 1))["extra_inferences"] == 2 * 3.0
    assert sum(time_breakdown(one, hw, 0.5, (2, 1)).values()) == 8 * 0.5 + 2 * 3.0


def test_defaults_follow_neurosim_arithmetic():
    hw = HardwareConfig()
    assert hw.write_pulse_up_j == close(4.0**2 / 240e3 * 50e-9, 0.01)
    assert hw.read_j == close(0.5**2 / 240e3 * 10e-9, 0.05)
    assert hw.verify_pulse_j == close(hw.write_pulse_up_j + hw.read_j, 0.01)
    assert energy_breakdown({}, hw) == {k: 0 for k in energy_breakdown({}, hw)}


def test_hardware_keys_validate_and_do_not_define_the_run():
    with pytest.raises(ConfigError, match=r"hardware\.write_mode.*row_parallel"):
        RunConfig().with_overrides({"hardware.write_mode": "diagonal"})
    with pytest.raises(ConfigError, match=r"hardware\.read_j = -1"):
        RunConfig().with_overrides({"hardware.read_j": -1})
    from hwsim.chip.profiles import load_profile
    cfg = RunConfig()
    prof = load_profile("ideal")
    assert defining_hash(cfg, prof) == defining_hash(
        cfg.with_overrides({"hardware.read_j": 1.0, "hardware.write_stalls": False}), prof)
    assert defining_hash(cfg, prof) != defining_hash(cfg.with_overrides({"mgd.eta": 0.5}), prof)


def test_energy_summary_without_target():
    cfg = RunConfig().with_overrides({"sim.target_accuracy": 1.0})
    s = energy_summary(cfg, {"steps": 10, "device_reads": 4}, [{"test_accuracy": 0.5}])
    assert s["energy_to_target_j"] is None and s["hardware_time_to_target_s"] is None
    assert s["energy_j"] == close(4 * 10.4e-15) and s["hardware_time_total_s"] == close(10e-6)


def test_hwsim_energy_prints_the_table_and_recomputes_with_set(tiny_run, capsys):
    out, cfg = tiny_run
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert main(["energy", str(out)]) == 0
    text = capsys.readouterr().out
    c = s["counters"]
    line = next(ln for ln in text.splitlines() if ln.startswith("device_reads"))
    assert line.split() == ["device_reads", str(c["device_reads"]), "7e-15",
                            f"{c['device_reads'] * 7e-15:.4g}",
                            f"{c['device_reads'] * 7e-15 / s['energy_j']:.1%}"]
    assert f"{s['energy_j']:.4g}" in next(ln for ln in text.splitlines()
                                          if ln.startswith("total"))
    assert f"to target accuracy 0.75 (step {s['steps_to_target']})" in text
    # --set: a new price of the up pulses, nothing rerun
    assert main(["energy", str(out), "--json", "--set", "hardware.write_pulse_up_j=1e-12"]) == 0
    r = json.loads(capsys.readouterr().out)
    e2 = {**ENERGIES, "write_pulse_up_j": 1e-12}
    assert r["energy_j"] == close(hand_energy(c, e2))
    assert r["hardware_time_to_target_s"] == close(s["hardware_time_to_target_s"])
    assert json.loads((out / "summary.json").read_text(encoding="utf-8")) == s  # unchanged


def test_recomputation_equals_the_summary(tiny_run):
    out, _ = tiny_run
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    r = run_energy(out)
    for key in ("energy_j", "energy_breakdown_j", "energy_to_target_j", "hardware_time_total_s",
                "hardware_time_breakdown_s", "hardware_time_to_target_s", "write_busy_s"):
        assert r[key] == s[key], key
    assert r["target_step"] == s["steps_to_target"] and r["step"] == s["steps"]


def test_hwsim_energy_errors(tiny_run, tmp_path, capsys):
    out, _ = tiny_run
    assert main(["energy", str(out), "--set", "mgd.eta=2"]) == 2
    assert "only recomputes [hardware] keys" in capsys.readouterr().err
    assert main(["energy", str(out), "--set", "hardware.raed_j=2"]) == 2
    assert "did you mean 'read_j'" in capsys.readouterr().err
    assert main(["energy", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_resume_may_reprice_and_backprop_runs_are_not_priced(tmp_path, capsys):
    """[hardware] is accounting only: a resume may change it (the new prices land in the
    summary); a backprop run has no chip events, and hwsim energy says so."""
    from pathlib import Path

    from hwsim.exceptions import HwsimError
    from hwsim.experiment import resume_experiment

    EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

    cfg = load_config(EXAMPLES / "xor.toml", ["sim.steps=1000", "sim.eval_every=500"])
    first = run_experiment(cfg, tmp_path / "r")
    tr = resume_experiment(tmp_path / "r", ["sim.steps=2000", "hardware.read_j=2e-13"])
    assert tr.summary_["steps"] == 2000
    reads = tr.summary_["counters"]["device_reads"]
    assert tr.summary_["energy_breakdown_j"]["device_reads"] == pytest.approx(reads * 2e-13,
                                                                             rel=1e-12, abs=0)
    assert first.summary_["energy_breakdown_j"]["device_reads"] != pytest.approx(
        first.summary_["counters"]["device_reads"] * 2e-13, rel=1e-12, abs=0)
    bp = run_experiment(load_config(EXAMPLES / "digits_backprop.toml", ["learn.epochs=1"]),
                        tmp_path / "bp")
    assert bp.summary_["hardware_time_s"] is None
    with pytest.raises(HwsimError, match="backprop run .*no hardware energy"):
        run_energy(tmp_path / "bp")
