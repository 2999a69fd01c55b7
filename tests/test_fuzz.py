"""Property tests over the sections added since 0.1.0 and fault injection on every writer
(issue 8): every random config is run or rejected naming its key, every injected write
failure ends in one line, and no file is ever left torn under its final name."""

import errno
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hwsim import runs
from hwsim.cli import ExitCode, main
from hwsim.config import RunConfig
from hwsim.exceptions import ConfigError, DivergenceError
from hwsim.learn.trainer import MGDTrainer
from tests.test_reliability import mostly, num

NEW_KEYS = {
    "mgd.target": mostly(st.sampled_from(["weights", "nodes"]), st.just("synapses")),
    "learn.optimizer": mostly(st.sampled_from(["plain", "momentum", "nesterov", "adam"]),
                              st.just("sgd")),
    "learn.momentum": mostly(st.floats(0.0, 0.99), num(-1, 2)),
    "learn.beta2": mostly(st.floats(0.0, 0.9999), num(-1, 2)),
    "learn.eps": mostly(st.floats(1e-12, 1.0), num(-1, 0)),
    "learn.clip": mostly(st.floats(0.0, 1.0), num(-1, -1e-9)),
    "chip.device": mostly(st.sampled_from(["ideal", "rpu_spec", "reram_es", "pcm_pair",
                                           "capacitor", "ecram_li"]), st.just("reram")),
    "chip.read_noise_model": mostly(st.sampled_from(["auto", "per_neuron", "per_weight"]),
                                    st.just("per_cell")),
    "sim.drift_every": mostly(st.integers(1, 100), st.integers(-2, 0)),
    "mgd.eta": mostly(st.floats(0, 5), num(-1, 1e8)),
    "mgd.amplitude": mostly(st.floats(1e-4, 1.0), num(-1, 0)),
    "mgd.tau_theta": mostly(st.integers(1, 20), st.integers(-2, 0)),
    "sim.dtype": mostly(st.sampled_from(["float64", "float32"]), st.just("float16")),
}


@settings(max_examples=220, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.dictionaries(st.sampled_from(sorted(NEW_KEYS)), st.none(), max_size=5).flatmap(
    lambda d: st.fixed_dictionaries({k: NEW_KEYS[k] for k in d})))
def test_random_new_sections_run_or_are_rejected_naming_the_key(over):
    d = {"task": {"name": "xor"}, "network": {"sizes": [2, 2, 1]},
         "sim": {"steps": 60, "eval_every": 20}}
    for k, v in over.items():
        sec, _, key = k.rpartition(".")
        d.setdefault(sec, {})[key] = v
    try:
        c = RunConfig.from_dict(d, source="fuzz.toml")
        t = MGDTrainer(c).run()
    except ConfigError as e:
        msg = str(e)
        assert "\n" not in msg and any(k.split(".")[-1] in msg for k in over), (over, msg)
        event("rejected")
        return
    except DivergenceError as e:
        assert "diverged at step" in str(e) or "exceeds sim.max_cost" in str(e)
        event("diverged")
        return
    assert t.summary_["steps"] == c.sim.total_steps()
    assert t.status_ in ("completed", "unstable", "target_reached")
    assert all(np.isfinite(r["train_cost"]) for r in t.metrics_)
    event(t.status_)


FILES = ("config.toml", "device.toml", "checkpoint.npz", "summary.json", "learning_curve.png",
         "metrics.csv")


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.sampled_from(FILES), st.integers(1, 4), st.integers(0, 4096),
       st.sampled_from([errno.ENOSPC, errno.EIO, errno.EROFS]))
def test_a_writer_failing_anywhere_gives_one_line_and_no_torn_file(tmp_path_factory, name,
                                                                   nth, k, code):
    out = tmp_path_factory.mktemp("run") / "r"
    seen = {"n": 0, "fired": False}
    real_fdopen, real_write = os.fdopen, runs.MetricsWriter.write

    class Torn:
        """A file that takes ``k`` bytes, then fails like a full (or broken) disk."""

        def __init__(self, f):
            self.f, self.left = f, k

        def write(self, data):
            if len(data) > self.left:
                self.f.write(data[:self.left])
                seen["fired"] = True
                raise OSError(code, os.strerror(code))
            self.left -= len(data)
            return self.f.write(data)

        def __getattr__(self, a):
            return getattr(self.f, a)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def fdopen(fd, *a, **kw):
        f = real_fdopen(fd, *a, **kw)
        if f"/.{name}." in os.readlink(f"/proc/self/fd/{fd}"):
            seen["n"] += 1
            if seen["n"] == nth:
                return Torn(f)
        return f

    def metrics_write(self, row):
        seen["n"] += 1
        if seen["n"] == nth:
            seen["fired"] = True
            raise runs.write_error(self.path, OSError(code, os.strerror(code)))
        return real_write(self, row)

    mp = pytest.MonkeyPatch()
    try:
        if name == "metrics.csv":
            mp.setattr(runs.MetricsWriter, "write", metrics_write)
        else:
            mp.setattr(runs.os, "fdopen", fdopen)
        import io
        import contextlib
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = main(["run", "examples/xor.toml", "--quiet", "--out", str(out), "--set",
                       "sim.steps=400", "--set", "sim.eval_every=50", "--set",
                       "sim.checkpoint_every=1"])
    finally:
        mp.undo()
    text = err.getvalue()
    assert "Traceback" not in text
    if seen["fired"]:
        assert rc != ExitCode.OK and len(text.strip().splitlines()) == 1, text
        assert name in text, text
        event("failed as injected")
    else:
        event("the file was shorter than k, or written fewer than nth times")
    # nothing torn under a final name: every file that exists parses
    if (out / "summary.json").exists():
        json.loads((out / "summary.json").read_text())
    if (out / "checkpoint.npz").exists():
        runs.load_checkpoint(out / "checkpoint.npz")
    if (out / "metrics.csv").exists():
        runs.read_metrics(out / "metrics.csv")
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")] if out.exists() else True
