"""Long runs never lose work: torn writes (case W3), full disks, hostile inputs, random configs."""

import errno
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

import hwsim.runs as runs
from hwsim.config import RunConfig
from hwsim.exceptions import ConfigError, DivergenceError, HwsimError
from hwsim.experiment import resume_experiment, run_experiment
from hwsim.learn import MGDTrainer
from hwsim.runs import load_checkpoint, read_metrics


def cfg(**sim):
    return RunConfig.from_dict({
        "seed": 5, "task": {"name": "parity", "bits": 3}, "network": {"sizes": [3, 6, 1]},
        "mgd": {"eta": 1.0}, "sim": {"steps": 4000, "eval_every": 250, "checkpoint_every": 2, **sim}})


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    run_experiment(cfg(), out)
    return out


def _same_run(a, b):
    assert (a / "metrics.csv").read_bytes() == (b / "metrics.csv").read_bytes()
    ca, cb = load_checkpoint(a / "checkpoint.npz"), load_checkpoint(b / "checkpoint.npz")
    assert all(np.array_equal(ca[k], cb[k]) for k in ca)


def _no_temp_files(folder):
    assert not [p for p in os.listdir(folder) if p.endswith(".tmp")]


def test_W3_atomic_write_failing_half_way_keeps_the_old_file(tmp_path, monkeypatch):  # case W3
    path = tmp_path / "summary.json"
    runs.write_json(path, {"status": "old"})

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runs.os, "fsync", full_disk)
    with pytest.raises(OSError):
        runs.write_json(path, {"status": "new", "x": list(range(10000))})
    with pytest.raises(OSError):
        runs.save_checkpoint(tmp_path / "checkpoint.npz", {"theta": np.zeros(10)})
    assert json.loads(path.read_text()) == {"status": "old"}
    assert not (tmp_path / "checkpoint.npz").exists()
    _no_temp_files(tmp_path)


def test_W3_checkpoint_fails_mid_run_then_resume_is_identical(tmp_path, monkeypatch, reference):  # case W3
    out = tmp_path / "run"
    real = runs.atomic_write_bytes
    calls = {"n": 0}

    def flaky(path, data):
        if str(path).endswith("checkpoint.npz"):
            calls["n"] += 1
            if calls["n"] == 4:  # after step 0, 500 and 1000: write half of it, then the disk is full
                with open(str(path) + ".partial.tmp", "wb") as f:
                    f.write(data[: len(data) // 2])
                os.unlink(str(path) + ".partial.tmp")
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(runs, "atomic_write_bytes", flaky)  # save_checkpoint writes through it
    with pytest.raises(HwsimError, match="cannot write the run folder"):
        run_experiment(cfg(), out)
    monkeypatch.undo()
    # the previous checkpoint still parses; metrics.csv parses
    state = load_checkpoint(out / "checkpoint.npz")
    # 500 and 1000 were checkpointed, 1500 failed half way; the best-effort save while the
    # error propagated then succeeded, so the checkpoint is the state at 1500
    assert state["clock"][0]["step"] == 1500
    assert read_metrics(out / "metrics.csv")[-1]["step"] >= 1000
    _no_temp_files(out)
    resume_experiment(out)
    _same_run(out, reference)


def test_W3_torn_metrics_line_is_dropped_on_resume(tmp_path, reference):  # case W3
    out = tmp_path / "run"
    run_experiment(cfg(steps=1500), out)
    with open(out / "metrics.csv", "a") as f:
        f.write("1750,0.00175,17")  # a crash in the middle of writing a row
    assert read_metrics(out / "metrics.csv")[-1]["step"] == 1500
    resume_experiment(out, ["sim.steps=4000"])
    _same_run(out, reference)


def test_W3_full_disk_while_writing_metrics(tmp_path, monkeypatch, reference):  # case W3
    out = tmp_path / "run"
    real_write = runs.MetricsWriter.write

    def write(self, row):
        if row["step"] == 2250:
            self._f.write("2250,0.00")  # half a row reaches the disk
            self._f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, row)

    monkeypatch.setattr(runs.MetricsWriter, "write", write)
    with pytest.raises(HwsimError, match="disk full .*can be resumed"):
        run_experiment(cfg(), out)
    monkeypatch.undo()
    assert read_metrics(out / "metrics.csv")[-1]["step"] == 2000
    _no_temp_files(out)
    resume_experiment(out)
    _same_run(out, reference)


def test_resume_refuses_an_edited_config(tmp_path):
    out = tmp_path / "run"
    run_experiment(cfg(steps=500), out)
    text = (out / "config.toml").read_text().replace("eta = 1.0", "eta = 0.5")
    (out / "config.toml").write_text(text)
    with pytest.raises(HwsimError, match="differs from the run its checkpoint"):
        resume_experiment(out, ["sim.steps=1000"])


def test_checkpoints_never_use_pickle(tmp_path):
    bad = tmp_path / "checkpoint.npz"
    np.savez(bad, theta=np.array([object()], dtype=object))
    with pytest.raises(HwsimError, match="damaged or not an hwsim checkpoint"):
        load_checkpoint(bad)


def test_network_too_large_for_memory_is_refused_before_work(tmp_path):
    c = RunConfig.from_dict({"task": {"name": "digits"},
                             "network": {"sizes": [64, 10**6, 10**6, 10]}})
    with pytest.raises(ConfigError, match=r"network.sizes = .*GiB"):
        MGDTrainer(c, out_dir=tmp_path / "r").run()


# Property test: random configs are accepted and run, or rejected naming the key -------------
def num(lo, hi):
    """Floats in [lo, hi] plus the non-finite values an untrusted file can hold."""
    return st.one_of(st.floats(lo, hi), st.sampled_from([float("nan"), float("inf"), -float("inf")]))


def mostly(valid, invalid):
    """Valid values 7 times in 8, so whole configs are often valid and both outcomes occur."""
    return st.integers(0, 7).flatmap(lambda i: invalid if i == 0 else valid)


KEYS = {
    "seed": mostly(st.integers(0, 2**63 - 1), st.integers(-5, -1) | st.integers(2**63, 2**64)),
    "task.name": mostly(st.sampled_from(["xor", "parity", "digits"]), st.sampled_from(["mnist", ""])),
    "task.bits": mostly(st.integers(1, 6), st.integers(-1, 0) | st.integers(21, 30)),
    "task.test_fraction": mostly(st.floats(0.001, 0.999), num(-0.5, 1.5)),
    # valid: hidden widths, completed with the task's input and output widths in the test
    "network.sizes": mostly(st.tuples(st.lists(st.integers(1, 12), min_size=0, max_size=2)),
                            st.lists(st.integers(-1, 3), min_size=0, max_size=3)),
    "network.activation": mostly(st.sampled_from(["sigmoid", "relu", "tanh"]), st.just("gelu")),
    "network.output_activation": mostly(st.sampled_from(["auto", "softmax", "linear", "sigmoid"]),
                                        st.just("x")),
    "network.cost": mostly(st.sampled_from(["mse", "cross_entropy"]), st.just("hinge")),
    "network.init": mostly(st.sampled_from(["xavier", "uniform"]), st.just("zeros")),
    "mgd.perturbation": mostly(st.sampled_from(["cdma", "walsh", "fdma", "tdma"]), st.just("ofdm")),
    "mgd.mode": mostly(st.sampled_from(["discrete", "analog"]), st.just("hybrid")),
    "mgd.amplitude": mostly(st.floats(1e-6, 1.0), num(-1, 0)),
    "mgd.eta": mostly(st.floats(0, 10), num(-1, 1e8)),
    "mgd.tau_p": mostly(st.integers(1, 50), st.integers(-2, 0)),
    "mgd.tau_x": mostly(st.integers(1, 50), st.integers(-2, 0)),
    "mgd.tau_theta": mostly(st.integers(1, 50), st.integers(-2, 0)),
    "mgd.tau_hp": mostly(st.floats(0.1, 100), num(-1, 0)),
    "mgd.fdma_period": mostly(st.just(0), st.integers(-1, 100)),
    "sim.dt": mostly(st.floats(1e-9, 1.0), num(-1e-3, 0)),
    "sim.steps": mostly(st.integers(0, 300), st.integers(-10, -1) | st.floats(0.1, 300)),
    "sim.eval_every": mostly(st.integers(1, 200), st.integers(-1, 0)),
    "sim.max_cost": mostly(st.floats(1e-3, 1e13), num(-1, 0)),
    "mgd.amplitud": st.floats(0, 1),  # a typo: always an error naming 'amplitude'
}


@settings(max_examples=250, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.dictionaries(st.sampled_from(sorted(KEYS)), st.none(), max_size=6).flatmap(
    lambda d: st.fixed_dictionaries({k: KEYS[k] for k in d})))
def test_random_configs_run_or_are_rejected_naming_the_key(over):
    d = {"task": {"name": "xor"}, "network": {"sizes": [2, 2, 1]}, "sim": {"steps": 50, "eval_every": 25}}
    for k, v in over.items():
        sec, _, key = k.rpartition(".")
        (d.setdefault(sec, {}) if sec else d)[key] = v
    sizes = d["network"]["sizes"]
    if isinstance(sizes, tuple):
        task = d["task"]
        n_in = {"xor": 2, "digits": 64}.get(task["name"], task.get("bits", 4))
        n_out = 10 if task["name"] == "digits" else 1
        d["network"]["sizes"] = [n_in if isinstance(n_in, int) else 4, *sizes[0], n_out]
    try:
        c = RunConfig.from_dict(d, source="fuzz.toml")
        t = MGDTrainer(c).run()
    except ConfigError as e:
        msg = str(e)
        assert msg.startswith("fuzz.toml") or msg.startswith("network.") or msg.startswith("task.") \
            or msg.startswith("mgd."), msg
        assert any(k.split(".")[-1] in msg for k in over) or "sizes" in msg, (over, msg)
        event("rejected")
        return
    except DivergenceError as e:
        assert "diverged at step" in str(e) or "exceeds sim.max_cost" in str(e)
        event("diverged")
        return
    assert t.summary_["steps"] == c.sim.total_steps()
    assert all(np.isfinite(r["train_cost"]) for r in t.metrics_)
    event("ran")
