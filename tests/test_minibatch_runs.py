"""Minibatch runs from a config (what the CLI runs): periphery and node perturbation with
mgd.batch, and the gradient diagnostics over every sample of each step's batch."""

import math

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.config import RunConfig
from hwsim.exceptions import ConfigError
from hwsim.experiment import run_experiment
from hwsim.learn.trainer import MGDTrainer, build_chip
from tests import naive
from tests.test_gradient import fd_theta


def cfg_of(**over):
    d = {"seed": 3, "task": {"name": "xor"}, "network": {"sizes": [2, 3, 1]},
         "mgd": {"amplitude": 0.05, "eta": 2.0, "batch": 2},
         "sim": {"steps": 200, "eval_every": 100}}
    for k, v in over.items():
        d[k] = {**d.get(k, {}), **v}
    return RunConfig.from_dict(d)


def test_node_perturbation_with_a_batch_through_the_periphery_runs_from_a_config(tmp_path):
    cfg = cfg_of(mgd={"target": "nodes"}, chip={"inp_bound": 1.0, "inp_res": 1 / 62,
                                                 "out_bound": 4.0, "out_noise": 0.01})
    r = run_experiment(cfg, tmp_path / "run")
    s = r.summary_["counters"]
    P, M, B, N = 13, 4, 2, 200
    assert s["perturbed_inferences"] == B * N and s["integrator_ops"] == M * B * N
    assert s["synapse_multiplies"] == P * B * N
    assert s["dac_conversions"] == (2 + 3) * (s["perturbed_inferences"] + s["baseline_inferences"])
    assert r.chip_.n_perturbed == M * B
    assert not np.allclose(r.chip_.theta, build_chip(cfg)[1].init_params(3, cfg.network.init))


def test_node_diagnostics_with_a_batch_are_refused(tmp_path):
    cfg = cfg_of(mgd={"target": "nodes"}, diagnostics={"enabled": True, "window": 10})
    with pytest.raises(ConfigError, match="^diagnostics.enabled = true: with mgd.target = "
                       "'nodes' and mgd.batch = 2 every sample has its own nodes"):
        run_experiment(cfg, tmp_path / "run")


def test_weight_diagnostics_use_every_sample_of_the_batches():
    """The window's true gradient is over all B samples of every step (each counted once per
    step), not the batch's first sample: checked against finite differences over that list."""
    W = 6
    cfg = cfg_of(mgd={"batch": 3, "amplitude": 0.01},
                 diagnostics={"enabled": True, "window": W, "samples": "window"})
    row = MGDTrainer(cfg).run().metrics_[0]
    _, net, ds = build_chip(cfg)
    theta0 = net.init_params(cfg.seed, cfg.network.init)
    chip = Chip(net, ds.X_train, ds.Y_train, theta0, seed=3, amplitude=0.01, eta=0.0,
                tau_theta=10**9, batch=3)
    chip.advance(W)
    idx = sum((naive.batch_indices(3, k, 3, len(ds.X_train)) for k in range(W)), [])
    true = fd_theta(net, theta0, ds.X_train[idx], ds.Y_train[idx], ds.labels_train[idx], 1e-6)
    c = chip.grad @ true / (np.linalg.norm(chip.grad) * np.linalg.norm(true))
    assert row["grad_cos"] == pytest.approx(c, rel=1e-6)
    first = [i for k, i in enumerate(idx) if k % 3 == 0]
    t1 = fd_theta(net, theta0, ds.X_train[first], ds.Y_train[first], ds.labels_train[first], 1e-6)
    c1 = chip.grad @ t1 / (np.linalg.norm(chip.grad) * np.linalg.norm(t1))
    assert not math.isclose(c1, c, rel_tol=1e-3)  # the first samples alone give another value
