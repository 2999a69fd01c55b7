"""[diagnostics]: gradient angle, cosine and SNR columns in metrics.csv.

The reference values are computed independently of hwsim.learn.diagnostics and of the
backprop code: the estimate from a separately built chip that never updates (τθ = 10⁹, so G
is the plain sum of the window's estimates) and from C̃·θ̃/Δ² read after every step, the true
gradient from central finite differences of the chip's own cost (MLP.evaluate)."""

import math

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.config import RunConfig
from hwsim.exceptions import ConfigError
from hwsim.experiment import resume_experiment, run_experiment
from hwsim.learn.trainer import MGDTrainer, build_chip
from hwsim.runs import METRICS_COLUMNS, read_metrics
from tests.test_gradient import fd_nodes, fd_theta

W = 40


def cfg_of(diag=True, **mgd):
    return RunConfig.from_dict({
        "seed": 3, "task": {"name": "xor"}, "network": {"sizes": [2, 3, 1]},
        "mgd": {"amplitude": 0.01, "eta": 2.0, **mgd},
        "sim": {"steps": 300, "eval_every": 100, "checkpoint_every": 1},
        "diagnostics": {"enabled": diag, "window": W, "samples": "train"}})


def reference_window(cfg):
    """Σ g_n and the per-step estimates over W steps from the run's initial state."""
    _, net, ds = build_chip(cfg)
    theta0 = net.init_params(cfg.seed, cfg.network.init)
    m = cfg.mgd
    chip = Chip(net, ds.X_train, ds.Y_train, theta0, seed=cfg.seed, amplitude=m.amplitude,
                eta=0.0, tau_theta=10**9, target=m.target)
    steps = []
    for _ in range(W):
        chip.advance(1)
        steps.append(chip.cost_line["ctilde"] / m.amplitude**2 * chip.state.reference.copy())
    return net, ds, theta0, chip.grad.copy(), np.array(steps)


def cos_deg(a, b):
    c = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return c, math.degrees(math.acos(c))


def snr(steps, true):
    s = steps @ true / np.linalg.norm(true)
    return abs(s.mean()) / s.std(ddof=1)


def test_columns_only_when_enabled_and_training_is_untouched():
    on = MGDTrainer(cfg_of(True)).run().metrics_
    off = MGDTrainer(cfg_of(False)).run().metrics_
    extra = ("grad_cos", "grad_angle_deg", "grad_snr")
    assert all(tuple(r) == METRICS_COLUMNS for r in off)
    assert all(tuple(r) == METRICS_COLUMNS + extra for r in on)
    assert [{k: r[k] for k in METRICS_COLUMNS} for r in on] == off  # bit for bit
    assert all(np.isfinite([r[k] for k in extra]).all() for r in on)


def test_weight_angle_and_snr_equal_an_independent_computation():
    cfg = cfg_of(True)
    row = MGDTrainer(cfg).run().metrics_[0]
    net, ds, theta0, G, steps = reference_window(cfg)
    np.testing.assert_allclose(steps.sum(0), G, rtol=1e-9, atol=1e-12)
    true = fd_theta(net, theta0, ds.X_train, ds.Y_train, ds.labels_train, 1e-6)
    c, deg = cos_deg(G, true)
    assert row["grad_cos"] == pytest.approx(c, rel=1e-6)
    assert row["grad_angle_deg"] == pytest.approx(deg, rel=1e-6)
    assert row["grad_snr"] == pytest.approx(snr(steps, true), rel=1e-6)


def test_node_angle_and_snr_equal_an_independent_computation():
    cfg = cfg_of(True, target="nodes", eta=0.5)
    row = MGDTrainer(cfg).run().metrics_[0]
    assert {"node_cos", "node_angle_deg", "node_snr"} <= set(row)
    net, ds, theta0, _, steps = reference_window(cfg)  # node estimates C̃·ñ/Δ²
    true = fd_nodes(net, theta0, ds.X_train, ds.Y_train, 1e-6)
    c, deg = cos_deg(steps.sum(0), true)
    assert row["node_cos"] == pytest.approx(c, rel=1e-6)
    assert row["node_angle_deg"] == pytest.approx(deg, rel=1e-6)
    assert row["node_snr"] == pytest.approx(snr(steps, true), rel=1e-6)


def test_angle_follows_fact_3_on_a_frozen_sample():
    """θ frozen, one sample held, small Δ: the angle is atan(√((P−1)/N)) (mgd.md fact 3),
    as a mean over seeds."""
    angles = []
    for seed in range(1, 11):
        cfg = RunConfig.from_dict({
            "seed": seed, "task": {"name": "parity", "bits": 4}, "network": {"sizes": [4, 8, 1]},
            "mgd": {"amplitude": 1e-4, "eta": 0.0, "tau_x": 10**6},
            "sim": {"steps": 1, "eval_every": 1},
            "diagnostics": {"enabled": True, "window": 400, "samples": "window"}})
        angles.append(MGDTrainer(cfg).run().metrics_[0]["grad_angle_deg"])
    P = 4 * 8 + 8 + 8 + 1
    law = math.degrees(math.atan(math.sqrt((P - 1) / 400)))
    assert np.mean(angles) == pytest.approx(law, abs=2.0)


def test_resume_keeps_the_columns_bit_identically(tmp_path):
    straight = run_experiment(cfg_of(True), tmp_path / "a").metrics_
    short = cfg_of(True).with_overrides({"sim.steps": 200})
    run_experiment(short, tmp_path / "b")
    resume_experiment(tmp_path / "b", ["sim.steps=300"])
    rows = read_metrics(tmp_path / "b" / "metrics.csv")
    assert rows == read_metrics(tmp_path / "a" / "metrics.csv") and len(rows) == len(straight)
    header = (tmp_path / "b" / "metrics.csv").read_text().split("\n")[0].split(",")
    assert header[-3:] == ["grad_cos", "grad_angle_deg", "grad_snr"]


def test_diagnostics_refused_with_backprop():
    cfg = RunConfig.from_dict({"task": {"name": "xor"}, "network": {"sizes": [2, 2, 1]},
                               "learn": {"algorithm": "backprop"},
                               "diagnostics": {"enabled": True}})
    with pytest.raises(ConfigError, match="diagnostics.enabled"):
        run_experiment(cfg)


def test_checkpoints_from_before_diagnostics_and_backprop_still_resume():
    """With diagnostics off and algorithm "mgd", the config hashes exactly as it did before
    [diagnostics] and the backprop keys existed (values computed with that hwsim, 444953f)."""
    from hwsim.chip.profiles import load_profile
    from hwsim.learn.trainer import defining_hash
    old = {"d8cd35937197b9209d96c8fa6966b5110113f990527952ecf2c0db3470a5af16": {},
           "7f8817f61707ba11f2ba2a024b4bb38a4ef664533cd19a67afb456bcabcdf154": {
               "task": {"name": "xor"}, "mgd": {"eta": 3.0}, "learn": {"optimizer": "adam"}}}
    for digest, d in old.items():
        cfg = RunConfig.from_dict(d)
        assert defining_hash(cfg, load_profile(cfg.chip.device)) == digest
        # the backprop-only keys never change an MGD run; enabled diagnostics define the run
        same = cfg.with_overrides({"learn.lr": 0.1, "learn.epochs": 3})
        assert defining_hash(same, load_profile("ideal")) == digest
        diag = cfg.with_overrides({"diagnostics.enabled": True})
        assert defining_hash(diag, load_profile("ideal")) != digest
