"""The backprop baseline (learn.algorithm = "backprop"): updates against NumPy computations
with finite-difference gradients of the chip's own cost, the run folder, and digits ≥ 0.95."""

import json

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.config import RunConfig, load_config
from hwsim.exceptions import ConfigError, HwsimError
from hwsim.experiment import resume_experiment, run_experiment
from hwsim.learn.backprop import BACKPROP_COLUMNS, BackpropTrainer
from hwsim.learn.trainer import build_chip
from hwsim.runs import read_metrics
from tests.test_gradient import fd_theta


def xor_cfg(**learn):
    return RunConfig.from_dict({"seed": 4, "task": {"name": "xor"},
                                "network": {"sizes": [2, 3, 1]},
                                "learn": {"algorithm": "backprop", "epochs": 1, **learn}})


def test_one_full_batch_step_is_gradient_descent_on_the_fd_gradient():
    t = BackpropTrainer(xor_cfg(batch_size=4, lr=0.7)).run()
    ds, net = t.dataset_, t.network_
    g = fd_theta(net, t.theta0_, ds.X_train, ds.Y_train, ds.labels_train, 1e-6)
    np.testing.assert_allclose(t.theta_, t.theta0_ - 0.7 * g, rtol=0, atol=1e-9)
    assert t.summary_["updates"] == 1


def test_one_adam_step_by_hand():
    """Adam's first step: m̂ = g, ŝ = g², Δθ = −η·g/(|g| + ε)."""
    t = BackpropTrainer(xor_cfg(batch_size=4, lr=0.01, optimizer="adam", eps=1e-3)).run()
    ds = t.dataset_
    g = fd_theta(t.network_, t.theta0_, ds.X_train, ds.Y_train, ds.labels_train, 1e-6)
    np.testing.assert_allclose(t.theta_, t.theta0_ - 0.01 * g / (np.abs(g) + 1e-3), atol=1e-9)


def test_minibatches_follow_mgd_data_order_from_the_same_theta0():
    cfg = xor_cfg(batch_size=1, lr=0.5, epochs=2)
    t = BackpropTrainer(cfg).run()
    chip, net, ds = build_chip(cfg)
    np.testing.assert_array_equal(t.theta0_, chip.theta)  # MGD's initial weights
    probe = Chip(net, ds.X_train, ds.Y_train, chip.theta, seed=cfg.seed, eta=0.0)
    order = []
    for _ in range(8):  # the samples an MGD chip presents in its first two epochs
        probe.advance(1)
        order.append(int(probe.state.clock[0]["sample"]))
    theta = t.theta0_.copy()
    for s in order:
        x, y, lab = ds.X_train[s:s + 1], ds.Y_train[s:s + 1], ds.labels_train[s:s + 1]
        theta -= 0.5 * fd_theta(net, theta, x, y, lab, 1e-6)
    np.testing.assert_allclose(t.theta_, theta, atol=1e-8)
    assert sorted(order[:4]) == [0, 1, 2, 3] and t.summary_["updates"] == 8


def test_run_folder(tmp_path):
    out = tmp_path / "bp"
    cfg = xor_cfg(epochs=3, batch_size=2)
    t = run_experiment(cfg, out)
    assert load_config(out / "config.toml") == cfg
    rows = read_metrics(out / "metrics.csv")
    assert (out / "metrics.csv").read_text().split("\n")[0] == ",".join(BACKPROP_COLUMNS)
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3] and [r["step"] for r in rows] == [0, 2, 4, 6]
    assert all(np.isnan(r["hardware_time_s"]) for r in rows)
    s = json.loads((out / "summary.json").read_text())
    assert s["hardware_time_s"] is None and s["time_to_target_s"] is None
    assert "not defined" in s["note"] and s["status"] == "completed"
    assert s["final_test_accuracy"] == rows[-1]["test_accuracy"] == t.summary_["final_test_accuracy"]
    assert (out / "learning_curve.png").stat().st_size > 1000
    with pytest.raises(HwsimError, match="not checkpointed"):
        resume_experiment(out)
    with pytest.raises(HwsimError, match="already holds a run"):
        run_experiment(cfg, out)


@pytest.mark.parametrize("key,value,match", [
    ("chip.device", "rpu_spec", "chip.device"), ("chip.inp_bound", 1.0, "inp_bound"),
    ("sim.dtype", "float32", "sim.dtype"),
    # every other hardware setting would be silently ignored (case audit: transfer ran exit 0)
    ("chip.transfer.enabled", True, "chip.transfer.enabled = True: learn.algorithm"),
    ("chip.adc_bits", 8, "chip.adc_bits = 8"),
    ("chip.cost_line.noise_std", 0.1, "chip.cost_line.noise_std = 0.1")])
def test_refuses_what_it_cannot_honour(key, value, match):
    with pytest.raises(ConfigError, match=match):
        BackpropTrainer(xor_cfg().with_overrides({key: value})).run()


def test_digits_backprop_example_reaches_095():
    t = run_experiment("examples/digits_backprop.toml")
    assert t.summary_["final_test_accuracy"] >= 0.95
    assert t.summary_["hardware_time_s"] is None
