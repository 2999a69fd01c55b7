"""Runs share a process without sharing state: no global stop flag, no import side effects,
no growth over many runs, and the same files as a run alone in a fresh process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwsim.cli import ExitCode, main
from hwsim.config import load_config
from hwsim.learn import MGDTrainer

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TIMINGS = ("wall_s", "segment_wall_s", "compile_s", "steps_per_s")
RUNS = {  # name: CLI arguments after the config
    "xor": [str(EXAMPLES / "xor.toml"), "--set", "sim.steps=3000"],
    "parity": [str(EXAMPLES / "parity4.toml"), "--set", "sim.steps=4000",
               "--set", "sim.eval_every=1000"],
}


def _result(out):
    s = json.loads((out / "summary.json").read_text())
    return (out / "metrics.csv").read_bytes(), {k: v for k, v in s.items() if k not in TIMINGS}


def test_many_runs_in_one_process_equal_each_run_alone(tmp_path):
    alone = {name: subprocess.Popen([sys.executable, "-m", "hwsim", "run", *args, "--quiet",
                                     "--out", str(tmp_path / f"alone-{name}")],
                                    stderr=subprocess.PIPE, text=True)
             for name, args in RUNS.items()}
    # xor, parity, xor again: a second xor that differs from the first shows leaked state
    for i, name in enumerate(["xor", "parity", "xor"]):
        assert main(["run", *RUNS[name], "--quiet", "--out", str(tmp_path / f"in{i}-{name}")]) \
            == ExitCode.OK
    for name, p in alone.items():
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    assert _result(tmp_path / "in0-xor") == _result(tmp_path / "alone-xor")
    assert _result(tmp_path / "in2-xor") == _result(tmp_path / "alone-xor")
    assert _result(tmp_path / "in1-parity") == _result(tmp_path / "alone-parity")


def _rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status")  # pragma: no cover - not Linux


def test_fifty_runs_in_one_process_do_not_grow_memory(tmp_path):
    args = [*RUNS["xor"][:1], "--quiet", "--set", "sim.steps=2000", "--set", "sim.eval_every=100"]
    for i in range(50):
        if i == 10:
            after_ten = _rss_mb()
        assert main(["run", *args, "--out", str(tmp_path / f"r{i}")]) == ExitCode.OK
    assert (tmp_path / "r49" / "learning_curve.png").exists()
    assert _rss_mb() - after_ten < 20


def test_a_stop_request_stops_only_its_own_run():
    cfg = load_config(EXAMPLES / "xor.toml", ["sim.steps=2000"])
    asked = MGDTrainer(cfg)
    asked.request_stop()
    other = MGDTrainer(cfg).run()  # a process-global flag would stop this one
    assert other.status_ == "completed"
    with pytest.raises(KeyboardInterrupt):
        asked.run()
    assert asked.summary_ is None  # stopped at the first safe point, before training


def test_importing_hwsim_changes_no_process_state():
    code = ("import os, sys, matplotlib; matplotlib.use('svg'); os.umask(0o027); "
            "import hwsim.experiment, hwsim.analysis.plots, hwsim.analysis.device_plots, "
            "hwsim.cli.run, hwsim.runs; "
            "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend(); "
            "assert 'matplotlib.pyplot' not in sys.modules; "
            "assert os.umask(0o022) == 0o027")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def test_run_files_get_the_users_umask(tmp_path):
    old = os.umask(0o027)  # set after hwsim.runs was imported: a mode cached at import is wrong
    try:
        assert main(["run", *RUNS["xor"][:1], "--quiet", "--set", "sim.steps=500",
                     "--out", str(tmp_path / "r")]) == ExitCode.OK
    finally:
        os.umask(old)
    for f in ("config.toml", "metrics.csv", "summary.json", "checkpoint.npz", "learning_curve.png"):
        assert (tmp_path / "r" / f).stat().st_mode & 0o777 == 0o640, f
