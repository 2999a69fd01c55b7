"""Faults the reviews of the merged product found (newcomer and case audit, 2026-12-02)."""

import numpy as np
import pytest

from hwsim.config import RunConfig
from hwsim.exceptions import ConfigError
from hwsim.learn.setup import build_chip

BASE = {"seed": 3, "task": {"name": "digits", "n_train": 200, "n_test": 60},
        "network": {"sizes": [64, 8, 10], "init": "uniform", "init_low": -1.0,
                    "init_high": 1.0},
        "chip": {"device": "rpu_spec", "device_set": ["w_max = 0.1", "w_min = -0.1"]}}


def test_D1_transfer_counts_the_clips_of_the_weights_the_run_starts_with():
    """case D1 with Tiki-Taka: C holds θ0 (clipped into C's own bounds); A starts at 0, so
    A's clips of θ0 before its reset are not the run's."""
    cfg = RunConfig.from_dict({**BASE, "chip": {**BASE["chip"], "transfer": {"enabled": True}}})
    chip, net, _ = build_chip(cfg)
    n = cfg.network
    requested = net.init_params(cfg.seed, n.init, n.init_low, n.init_high)
    lo, hi = chip.device_c.bounds()
    by_hand = int(np.sum((requested < lo) | (requested > hi)))
    assert by_hand > 0 and np.all(chip.device.theta == 0)
    assert chip.device_stats()["init_clipped"] == by_hand


def test_a_layer_list_in_an_error_reads_as_toml_not_as_python():
    with pytest.raises(ConfigError) as e:
        RunConfig.from_dict({"network": {"cost": "cross_entropy", "layers": [
            {"type": "conv2d", "channels": 4, "kernel": 3}, {"type": "flatten"}]}})
    msg = str(e.value)
    assert "LayerConfig(" not in msg and '{type = "conv2d", channels = 4, kernel = 3}' in msg, msg


def _digits_npz(tmp_path):
    from sklearn.datasets import load_digits

    d = load_digits()
    path = tmp_path / "d.npz"
    np.savez(path, X=d.images.astype(np.float64), y=d.target)
    return path


CONV = [{"type": "conv2d", "channels": 2, "kernel": 3}, {"type": "flatten"},
        {"type": "dense", "units": 10}]


@pytest.mark.parametrize("network,match", [
    ({"layers": CONV, "input_shape": [1, 28, 28]},
     r"samples have 64 inputs \(8×8, flattened\), but network.input_shape = \[1, 28, 28\] "
     r"gives 784: set network.input_shape to the samples' shape \[8, 8\]"),
    ({"layers": CONV[:2] + [{"type": "dense", "units": 5}], "input_shape": [8, 8]},
     r"labels go up to 9 \(10 classes\), but network.layers\[2\].units = 5, .*: set it to 10"),
])
def test_data_errors_of_a_layer_network_name_its_keys(tmp_path, network, match):
    """Newcomer: these named network.sizes, which a layer network does not use."""
    cfg = RunConfig.from_dict({"task": {"name": "files", "train": [str(_digits_npz(tmp_path))]},
                               "network": {"activation": "relu", **network}})
    with pytest.raises(ConfigError, match=match):
        build_chip(cfg)


def test_pareto_on_log_axes_refuses_points_it_cannot_draw(tmp_path):
    """Newcomer: a target reached at step 0 (time and energy 0) gave matplotlib warnings and
    an empty log-log plot."""
    from hwsim.analysis.sweep_plots import plot_pareto
    from hwsim.exceptions import HwsimError

    csv = tmp_path / "results.csv"
    csv.write_text("run_id,status,hardware_time_to_target_s,energy_to_target_j\n"
                   "r0,completed,0.0,0.0\nr1,completed,,\n", encoding="utf-8")
    with pytest.raises(HwsimError, match="no run has a positive hardware_time_to_target_s"):
        plot_pareto(csv, tmp_path / "p.png", logx=True, logy=True)
    csv.write_text("run_id,status,hardware_time_to_target_s,energy_to_target_j\n"
                   "r0,completed,0.0,0.0\nr1,completed,0.5,2e-6\n", encoding="utf-8")
    res = plot_pareto(csv, tmp_path / "p.png", logx=True, logy=True)
    assert res["points"] == [(0.5, 2e-6)] and res["skipped"] == 1


def test_D10_transfer_state_is_float32():
    """case D10 with Tiki-Taka: the TTv2 buffer H and the chopper signs follow sim.dtype."""
    cfg = RunConfig.from_dict({**BASE, "sim": {"dtype": "float32"}, "chip": {
        "device": "rpu_spec", "transfer": {"enabled": True, "buffer": True, "chopper_p": 0.1}}})
    chip, _, _ = build_chip(cfg)
    chip.advance(300)
    floats = {k: v.dtype for k, v in chip.get_state().items()
              if v.dtype.kind == "f" and k != "line_mem"}  # line_mem: float64 costs
    assert {"tt_a", "tt_c", "tt_h", "tt_chop", "theta", "G"} <= set(floats)
    assert all(d == np.float32 for d in floats.values()), floats
