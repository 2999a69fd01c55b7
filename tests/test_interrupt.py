"""Interruption: SIGTERM mid-run leaves a valid folder; resume equals an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hwsim.cli import ExitCode
from hwsim.runs import load_checkpoint, read_metrics

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ARGS = ["--set", "sim.steps=1500000", "--set", "sim.eval_every=50000", "--set",
        "network.sizes=[64,16,10]", "--quiet"]


def _run(out, extra=()):
    return subprocess.run([sys.executable, "-m", "hwsim", "run", str(EXAMPLES / "digits.toml"),
                           "--out", str(out), *ARGS, *extra], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "run"
    assert _run(out).returncode == 0
    return out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_interrupt_then_resume_is_bit_identical(tmp_path, full, sig):
    cut = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, "-m", "hwsim", "run", str(EXAMPLES / "digits.toml"),
                             "--out", str(cut), *ARGS], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    # wait until training is under way (some ticks logged), then terminate
    deadline = time.time() + 300
    while time.time() < deadline:
        if (cut / "metrics.csv").exists() and len(read_metrics(cut / "metrics.csv")) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    s = json.loads((cut / "summary.json").read_text())
    assert s["status"] == "interrupted" and 0 < s["steps"] < 1_500_000
    assert load_checkpoint(cut / "checkpoint.npz")["theta"].shape == (1210,)
    assert not [p for p in os.listdir(cut) if p.endswith(".tmp")]
    r = subprocess.run([sys.executable, "-m", "hwsim", "run", "--resume", str(cut), "--quiet"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert (cut / "metrics.csv").read_bytes() == (full / "metrics.csv").read_bytes()
    a, b = load_checkpoint(full / "checkpoint.npz"), load_checkpoint(cut / "checkpoint.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert json.loads((cut / "summary.json").read_text())["status"] == "completed"
