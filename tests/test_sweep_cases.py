"""Field cases W1 (a worker dies) and W2 (the driver dies), with real processes and signals."""

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from hwsim.config import RunConfig
from hwsim.sweep.results import read_results
from hwsim.sweep.tasks import RESULT_NAME, config_hash

REPO = Path(__file__).resolve().parent.parent
XOR = (REPO / "examples" / "xor.toml").read_text(encoding="utf-8")
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
TIMEOUT = 300  # generous: the machine may be loaded


def write_sweep(tmp_path, n_points, steps):
    base = tmp_path / "base.toml"
    base.write_text(XOR.replace("steps = 50_000", f"steps = {steps}"), encoding="utf-8")
    etas = ", ".join(str(0.5 + 0.1 * i) for i in range(n_points))
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'base = "base.toml"\n[grid]\n"mgd.eta" = [{etas}]\n', encoding="utf-8")
    return sweep, base


def wait_for(predicate, what, timeout=TIMEOUT):
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def finished(out):
    return sorted((out / "runs").glob(f"*/{RESULT_NAME}")) if (out / "runs").is_dir() else []


def snapshot(paths):
    return {p.parent.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in paths}


def sweep_cmd(sweep, out, *extra):
    return [sys.executable, "-m", "hwsim", "sweep", str(sweep), "--out", str(out), *extra]


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)


def test_w1_a_dask_worker_dies(tmp_path):  # case W1
    pytest.importorskip("distributed")
    dask = Path(sys.executable).parent / "dask"
    if not dask.exists():
        pytest.skip("the dask command is not installed next to this Python")
    sweep, _ = write_sweep(tmp_path, 6, steps=40_000)
    out, sched_file = tmp_path / "out", tmp_path / "scheduler.json"
    procs = []
    try:
        procs.append(subprocess.Popen(
            [str(dask), "scheduler", "--scheduler-file", str(sched_file), "--port", "0",
             "--no-dashboard"], env=ENV, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: sched_file.exists() and sched_file.stat().st_size > 0, "the scheduler")
        address = json.loads(sched_file.read_text())["address"]
        workers = [subprocess.Popen(
            [str(dask), "worker", "--scheduler-file", str(sched_file), "--nthreads", "1",
             "--no-nanny", "--no-dashboard"], env=ENV, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
        procs += workers
        driver = subprocess.Popen(sweep_cmd(sweep, out, "--scheduler", address, "--quiet"), env=ENV,
                                  start_new_session=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        procs.append(driver)
        wait_for(lambda: len(finished(out)) >= 2, "2 finished runs")
        kill_group(workers[0])  # one worker dies, in the middle of its next run
        done_before = snapshot(finished(out))
        in_flight = [d.name for d in (out / "runs").iterdir()
                     if not (d / RESULT_NAME).exists()]
        _, err = driver.communicate(timeout=TIMEOUT)
        assert driver.returncode == 0, err
        rows = read_results(out / "results.csv")
        assert len(rows) == 6
        assert len({r["run_id"] for r in rows}) == 6
        assert sorted(r["mgd.eta"] for r in rows) == sorted({r["mgd.eta"] for r in rows})
        assert [r["status"] for r in rows] == ["completed"] * 6  # the lost run was redone
        assert len(finished(out)) == 6
        assert all((out / "runs" / name / RESULT_NAME).exists() for name in in_flight)
        # the run folders finished before the kill are untouched
        after = snapshot(finished(out))
        assert {k: after[k] for k in done_before} == done_before
    finally:
        for p in procs:
            if p.poll() is None:
                kill_group(p)


def test_w2_the_driver_dies(tmp_path):  # case W2
    sweep, base = write_sweep(tmp_path, 10, steps=40_000)
    out = tmp_path / "out"
    driver = subprocess.Popen(sweep_cmd(sweep, out, "--workers", "1", "--quiet"), env=ENV,
                              start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        # 4 finished and the 5th running (its folder exists, without result.json)
        wait_for(lambda: len(finished(out)) >= 4 and len(list((out / "runs").iterdir())) >= 5,
                 "4 finished runs and 1 running")
    finally:
        kill_group(driver)  # the driver and its worker processes die at once
    done_before = snapshot(finished(out))
    assert len(done_before) == 4, "the 5th run finished before the kill; make runs longer"
    in_flight = [d for d in (out / "runs").iterdir() if not (d / RESULT_NAME).exists()]
    assert len(in_flight) == 1
    killed_at = time.time_ns()

    rerun = subprocess.run(sweep_cmd(sweep, out, "--workers", "2"),
                           env=ENV, capture_output=True, text=True, timeout=TIMEOUT)
    assert rerun.returncode == 0, rerun.stderr
    assert "10 runs (4 skipped as finished, 6 run now)" in rerun.stdout
    after = snapshot(finished(out))
    assert len(after) == 10
    assert {k: after[k] for k in done_before} == done_before  # the 4 were not run again
    new = [k for k in after if k not in done_before]
    assert len(new) == 6 and in_flight[0].name in new
    assert all(after[k][0] >= killed_at for k in new)  # exactly 6 ran after the kill
    rows = read_results(out / "results.csv")
    assert len(rows) == 10 and len({r["run_id"] for r in rows}) == 10
    # folders are named by the hash of their resolved config (seed included), not position
    for r in rows:
        run = out / "runs" / r["run_id"]
        cfg = RunConfig.from_dict(tomllib.loads((run / "config.toml").read_text()))
        assert config_hash(cfg)[:16] == r["run_id"]
        assert cfg.mgd.eta == float(r["mgd.eta"])

    # a changed base config is refused; nothing in the folder changes
    results_before = (out / "results.csv").read_bytes()
    base.write_text(base.read_text().replace("eval_every = 500", "eval_every = 250"))
    changed = subprocess.run(sweep_cmd(sweep, out, "--quiet"), env=ENV, capture_output=True, text=True,
                             timeout=TIMEOUT)
    assert changed.returncode == 2
    assert "holds a different sweep (its base config differs" in changed.stderr
    assert (out / "results.csv").read_bytes() == results_before
    assert snapshot(finished(out)) == after


def test_w2_a_changed_dataset_file_is_refused_not_mixed(tmp_path):  # case W2
    """A sweep over a dataset file: after the file changes, a re-run that would add runs on
    the new data next to runs on the old is refused, and nothing in the folder changes."""
    from hwsim.exceptions import HwsimError
    from hwsim.sweep import run_sweep
    from hwsim.sweep.tasks import RESULT_NAME

    rng = np.random.default_rng(0)
    X = rng.random((40, 4))
    np.savez(tmp_path / "d.npz", X=X, y=(X[:, 0] > 0.5).astype(np.int64))
    xor = (Path(__file__).resolve().parent.parent / "examples" / "xor.toml").read_text()
    base = xor.replace('name = "xor"', 'name = "files"\ntrain = ["d.npz"]').replace(
        "sizes = [2, 2, 1]", "sizes = [4, 3, 2]").replace("steps = 50_000", "steps = 500")
    (tmp_path / "base.toml").write_text(base, encoding="utf-8")
    sweep = tmp_path / "s.toml"
    sweep.write_text('base = "base.toml"\n[grid]\n"mgd.eta" = [0.5, 1.0]\n', encoding="utf-8")
    out = tmp_path / "out"
    first = run_sweep(sweep, out, workers=1, progress=False)
    assert first.ran == 2
    lost = out / "runs" / first.results[1]["run_id"]
    (lost / RESULT_NAME).unlink()  # a run lost when the driver died
    np.savez(tmp_path / "d.npz", X=X[::-1], y=(X[::-1, 0] > 0.5).astype(np.int64))
    before = (out / "results.csv").read_bytes()
    with pytest.raises(HwsimError, match="d.npz changed since run"):
        run_sweep(sweep, out, workers=1, progress=False)
    assert (out / "results.csv").read_bytes() == before
