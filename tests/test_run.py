"""Whole runs through the public API and the CLI: run folders, timeline, reproducibility."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hwsim import __version__
from hwsim.cli import ExitCode, main
from hwsim.config import RunConfig, load_config
from hwsim.exceptions import DivergenceError, HwsimError
from hwsim.experiment import resume_experiment, run_experiment
from hwsim.runs import load_checkpoint, read_metrics

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def small(**over):
    base = {"seed": 3, "task": {"name": "xor"}, "network": {"sizes": [2, 2, 1], "init": "uniform"},
            "mgd": {"amplitude": 0.05, "eta": 1.0}, "sim": {"steps": 3000, "eval_every": 500}}
    for k, v in over.items():
        sec, key = k.split(".") if "." in k else (None, k)
        (base.setdefault(sec, {}) if sec else base)[key] = v
    return RunConfig.from_dict(base)


def test_run_folder_contents(tmp_path):
    t = run_experiment(small(), tmp_path / "r")
    out = tmp_path / "r"
    for f in ("config.toml", "metrics.csv", "summary.json", "checkpoint.npz", "learning_curve.png"):
        assert (out / f).stat().st_size > 0
    s = json.loads((out / "summary.json").read_text())
    for key in ("final_test_accuracy", "best_test_accuracy", "target_accuracy", "steps_to_target",
                "time_to_target_s", "steps", "hardware_time_s", "wall_s", "steps_per_s", "seed",
                "hwsim_version", "status"):
        assert key in s
    assert s["steps"] == 3000 and s["status"] == "completed" and s["hwsim_version"] == __version__
    assert s["steps_per_s"] > 0
    # config.toml is fully resolved and loads back to the same config
    assert load_config(out / "config.toml") == t.config
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_E1_last_tick_logged_once_and_resume_gives_same_files(tmp_path):  # case E1
    cfg = small(**{"sim.dt": 1e-3, "sim.steps": 1000, "sim.eval_every": 100})
    one = run_experiment(cfg, tmp_path / "one")
    rows = read_metrics(tmp_path / "one" / "metrics.csv")
    assert [r["step"] for r in rows] == list(range(0, 1001, 100))  # 1 + ceil(1000/100) rows
    assert one.summary_["steps"] == 1000
    # 0 -> 0.5 s, then resume to 1.0 s
    half = small(**{"sim.dt": 1e-3, "sim.steps": 0, "sim.time_limit_s": 0.5, "sim.eval_every": 100})
    run_experiment(half, tmp_path / "two")
    assert read_metrics(tmp_path / "two" / "metrics.csv")[-1]["step"] == 500
    resume_experiment(tmp_path / "two", ["sim.time_limit_s=1.0"])
    a = (tmp_path / "one" / "metrics.csv").read_bytes()
    b = (tmp_path / "two" / "metrics.csv").read_bytes()
    assert a == b
    ca, cb = (load_checkpoint(tmp_path / d / "checkpoint.npz") for d in ("one", "two"))
    assert all(np.array_equal(ca[k], cb[k]) for k in ca)


def test_E1_uneven_end_row_and_resume(tmp_path):
    """A run ending off the eval grid logs its end once; resuming drops that extra row."""
    run_experiment(small(**{"sim.steps": 1250}), tmp_path / "a")
    steps = [r["step"] for r in read_metrics(tmp_path / "a" / "metrics.csv")]
    assert steps == [0, 500, 1000, 1250]
    resume_experiment(tmp_path / "a", ["sim.steps=3000"])
    run_experiment(small(), tmp_path / "b")
    assert (tmp_path / "a" / "metrics.csv").read_bytes() == (tmp_path / "b" / "metrics.csv").read_bytes()


def test_E2_time_limit_counts_steps(tmp_path):  # case E2
    t = run_experiment(small(**{"sim.dt": 0.1, "sim.steps": 0, "sim.time_limit_s": 1.0,
                                "sim.eval_every": 3}))
    assert t.summary_["steps"] == 10
    assert [r["step"] for r in t.metrics_] == [0, 3, 6, 9, 10]
    # hardware time is k * dt from the integer k, not a running sum
    assert [r["hardware_time_s"] for r in t.metrics_] == [k * 0.1 for k in (0, 3, 6, 9, 10)]


def test_E2_long_timeline_lands_on_integer_steps():  # case E2
    from hwsim.sim import Timeline, periodic

    state = {"step": 0}

    def advance(n):
        state["step"] += n
        return 0

    seen = []
    tl = Timeline(0.1, advance, lambda: state["step"], max_chunk=10**6)
    tl.process(periodic(tl.env, 10**6, lambda s: seen.append((s, state["step"]))))
    tl.run(10**7)
    assert seen == [(k * 10**6, k * 10**6) for k in range(1, 11)]
    assert state["step"] == 10**7 and tl.seconds() == 10**7 * 0.1


def test_same_seed_same_files_different_seed_different(tmp_path):
    for d in ("a", "b"):
        run_experiment(small(), tmp_path / d)
    run_experiment(small(seed=4), tmp_path / "c")
    m = {d: (tmp_path / d / "metrics.csv").read_bytes() for d in "abc"}
    assert m["a"] == m["b"] and m["a"] != m["c"]


def test_nan_divergence_names_step_and_component(tmp_path):
    """A NaN that reaches the weights stops the run at its step, naming the parameter."""
    from hwsim.learn import MGDTrainer

    t = MGDTrainer(small(), out_dir=tmp_path / "n")
    real_build = __import__("hwsim.learn.trainer", fromlist=["build_chip"]).build_chip

    def poisoned(cfg, dataset=None, profile=None):
        chip, net, ds = real_build(cfg, dataset, profile)
        chip.theta[4] = np.nan
        return chip, net, ds

    import hwsim.learn.trainer as tr
    old, tr.build_chip = tr.build_chip, poisoned
    try:
        with pytest.raises(DivergenceError, match=r"step 0: non-finite .*weight layer0.b\[0\]"):
            t.run()
    finally:
        tr.build_chip = old
    assert json.loads((tmp_path / "n" / "summary.json").read_text())["status"] == "diverged"


def test_nan_mid_run_is_caught_by_the_kernel_at_its_step(tmp_path, monkeypatch):  # case R2
    """A NaN that appears between ticks is reported at the step the kernel saw it."""
    from hwsim.chip.chip import Chip

    real = Chip.advance

    def poisoned(self, n):
        if self.step <= 37 < self.step + n:
            status = real(self, 37 - self.step)
            self.theta[4] = np.nan
            return status or real(self, n - (37 - self.step))
        return real(self, n)

    monkeypatch.setattr(Chip, "advance", poisoned)
    cfg = small(**{"network.activation": "relu", "network.output_activation": "linear",
                   "sim.eval_every": 1000})
    with pytest.raises(DivergenceError, match=r"diverged at step 37: non-finite cost .*weight "
                                              r"layer0.b\[0\]"):
        run_experiment(cfg, tmp_path / "r")
    s = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert s["status"] == "diverged" and s["steps"] == 37


def _cli(args, env_extra=None, cwd=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "hwsim", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=600)


def test_R1_D3_thread_count_does_not_change_results(tmp_path):  # cases R1, D3
    outs = []
    for threads in ("1", "2", "4"):
        out = tmp_path / f"t{threads}"
        r = _cli(["run", str(EXAMPLES / "digits.toml"), "--seed", "7", "--out", str(out),
                  "--quiet", "--set", "sim.steps=60000", "--set", "sim.eval_every=20000"],
                 {"NUMBA_NUM_THREADS": threads})
        assert r.returncode == 0, r.stderr
        outs.append(out)
    ref = (outs[0] / "metrics.csv").read_bytes()
    ref_theta = load_checkpoint(outs[0] / "checkpoint.npz")["theta"]
    assert len(read_metrics(outs[0] / "metrics.csv")) == 4
    for out in outs[1:]:
        assert (out / "metrics.csv").read_bytes() == ref
        assert np.array_equal(load_checkpoint(out / "checkpoint.npz")["theta"], ref_theta)


def test_cli_version_and_errors(tmp_path, capsys):
    r = _cli(["--version"])
    assert r.returncode == 0 and __version__ in r.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[mgd]\namplitud = 0.05\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "x")]) == ExitCode.USAGE_ERROR
    err = capsys.readouterr().err
    assert "amplitud" in err and "amplitude" in err and "bad.toml" in err
    assert not (tmp_path / "x").exists()  # failed before any work
    assert main(["run", str(EXAMPLES / "xor.toml"), "--set", "mgd.amplitud=0.05", "--quiet",
                 "--out", str(tmp_path / "y")]) == ExitCode.USAGE_ERROR
    assert "--set mgd.amplitud=0.05" in capsys.readouterr().err


def test_cli_refuses_to_overwrite_a_run_without_force(tmp_path, capsys):
    out = str(tmp_path / "r")
    args = ["run", str(EXAMPLES / "xor.toml"), "--out", out, "--quiet", "--set", "sim.steps=1000"]
    assert main(args) == ExitCode.OK
    before = (tmp_path / "r" / "metrics.csv").read_bytes()
    assert main(args + ["--set", "mgd.eta=0.5"]) == ExitCode.USAGE_ERROR
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "r" / "metrics.csv").read_bytes() == before
    assert main(args + ["--force"]) == ExitCode.OK


def test_resume_refuses_changes_that_define_the_run(tmp_path):
    run_experiment(small(), tmp_path / "r")
    with pytest.raises(HwsimError, match="resumed run may only change"):
        resume_experiment(tmp_path / "r", ["mgd.eta=0.5"])


def test_divergence_stops_with_status_and_keeps_metrics(tmp_path):
    cfg = small(**{"network.activation": "relu", "network.output_activation": "linear",
                   "mgd.eta": 1e6, "sim.steps": 20000, "sim.eval_every": 100})
    with pytest.raises(DivergenceError, match=r"diverged at step \d+: train cost .* > sim.max_cost") as e:
        run_experiment(cfg, tmp_path / "d")
    assert "eta" in str(e.value)
    s = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert s["status"] == "diverged" and "step" in s["message"]
    rows = read_metrics(tmp_path / "d" / "metrics.csv")
    assert rows[0]["step"] == 0 and s["steps"] < 20000
    r = _cli(["run", str(tmp_path / "d" / "config.toml"), "--out", str(tmp_path / "e"), "--quiet"])
    assert r.returncode == ExitCode.DIVERGED and "diverged at step" in r.stderr


@pytest.mark.parametrize("name,target", [("xor", 1.0), ("parity4", 1.0), ("digits", 0.90)])
def test_examples_reach_their_published_accuracy(tmp_path, name, target):
    """The README's claims: xor and parity4 reach 100 %, digits >= 0.90 held-out accuracy."""
    r = _cli(["run", str(EXAMPLES / f"{name}.toml"), "--out", str(tmp_path / name), "--quiet"])
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / name / "summary.json").read_text())
    assert s["final_test_accuracy"] >= target
    # the other side of test_failures.py::test_a_run_that_blows_up_slowly_ends_unstable
    assert s["status"] == "completed" and s["warnings"] == []
