"""What a newcomer hit: interrupts at any moment, folders that must never be lost or mixed,
resumes that would do nothing, and inputs that must give one-line errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwsim.cli import ExitCode, main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def hwsim(*args, **kw):
    return subprocess.run([sys.executable, "-m", "hwsim", *args], capture_output=True, text=True,
                          timeout=600, **kw)


@pytest.mark.parametrize("delay", [0.3, 1.5])
def test_interrupt_at_any_moment_is_clean(tmp_path, delay):
    """Ctrl-C during start-up or compilation: exit 130, one line, no traceback, and either no
    folder at all or a resumable one."""
    out = tmp_path / "r"
    p = subprocess.Popen([sys.executable, "-m", "hwsim", "run", str(EXAMPLES / "digits.toml"),
                          "--out", str(out), "--quiet"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=300)
    if p.returncode == -signal.SIGINT:
        # On a loaded machine the signal can land before the interpreter has started, when
        # the OS default still applies: hwsim never ran, so nothing may exist.
        assert err == "" and not out.exists(), err
        return
    assert p.returncode == ExitCode.INTERRUPTED, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    if (out / "checkpoint.npz").exists():
        assert f"hwsim run --resume {out}" in err
        assert json.loads((out / "summary.json").read_text())["status"] == "interrupted"
    else:
        assert "nothing to resume" in err and not (out / "metrics.csv").exists()


def test_force_with_a_bad_config_keeps_the_old_run(tmp_path, capsys):
    out = str(tmp_path / "r")
    base = ["run", str(EXAMPLES / "xor.toml"), "--out", out, "--quiet", "--set", "sim.steps=1000"]
    assert main(base) == ExitCode.OK
    before = {f: (tmp_path / "r" / f).read_bytes() for f in os.listdir(out) if not f.startswith(".")}
    assert main(base + ["--force", "--set", "network.sizes=[2,2,2]"]) == ExitCode.USAGE_ERROR
    assert "set network.sizes = [2, ..., 1]" in capsys.readouterr().err
    after = {f: (tmp_path / "r" / f).read_bytes() for f in os.listdir(out) if not f.startswith(".")}
    assert after == before


def test_a_users_own_config_in_the_folder_is_not_overwritten(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    mine = (EXAMPLES / "xor.toml").read_text() + "# my precious notes\n"
    (proj / "config.toml").write_text(mine)
    assert main(["run", str(proj / "config.toml"), "--out", str(proj), "--quiet"]) == \
        ExitCode.USAGE_ERROR
    assert (proj / "config.toml").read_text() == mine


def test_two_runs_cannot_share_a_folder(tmp_path):
    out = tmp_path / "r"
    args = ["run", str(EXAMPLES / "digits.toml"), "--out", str(out), "--quiet",
            "--set", "sim.steps=1000000000", "--set", "network.sizes=[64,8,10]"]
    first = subprocess.Popen([sys.executable, "-m", "hwsim", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "metrics.csv").exists() and time.time() < deadline:
        time.sleep(0.05)
    second = hwsim(*args, "--force")
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=300)
    assert second.returncode == ExitCode.USAGE_ERROR
    assert "another hwsim run is using this folder" in second.stderr


def test_resume_refuses_runs_with_nothing_to_do(tmp_path):
    out = str(tmp_path / "r")
    assert main(["run", str(EXAMPLES / "xor.toml"), "--out", out, "--quiet",
                 "--set", "sim.steps=1000"]) == ExitCode.OK
    config = (tmp_path / "r" / "config.toml").read_bytes()
    assert main(["run", "--resume", out, "--quiet"]) == ExitCode.USAGE_ERROR
    assert main(["run", "--resume", out, "--quiet", "--set", "sim.steps=100"]) == \
        ExitCode.USAGE_ERROR
    assert (tmp_path / "r" / "config.toml").read_bytes() == config
    assert main(["run", "--resume", out, "--quiet", "--out", str(tmp_path / "x")]) == \
        ExitCode.USAGE_ERROR
    assert main(["run", "--resume", out, "--quiet", "--seed", "3"]) == ExitCode.USAGE_ERROR
    assert main(["run", "--resume", out, "--quiet", "--set", "sim.steps=2000"]) == ExitCode.OK


def test_resume_refuses_a_diverged_run(tmp_path, capsys):
    out = str(tmp_path / "r")
    assert main(["run", str(EXAMPLES / "xor.toml"), "--out", out, "--quiet", "--set",
                 "sim.max_cost=0.1"]) == ExitCode.DIVERGED
    assert main(["run", "--resume", out, "--quiet", "--set", "sim.steps=100000"]) == \
        ExitCode.USAGE_ERROR
    assert "diverge" in capsys.readouterr().err


@pytest.mark.parametrize("args,needle", [
    (["--out", "FILE"], "not a folder"),
    (["--out", "FILE/sub"], "cannot create the run folder"),
    (["--set", "mgd.amplitude=1e-300"], "mgd.amplitude"),
    (["--set", "mgd.tau_p=9223372036854775808"], "mgd.tau_p"),
    (["--set", "mgd.mode=analog"], "analog mode"),
    (["--seed", "-1"], "--seed -1: seed = -1"),
])
def test_bad_inputs_give_one_line_errors(tmp_path, capsys, args, needle):
    f = tmp_path / "afile"
    f.write_text("x")
    args = [a.replace("FILE", str(f)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "r")]
    code = main(["run", str(EXAMPLES / "xor.toml"), "--quiet", *args])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE_ERROR and needle in err and err.count("\n") == 1, err
