"""Sweep tasks: run ids, derived seeds, and the function a worker runs for one task.

A task is plain data (a dict of JSON types: the resolved config, the seed, the run folder),
so any executor can ship it to any process or machine. The worker writes its run folder
itself and, as its very last act, ``result.json`` (atomically): a folder with
``result.json`` is finished, a folder without it was in flight when its worker or driver
died, and is redone from scratch.
"""

import hashlib
import json
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import tomli_w

from hwsim.chip.profiles import load_profile, profile_to_toml
from hwsim.config import RunConfig
from hwsim.exceptions import DivergenceError, HwsimWarning
from hwsim.experiment import run_experiment
from hwsim.runs import SUMMARY_NAME, atomic_write_bytes

__all__ = ["RESULT_NAME", "config_hash", "derive_seed", "make_tasks", "run_task", "read_result",
           "one_line"]

#: Written last into a finished run folder: the task's result (status, error, wall_s, summary).
RESULT_NAME = "result.json"


def config_hash(cfg: RunConfig) -> str:
    """SHA-256 (hex) of a resolved config and of the resolved device profile it names.

    The profile's full text is hashed too (every parameter, after ``chip.device_set``), so
    editing a profile file makes different runs, never a silent mix.

    Parameters
    ----------
    cfg : RunConfig

    Returns
    -------
    str
        64 hex digits.
    """
    profile = load_profile(cfg.chip.device, cfg.chip.device_set)
    text = tomli_w.dumps(cfg.to_dict()) + profile_to_toml(profile, resolved=True)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def derive_seed(base_seed: int, point_hash: str, replicate: int) -> int:
    """The seed of one replicate of one point: SHA-256 of the base seed, the point's config
    hash and the replicate number, cut to 63 bits (a valid ``seed``).

    Parameters
    ----------
    base_seed : int
        The base config's ``seed``.
    point_hash : str
        :func:`config_hash` of the point's config (with the base seed).
    replicate : int
        0 .. replicates − 1.

    Returns
    -------
    int
        In [0, 2**63).
    """
    text = f"hwsim-sweep-seed:{base_seed}:{point_hash}:{replicate}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") >> 1


def make_tasks(spec, runs_dir: Path) -> list[dict]:
    """Expand a sweep into one task per (point, replicate), in order.

    With ``seed`` swept, each point's seed is used as given; otherwise every replicate's seed
    is :func:`derive_seed` of the base seed, the point's hash and the replicate number.

    Parameters
    ----------
    spec : hwsim.sweep.spec.SweepSpec
    runs_dir : Path
        Folder holding the run folders ``<run_id>``.

    Returns
    -------
    list of dict
        Keys ``run_id`` (first 16 hex digits of :func:`config_hash` of the run's config,
        seed included), ``point``, ``replicate``, ``seed``, ``values`` (the swept values),
        ``config`` (the resolved config as a dict) and ``run_dir`` (a string).
    """
    tasks = []
    for i, values in enumerate(spec.points):
        cfg = spec.base.with_overrides(values, source=f"{spec.path}: point {i}")
        point_hash = config_hash(cfg)
        for r in range(spec.replicates):
            run_cfg = cfg if "seed" in values else cfg.with_overrides(
                {"seed": derive_seed(spec.base.seed, point_hash, r)})
            run_id = config_hash(run_cfg)[:16]
            tasks.append({"run_id": run_id, "point": i, "replicate": r, "seed": run_cfg.seed,
                          "values": dict(values), "config": run_cfg.to_dict(),
                          "run_dir": str(runs_dir / run_id)})
    return tasks


def one_line(exc: BaseException) -> str:
    """``"Type: message"`` on one line (newlines folded), for results.csv's error column."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_result(run_dir: str | Path) -> dict | None:
    """The ``result.json`` of a finished run folder, or None when the run is not finished."""
    path = Path(run_dir) / RESULT_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _read_summary(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / SUMMARY_NAME).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def run_task(task: dict) -> dict:
    """Run one sweep task in this process and write its run folder; never raises for a run
    that fails or diverges (the error is in the result).

    A folder that already holds ``result.json`` is returned as is (the task was finished,
    e.g. by a worker that died just after); any other existing folder is the remains of a
    run in flight when its worker or driver died, and is deleted and redone from scratch.

    Parameters
    ----------
    task : dict
        As :func:`make_tasks` builds it.

    Returns
    -------
    dict
        ``run_id``, ``point``, ``replicate``, ``seed``, ``values``, ``status`` (the summary's
        status, or "failed" when the run raised), ``error`` (one line, "" if none),
        ``wall_s`` (seconds in this function) and ``summary`` (summary.json, {} if none).
        The same dict is in ``<run_dir>/result.json``.

    Raises
    ------
    KeyboardInterrupt
        Passed on: the run is left unfinished (no result.json) and is redone on resume.
    """
    run_dir = Path(task["run_dir"])
    done = read_result(run_dir)
    if done is not None:
        return done
    if run_dir.exists():
        shutil.rmtree(run_dir)
    t0 = time.perf_counter()
    error, summary = "", {}
    try:
        cfg = RunConfig.from_dict(task["config"], source=f"{run_dir} (sweep task)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HwsimWarning)  # they are in summary.json
            trainer = run_experiment(cfg, run_dir, progress=False)
        summary = dict(trainer.summary_)
        status = summary.get("status", "completed")
        message = summary.get("message") or (
            "; ".join(summary.get("warnings") or []) if status == "unstable" else "")
        error = " ".join(str(message).split())
    except DivergenceError as e:
        summary = _read_summary(run_dir)
        status, error = "diverged", " ".join(str(e).split())
    except Exception as e:  # a failing point is recorded, and the sweep goes on
        summary = _read_summary(run_dir)
        status, error = "failed", one_line(e)
    result = {key: task[key] for key in ("run_id", "point", "replicate", "seed", "values")}
    result.update(status=status, error=error, wall_s=time.perf_counter() - t0, summary=summary)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run_dir / RESULT_NAME, json.dumps(result, indent=1).encode("utf-8"))
    return result
