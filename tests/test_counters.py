"""Event counters against hand counts (issue "Engine in stages", scope 4)."""

import numpy as np

from hwsim.chip.chip import COUNTER_COLUMNS
from hwsim.config import RunConfig
from hwsim.kernels.counters import COUNTER_DOCS
from hwsim.learn.trainer import MGDTrainer, build_chip


def _tiny(tmp_path, eta=0.5):
    prof = tmp_path / "q16.toml"
    prof.write_text('name = "q16"\nsource = "test"\n[device]\nmodel = "ConstantStep"\n'
                    "dw_min = 0.01\nw_max = 1.0\nw_min = -1.0\nn_states = 16\n"
                    "dw_min_dtod = 0.0\nup_down_dtod = 0.0\nw_max_dtod = 0.0\nw_min_dtod = 0.0\n"
                    'pulse_rounding = "nearest"\n', encoding="utf-8")
    return RunConfig.from_dict({
        "seed": 1, "task": {"name": "xor"}, "network": {"sizes": [2, 2, 1]},
        "mgd": {"amplitude": 0.3, "eta": eta, "tau_theta": 3, "tau_x": 5},
        "chip": {"device": str(prof), "out_bound": 4.0, "out_res": 1 / 255},
        "sim": {"steps": 10, "eval_every": 10}})


def test_counters_match_hand_counts(tmp_path):
    """2-2-1 (P = 9), 10 steps, τx = 5, τθ = 3, a 16-state device, an 8-bit ADC, no DAC."""
    chip, _, _ = build_chip(_tiny(tmp_path))
    chip.advance(10)
    c = chip.counters()
    # new inputs at steps 0 and 5; updates at steps 3, 6, 9: the baseline is remeasured at
    # 0, 3, 5, 6, 9
    inferences = 10 + 5
    assert c["steps"] == 10 and c["perturbed_inferences"] == 10
    assert c["baseline_inferences"] == 5
    assert c["macs"] == inferences * (2 * 2 + 2 * 1)
    assert c["device_reads"] == inferences * 9
    assert c["adc_conversions"] == inferences * (2 + 1) and c["dac_conversions"] == 0
    assert c["cost_broadcasts"] == 10
    assert c["code_generations"] == 10 * 9 and c["integrator_ops"] == 10 * 9
    assert c["updates_sent"] == 3 and c["update_requests"] == 3 * 9
    st = chip.device_stats()
    assert c["write_pulses_up"] + c["write_pulses_down"] == st["pulses"] > 0
    assert c["write_verify_pulses"] == 0 and c["refreshes"] == 0


def test_pulses_are_counted_by_direction(tmp_path):
    """Up and down pulses: hand count of one write of known requests."""
    chip, _, _ = build_chip(_tiny(tmp_path))
    req = np.array([0.05, -0.02, 0.0, 0.013, -0.1, 0.0, 0.0, 0.0, 0.0])
    chip.device.write(req, 0)
    c = chip.counters()
    # dw_min = 0.01, nearest rounding: 5 + 1 up (0.013 -> 1), 2 + 10 down
    assert c["write_pulses_up"] == 6 and c["write_pulses_down"] == 12


def test_no_update_is_counted_with_eta_zero(tmp_path):
    chip, _, _ = build_chip(_tiny(tmp_path, eta=0.0))
    chip.advance(10)
    c = chip.counters()
    assert c["updates_sent"] == 0 and c["write_pulses_up"] == c["write_pulses_down"] == 0
    assert c["baseline_inferences"] == 2  # only the two new inputs make C0 stale


def test_counters_are_streamed_to_metrics_and_summary(tmp_path):
    tr = MGDTrainer(_tiny(tmp_path), out_dir=tmp_path / "run").run()
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[-len(COUNTER_COLUMNS):] == list(COUNTER_COLUMNS)
    assert tr.metrics_[-1]["perturbed_inferences"] == 10
    assert tr.summary_["counters"]["macs"] == 15 * 6
    assert [n for n, _ in COUNTER_DOCS] == list(COUNTER_COLUMNS[:len(COUNTER_DOCS)])


def test_metrics_columns_are_unique():
    from hwsim.runs import METRICS_COLUMNS

    assert len(set(METRICS_COLUMNS)) == len(METRICS_COLUMNS)

