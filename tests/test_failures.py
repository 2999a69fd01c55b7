"""Failures end runs loudly and honestly: full disks at the last write, damaged checkpoints,
failing timeline processes, runs that blow up slowly, busy or read-only folders."""

import errno
import json
import os
import shutil
from pathlib import Path

import filelock
import numpy as np
import pytest

import hwsim.runs as runs
from hwsim.chip.chip import Chip
from hwsim.cli import ExitCode, main
from hwsim.config import load_config
from hwsim.exceptions import HwsimError
from hwsim.experiment import plot_title, run_experiment
from hwsim.learn import MGDTrainer
from hwsim.runs import load_checkpoint, read_metrics

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
XOR = [str(EXAMPLES / "xor.toml"), "--quiet", "--set", "sim.steps=2000", "--set",
       "sim.eval_every=500"]


def _summary(out):
    return json.loads((Path(out) / "summary.json").read_text())


def _one_line(err):
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("xor") / "run"
    assert main(["run", *XOR, "--out", str(out)]) == ExitCode.OK
    return out


# -- one writer, one error ---------------------------------------------------------------
def test_W3_disk_full_at_the_final_checkpoint(tmp_path, monkeypatch, capsys):  # case W3
    out = tmp_path / "r"
    real, calls = os.replace, []

    def replace(src, dst):
        if str(dst).endswith("checkpoint.npz"):
            calls.append(dst)
            if len(calls) == 2:  # step 0, then the end of the run
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(runs.os, "replace", replace)
    assert main(["run", *XOR, "--out", str(out)]) == ExitCode.USAGE_ERROR
    monkeypatch.undo()
    err = _one_line(capsys.readouterr().err)
    assert "checkpoint.npz: cannot write the run folder: disk full" in err
    assert "intact" in err and f"hwsim run --resume {out}" in err
    s = _summary(out)
    assert s["status"] == "failed" and "disk full" in s["message"]
    assert load_checkpoint(out / "checkpoint.npz")["clock"][0]["step"] == 0  # the previous one, intact
    assert read_metrics(out / "metrics.csv")[-1]["step"] == 2000
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]
    assert main(["run", "--resume", str(out), "--quiet"]) == ExitCode.OK
    assert _summary(out)["status"] == "completed"


def test_W3_disk_full_writing_the_plot(tmp_path, monkeypatch, capsys):  # case W3
    real = runs.atomic_write_bytes

    def full(path, data):
        if str(path).endswith(".png"):
            raise runs.write_error(path, OSError(errno.ENOSPC, "No space left on device"))
        return real(path, data)

    monkeypatch.setattr("hwsim.analysis.plots.atomic_write_bytes", full)
    assert main(["run", *XOR, "--out", str(tmp_path / "r")]) == ExitCode.USAGE_ERROR
    assert "learning_curve.png: cannot write the run folder: disk full" in \
        _one_line(capsys.readouterr().err)
    assert _summary(tmp_path / "r")["status"] == "completed"  # the run itself is whole


# -- checkpoints ---------------------------------------------------------------------------
def _damage(path, how):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "not a zip":
        path.write_text("theta = [1, 2, 3]\n")
    elif how == "empty":
        path.write_bytes(b"")
    else:  # a valid .npz without the chip's arrays
        np.savez(path, schema_version=np.array(runs.CHECKPOINT_SCHEMA), other=np.zeros(3))


@pytest.mark.parametrize("how", ["truncated", "not a zip", "empty", "foreign arrays"])
def test_a_damaged_checkpoint_gives_one_line_on_resume(tmp_path, xor_run, capsys, how):
    out = tmp_path / "r"
    shutil.copytree(xor_run, out)
    _damage(out / "checkpoint.npz", how)
    assert main(["run", "--resume", str(out), "--quiet", "--set", "sim.steps=4000"]) == \
        ExitCode.USAGE_ERROR
    err = _one_line(capsys.readouterr().err)
    assert f"{out}: checkpoint.npz is damaged or not an hwsim checkpoint" in err


@pytest.mark.parametrize("version", [None, 1, 3])
def test_a_checkpoint_of_another_schema_version_is_refused(tmp_path, xor_run, capsys, version):
    out = tmp_path / "r"
    shutil.copytree(xor_run, out)
    with np.load(out / "checkpoint.npz") as z:
        arrays = {k: z[k] for k in z.files if k != "schema_version"}
    if version is not None:
        arrays["schema_version"] = np.array(version)
    np.savez(out / "checkpoint.npz", **arrays)
    assert main(["run", "--resume", str(out), "--quiet", "--set", "sim.steps=4000"]) == \
        ExitCode.USAGE_ERROR
    err = _one_line(capsys.readouterr().err)
    assert f"checkpoint schema version {version or 1}; this hwsim reads version 2" in err


def test_checkpoints_store_their_schema_version(xor_run):
    with np.load(xor_run / "checkpoint.npz") as z:
        assert int(z["schema_version"]) == runs.CHECKPOINT_SCHEMA == 2


# -- timeline processes ----------------------------------------------------------------
@pytest.mark.parametrize("process", ["evaluation", "checkpoint", "drift"])
def test_a_failing_timeline_process_ends_the_run_failed(tmp_path, monkeypatch, capsys, process):
    calls = []

    def boom(real):
        def call(self, *a):
            calls.append(a)
            if len(calls) == 3:  # inside the SimPy timeline, not the first call outside it
                raise RuntimeError("boom")
            return real(self, *a)
        return call

    args = list(XOR)
    if process == "evaluation":
        monkeypatch.setattr(MGDTrainer, "_evaluate", boom(MGDTrainer._evaluate))
    elif process == "checkpoint":
        args += ["--set", "sim.checkpoint_every=1"]
        monkeypatch.setattr(MGDTrainer, "_save_checkpoint", boom(MGDTrainer._save_checkpoint))
    else:
        args += ["--set", "chip.device=pcm_pair", "--set", "sim.drift_every=250"]
        monkeypatch.setattr(Chip, "drift_to", boom(Chip.drift_to))
    out = tmp_path / "r"
    assert main(["run", *args, "--out", str(out)]) == ExitCode.ERROR
    err = _one_line(capsys.readouterr().err)
    assert f"the {process} process failed at step" in err and "RuntimeError: boom" in err
    s = _summary(out)
    assert s["status"] == "failed" and f"the {process} process failed" in s["message"]
    assert [r["step"] for r in read_metrics(out / "metrics.csv")][:2] == [0, 500]


# -- runs that blow up slowly -------------------------------------------------------------
@pytest.mark.parametrize("example,args,why", [
    ("xor", ["--set", "mgd.eta=1e300", "--set", "sim.steps=2000"], "the weights ended at"),
    ("digits", ["--set", "mgd.eta=1e4", "--set", "sim.steps=40000", "--set",
                "sim.eval_every=10000", "--set", "network.sizes=[64,8,10]"],
     "the train cost ended"),
])
def test_a_run_that_blows_up_slowly_ends_unstable(tmp_path, capsys, example, args, why):
    out = tmp_path / "r"
    code = main(["run", str(EXAMPLES / f"{example}.toml"), "--quiet", "--out", str(out), *args])
    assert code == ExitCode.UNSTABLE
    err = capsys.readouterr().err
    assert f"hwsim: warning: unstable run: {why}" in err and "mgd.eta" in err
    assert "mgd.amplitude" in err
    s = _summary(out)
    assert s["status"] == "unstable" and any(why in w for w in s["warnings"])


def test_a_stable_run_has_no_warnings(xor_run):
    s = _summary(xor_run)
    assert s["status"] == "completed" and s["warnings"] == []


# -- start-up ------------------------------------------------------------------------------
def _no_compile(monkeypatch):
    def fail(self, n):
        raise AssertionError("the folder must be checked before the kernels compile")
    monkeypatch.setattr(Chip, "advance", fail)


def test_a_busy_folder_is_refused_before_compiling(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r"
    out.mkdir()
    _no_compile(monkeypatch)
    with filelock.FileLock(out / ".hwsim.lock", timeout=0):
        assert main(["run", *XOR, "--out", str(out), "--force"]) == ExitCode.USAGE_ERROR
    assert "another hwsim run is using this folder" in _one_line(capsys.readouterr().err)


def test_a_read_only_folder_is_refused_before_compiling(tmp_path, monkeypatch, capsys):
    def read_only(tmp):
        raise OSError(errno.EROFS, "Read-only file system")

    _no_compile(monkeypatch)
    monkeypatch.setattr(runs, "_open_new", read_only)
    out = tmp_path / "new" / "r"
    assert main(["run", *XOR, "--out", str(out)]) == ExitCode.USAGE_ERROR
    assert "cannot write the run folder: Read-only file system" in \
        _one_line(capsys.readouterr().err)
    assert not (tmp_path / "new").exists()  # the folders it made for the probe are gone


def test_compiling_is_announced_only_when_it_will_happen(tmp_path, monkeypatch, capsys):
    """The notice appears when the driver is neither loaded nor in the disk cache (a
    machine's first run); a fresh process with a warm cache loads in about a second and says
    nothing; --quiet hides it."""
    import subprocess
    import sys
    import types

    from hwsim.learn import trainer

    args = [sys.executable, "-m", "hwsim", "run", str(EXAMPLES / "xor.toml"), "--set",
            "sim.steps=200"]
    r = subprocess.run([*args, "--out", str(tmp_path / "a")], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0 and "compiling" not in r.stderr, r.stderr  # warm cache
    r = subprocess.run([*args, "--quiet", "--out", str(tmp_path / "b")], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0 and "compiling" not in r.stderr, r.stderr
    # A cold machine: nothing loaded, nothing on disk.
    cold = types.SimpleNamespace(**{k: getattr(trainer._k, k) for k in dir(trainer._k)
                                    if k.isupper()})
    cold.run_steps = types.SimpleNamespace(signatures=[])
    monkeypatch.setattr(trainer, "_k", cold)
    monkeypatch.setattr(trainer, "kernels_on_disk", lambda: False)
    assert main(["run", str(EXAMPLES / "xor.toml"), "--set", "sim.steps=200", "--out",
                 str(tmp_path / "c")]) == ExitCode.OK
    assert "hwsim: compiling kernels" in capsys.readouterr().err


# -- summaries, titles and library messages ----------------------------------------------
def test_wall_time_after_resume_is_the_total(tmp_path):
    out = tmp_path / "r"
    assert main(["run", *XOR, "--out", str(out)]) == ExitCode.OK
    first = _summary(out)
    assert main(["run", "--resume", str(out), "--quiet", "--set", "sim.steps=4000"]) == ExitCode.OK
    second = _summary(out)
    assert second["wall_s"] == pytest.approx(first["wall_s"] + second["segment_wall_s"])
    assert second["segment_wall_s"] < second["wall_s"]


def test_library_errors_name_the_python_argument(tmp_path):
    cfg = load_config(EXAMPLES / "xor.toml", ["sim.steps=200"])
    run_experiment(cfg, tmp_path / "r")
    with pytest.raises(HwsimError, match=r"force=True \(the CLI's --force\)"):
        run_experiment(cfg, tmp_path / "r")


def test_plot_titles_tell_runs_of_one_example_apart():
    a = plot_title(load_config(EXAMPLES / "digits.toml"))
    b = plot_title(load_config(EXAMPLES / "digits.toml", ["mgd.eta=0.5",
                                                           "chip.device=rpu_spec"]))
    assert a != b
    assert "cdma" in b[0] and "rpu_spec" in b[0] and "mgd.eta = 0.5" in b[1]
    assert "network.cost = cross_entropy" in a[1]


def test_log_time_axis_is_chosen_when_learning_is_early():
    from hwsim.analysis.plots import early_learning

    t = range(0, 101)
    fast = [{"hardware_time_s": float(k), "train_cost": 1.0 if k == 0 else 0.01} for k in t]
    slow = [{"hardware_time_s": float(k), "train_cost": 1.0 - k / 200} for k in t]
    assert early_learning(fast) and not early_learning(slow)


def test_summary_is_written_when_the_final_checkpoint_fails_without_an_oserror(tmp_path,
                                                                             monkeypatch):
    """A newcomer's 22M-parameter run, interrupted, ended with no summary.json: whatever stops
    the final checkpoint (here MemoryError), summary.json still says what happened."""
    import json

    real = MGDTrainer._save_checkpoint
    calls = []

    def save(self):
        calls.append(1)
        if len(calls) > 1:  # the step-0 checkpoint works, the final one does not
            raise MemoryError("no room for the state's copy")
        return real(self)

    monkeypatch.setattr(MGDTrainer, "_save_checkpoint", save)
    out = tmp_path / "r"
    with pytest.raises(MemoryError):
        run_experiment(load_config(EXAMPLES / "xor.toml", ["sim.steps=500"]), out)
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "failed" and "final checkpoint was not written" in s["message"]


def test_a_zip_of_foreign_arrays_is_not_an_hwsim_checkpoint(tmp_path):
    import numpy as np

    np.savez(tmp_path / "checkpoint.npz", a=np.zeros(3))
    with pytest.raises(HwsimError, match="damaged or not an hwsim checkpoint"):
        runs.load_checkpoint(tmp_path / "checkpoint.npz")


def test_plot_time_axis_is_a_config_key(tmp_path):
    """issue 8, fault 8: a log-time axis option, reachable from the config and --set."""
    from hwsim.cli import main
    from PIL import Image  # matplotlib depends on Pillow

    sizes = {}
    for axis in ("linear", "log"):
        out = tmp_path / axis
        assert main(["run", "examples/xor.toml", "--quiet", "--out", str(out), "--set",
                     "sim.steps=2000", "--set", f"sim.plot_time_axis={axis}"]) == 0
        sizes[axis] = Image.open(out / "learning_curve.png").tobytes()
    assert sizes["linear"] != sizes["log"]
