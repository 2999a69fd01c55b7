"""The sweep driver: expand a sweep, skip finished runs, farm out the rest, keep results.csv.

The sweep folder holds ``sweep.toml`` (a copy of the sweep file), ``sweep.json`` (the
sweep's identity: the hash of every run id, the sweep file's and the base config's hashes,
the run list), ``results.csv`` and ``runs/<run_id>/`` (one run folder per run, named by
the hash of its resolved config and seed, never by its position). Re-running a sweep
resumes it: runs whose folder holds ``result.json`` are skipped, every other run (never
started, or in flight when the driver or a worker died) is run from scratch. A folder of a
different sweep (its base config or its axes changed, so the runs differ) is refused.
"""

import concurrent.futures as cf
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import filelock

from hwsim import __version__
from hwsim.exceptions import HwsimError
from hwsim.runs import atomic_write_bytes
from hwsim.sweep.executors import (
    check_executor_args, describe_executor, open_executor, sigterm_as_interrupt, stop_workers,
)
from hwsim.sweep.results import RESULTS_NAME, write_results
from hwsim.sweep.spec import SweepSpec, load_sweep
from hwsim.sweep.tasks import make_tasks, one_line, read_result, run_task

__all__ = ["SweepOutcome", "run_sweep", "sweep_identity", "SPEC_COPY", "STATE_NAME"]

SPEC_COPY = "sweep.toml"
STATE_NAME = "sweep.json"
LOCK_NAME = ".sweep.lock"


@dataclass
class SweepOutcome:
    """What one ``run_sweep`` call did.

    Attributes
    ----------
    out : Path
        The sweep folder.
    total, skipped, ran, failed : int
        Runs in the sweep, found finished and skipped, run now, and ended "failed" (raised,
        or lost with their worker) among all.
    results : list of dict
        Every run's result, sorted by (point, replicate).
    """

    out: Path
    total: int
    skipped: int
    ran: int
    failed: int
    results: list


def sweep_identity(spec: SweepSpec, tasks: list[dict]) -> dict:
    """The record that says which sweep a folder holds (``sweep.json``).

    ``sweep_sha256`` hashes the swept keys and every (point, replicate, run id): two sweep
    files that expand to the same runs (differing only in comments, say) are one sweep.
    """
    runs = [[t["point"], t["replicate"], t["run_id"]] for t in tasks]
    ident = json.dumps({"axes": list(spec.axes), "runs": runs}, sort_keys=True)
    base_text = json.dumps(spec.base.to_dict(), sort_keys=True)
    return {
        "sweep_sha256": hashlib.sha256(ident.encode()).hexdigest(),
        "spec_sha256": spec.spec_sha256,
        "base_config_sha256": hashlib.sha256(base_text.encode()).hexdigest(),
        "spec": str(spec.path),
        "base": str(spec.base_path),
        "name": spec.name,
        "axes": list(spec.axes),
        "replicates": spec.replicates,
        "runs": runs,
        "hwsim_version": __version__,
    }


def _check_same_sweep(out: Path, ident: dict) -> None:
    path = out / STATE_NAME
    if not path.is_file():
        if any((out / "runs").glob("*")) if (out / "runs").is_dir() else False:
            raise HwsimError(f"{out}: holds run folders but no {STATE_NAME}; not a sweep "
                             "folder: give another --out")
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise HwsimError(f"{path}: unreadable ({e}); give another --out") from None
    if old.get("sweep_sha256") == ident["sweep_sha256"]:
        return
    if old.get("base_config_sha256") != ident["base_config_sha256"]:
        why = f"its base config differs from {ident['base']} now"
    elif old.get("axes") != ident["axes"] or old.get("spec_sha256") != ident["spec_sha256"]:
        why = "its axes, points or replicates differ from the sweep file's now"
    else:
        why = "its runs differ (a device profile file changed?)"
    raise HwsimError(f"{out}: holds a different sweep ({why}); its results would be mixed with "
                     "this one's: give another --out, or delete the folder to start over")


def run_sweep(sweep_file, out=None, *, workers=None, scheduler=None, dask_local=None,
              progress=True) -> SweepOutcome:
    """Run (or resume) a sweep and write its folder.

    Parameters
    ----------
    sweep_file : path
        The sweep TOML (docs/sweeps.md).
    out : path, optional
        Sweep folder (default ``runs/<sweep name>``).
    workers, scheduler, dask_local
        The executor (:func:`hwsim.sweep.executors.open_executor`).
    progress : bool
        A tqdm progress bar over runs on stderr, with an ETA.

    Returns
    -------
    SweepOutcome

    Raises
    ------
    ConfigError
        A bad sweep file, base config or point (before anything is written).
    HwsimError
        The folder holds a different sweep, another driver is running it, or the executor
        cannot start.
    """
    check_executor_args(workers, scheduler, dask_local)
    spec = load_sweep(sweep_file)
    out = Path(out) if out is not None else Path("runs") / spec.name
    runs_dir = (out / "runs").resolve()
    tasks = make_tasks(spec, runs_dir)
    if len({t["run_id"] for t in tasks}) != len(tasks):
        raise HwsimError(f"{spec.path}: two points make the same run (a repeated value?); "
                         "each run must differ")
    ident = sweep_identity(spec, tasks)
    out.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(out / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise HwsimError(f"{out}: another hwsim sweep is running in this folder") from None
    try:
        _check_same_sweep(out, ident)
        runs_dir.mkdir(exist_ok=True)
        atomic_write_bytes(out / SPEC_COPY, spec.text)
        atomic_write_bytes(out / STATE_NAME, json.dumps(ident, indent=1).encode())
        return _drive(spec, out, tasks, workers, scheduler, dask_local, progress)
    finally:
        lock.release()


def _check_same_data(out: Path, finished) -> None:
    """Refuse to add runs to a sweep whose finished runs trained on dataset files that have
    changed since (case W2: a sweep is never mixed)."""
    seen = {}
    for res in finished:
        for f in ((res.get("summary") or {}).get("dataset") or {}).get("files") or []:
            path, digest = f.get("path"), f.get("sha256")
            if not path or path in seen:
                continue
            try:
                h = hashlib.sha256()
                with open(path, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
                seen[path] = h.hexdigest()
            except OSError:
                seen[path] = None
            if seen[path] != digest:
                why = "is gone" if seen[path] is None else "changed"
                raise HwsimError(f"{out}: dataset file {path} {why} since run {res['run_id']} "
                                 "of this sweep trained on it; its results would be mixed "
                                 "with this data's: give another --out, or restore the file")


def _record(fut, t, results) -> None:
    """Store a finished task's result (a lost worker is a failed run, named as such)."""
    try:
        res = fut.result()
    except Exception as e:  # the worker died, or the executor broke
        res = {key: t[key] for key in ("run_id", "point", "replicate", "seed", "values")}
        res.update(status="failed", error="worker lost: " + one_line(e), wall_s=None,
                   summary={})
    results[t["run_id"]] = res


def _drive(spec, out, tasks, workers, scheduler, dask_local, progress) -> SweepOutcome:
    results, pending = {}, []
    for t in tasks:
        done = read_result(t["run_dir"])
        if done is not None and done.get("run_id") == t["run_id"]:
            results[t["run_id"]] = done
        else:
            pending.append(t)
    _check_same_data(out, results.values())
    skipped = len(results)
    path = out / RESULTS_NAME
    write_results(path, results.values(), spec.axes)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        print(f"hwsim sweep: {len(tasks)} runs ({skipped} finished before), "
              f"{describe_executor(workers, scheduler, dask_local)}; folder {out}",
              file=sys.stderr, flush=True)
        bar = tqdm(total=len(tasks), initial=skipped, unit="run", dynamic_ncols=True,
                   desc="sweep")
    try:
        if pending:
            with sigterm_as_interrupt(), open_executor(workers, scheduler, dask_local) as ex:
                futures = {}
                try:
                    futures.update((ex.submit(run_task, t), t) for t in pending)
                    for fut in cf.as_completed(futures):
                        _record(fut, futures[fut], results)
                        write_results(path, results.values(), spec.axes)
                        if bar is not None:
                            last = results[futures[fut]["run_id"]]["status"]
                            bar.update(1)
                            bar.set_postfix_str(f"last: {last}", refresh=False)
                except KeyboardInterrupt:
                    # Start nothing more; keep every run that finished (runs in flight have no
                    # result.json and are redone on resume).
                    for fut in futures:
                        fut.cancel()
                    try:
                        ex.shutdown(wait=False, cancel_futures=True)
                    except TypeError:  # an executor without cancel_futures (Dask's)
                        ex.shutdown(wait=False)
                    stop_workers(ex)  # runs in flight are redone on resume
                    for fut, t in futures.items():
                        if fut.done() and not fut.cancelled() and fut.exception() is None:
                            results[t["run_id"]] = fut.result()
                    write_results(path, results.values(), spec.axes)
                    raise KeyboardInterrupt(
                        f"sweep interrupted: {len(results)} of {len(tasks)} runs finished, in "
                        f"{path}; run the same hwsim sweep command again to resume") from None
    finally:
        if bar is not None:
            bar.close()
    ordered = sorted(results.values(), key=lambda r: (r["point"], r["replicate"]))
    failed = sum(r["status"] == "failed" for r in ordered)
    return SweepOutcome(out=out, total=len(tasks), skipped=skipped, ran=len(pending),
                        failed=failed, results=ordered)
