"""Kernels are cached on disk: a second process compiles nothing, and processes that start
together on a cold cache neither crash nor disagree (issue "Engine in stages", scope 8)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
from hwsim.experiment import run_experiment
from hwsim.kernels import fast, step
run_experiment(sys.argv[1], sys.argv[2], ["sim.steps=2000", "sim.eval_every=500"])
stats = [k.stats for k in (step.run_steps, fast.run_fast)]  # whichever driver the run took
print(json.dumps({"hits": sum(sum(s.cache_hits.values()) for s in stats),
                  "misses": sum(sum(s.cache_misses.values()) for s in stats)}))
"""


def _start(cache, out):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), HWSIM_NUMBA_CACHE="1")
    return subprocess.Popen([sys.executable, "-c", PROBE, str(ROOT / "examples" / "xor.toml"),
                             str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_cold_cache_with_two_processes_then_a_warm_one(tmp_path):
    # Two concurrent cold compilers race for the same cache entries (more only add compile
    # time on a 2-core machine, not new interleavings).
    cache = tmp_path / "cache"
    procs = [_start(cache, tmp_path / f"run{i}") for i in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    metrics = {(tmp_path / f"run{i}" / "metrics.csv").read_bytes() for i in range(2)}
    assert len(metrics) == 1  # identical results whatever process compiled first
    p = _start(cache, tmp_path / "warm")
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-2000:]
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["hits"] >= 1 and stats["misses"] == 0, stats  # loaded, not compiled
    assert (tmp_path / "warm" / "metrics.csv").read_bytes() in metrics


def test_a_change_in_any_kernel_source_moves_the_cache(tmp_path):
    """Numba validates an entry against its own file only; a changed callee (a device kernel
    inside the cached step driver) must not be served stale, so the folder is keyed by every
    kernel source."""
    import shutil

    from hwsim.kernels import _config

    src = ROOT / "hwsim" / "kernels"
    copy = tmp_path / "kernels"
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = _config.sources_hash(copy)
    assert before == _config.sources_hash(src)
    (copy / "devices.py").write_text((copy / "devices.py").read_text() + "\n# changed\n")
    assert _config.sources_hash(copy) != before
    assert before in str(_config.cache_folder())
