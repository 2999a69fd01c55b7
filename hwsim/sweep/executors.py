"""Executors of a sweep: local processes, or a Dask cluster, behind ``concurrent.futures``.

* Local (the default): a :class:`concurrent.futures.ProcessPoolExecutor` with one process
  per core. Workers start from a ``forkserver`` that has already imported hwsim (Linux and
  macOS), else by ``spawn``: never a plain ``fork`` of the driver, whose threads (the
  progress bar's monitor, a Dask client) a forked child would inherit half-stopped. Each
  worker loads the Numba kernels once (from the on-disk cache, hwsim/kernels/_config.py)
  and keeps them for every run it is given.
* Dask: ``--scheduler tcp://HOST:PORT`` connects to a running ``dask scheduler`` (its
  workers need hwsim installed and the sweep folder on a shared file system);
  ``--dask-local N`` starts a :class:`distributed.LocalCluster` of N one-thread worker
  processes. Both through ``distributed.Client.get_executor()``, the standard
  ``concurrent.futures`` interface; Dask does the scheduling and re-runs the tasks of a
  worker that dies on the workers that remain.
"""

import multiprocessing
import os
import signal
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from collections.abc import Iterator

from hwsim.exceptions import HwsimError

__all__ = ["open_executor", "describe_executor", "check_executor_args", "stop_workers",
           "sigterm_as_interrupt"]


def _local_context():
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["hwsim.sweep.tasks"])
        return ctx
    return multiprocessing.get_context("spawn")


def describe_executor(workers: int | None = None, scheduler: str | None = None,
                      dask_local: int | None = None) -> str:
    """One line naming the executor, e.g. ``"2 local processes"``."""
    if scheduler:
        return f"Dask scheduler {scheduler}"
    if dask_local:
        return f"Dask LocalCluster of {dask_local} workers"
    n = workers or os.cpu_count() or 1
    return f"{n} local process{'es' if n != 1 else ''}"


def check_executor_args(workers: int | None = None, scheduler: str | None = None,
                        dask_local: int | None = None) -> None:
    """Refuse contradictory or impossible executor options before any work.

    Raises
    ------
    HwsimError
        Both Dask options, a worker count < 1, a scheduler address that is not
        ``tcp://HOST:PORT`` (or another Dask protocol), or Dask options without Dask.
    """
    if scheduler and dask_local:
        raise HwsimError("--scheduler and --dask-local: give one, not both")
    for flag, n in (("--workers", workers), ("--dask-local", dask_local)):
        if n is not None and n < 1:
            raise HwsimError(f"{flag} {n}: must be at least 1")
    if scheduler is not None and "://" not in scheduler:
        raise HwsimError(f"--scheduler {scheduler}: expected an address like "
                         "tcp://HOST:PORT")
    if scheduler or dask_local:
        import importlib.util
        if importlib.util.find_spec("distributed") is None:
            raise HwsimError("--scheduler and --dask-local need Dask: pip install "
                             "'hwsim[dask]' (dask[distributed])")


def stop_workers(ex: Executor, timeout: float = 10.0) -> None:
    """End the worker processes of a local pool now (SIGTERM, then join), for an interrupt.

    :meth:`Executor.shutdown` waits for the runs in flight; after Ctrl-C or SIGTERM the
    sweep redoes those on resume, so its workers are ended instead: the pool's queues and
    semaphores are then released by the driver (no "leaked semaphore" warning) and no
    worker outlives it. Dask executors are left to the client (it cancels their tasks).

    Parameters
    ----------
    ex : concurrent.futures.Executor
        The executor :func:`open_executor` yielded, already shut down with
        ``cancel_futures=True``.
    timeout : float
        Seconds to wait for each worker to exit (s).
    """
    if not isinstance(ex, ProcessPoolExecutor):
        return
    workers = multiprocessing.active_children()  # the driver's only children: the pool's
    for p in workers:
        p.terminate()
    for p in workers:
        p.join(timeout)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, a first SIGTERM raises :class:`KeyboardInterrupt` (as Ctrl-C does), so
    the sweep stops through its clean path; later ones are ignored while it cleans up.

    Outside the main thread (where signals cannot be handled) it does nothing.
    """
    seen = []

    def handler(signum, frame):
        if not seen:
            seen.append(signum)
            raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextmanager
def open_executor(workers: int | None = None, scheduler: str | None = None,
                  dask_local: int | None = None) -> Iterator[Executor]:
    """A ``concurrent.futures.Executor`` for sweep tasks; closed (and a local cluster shut
    down) on exit.

    Parameters
    ----------
    workers : int, optional
        Local processes (default: ``os.cpu_count()``). Ignored with Dask.
    scheduler : str, optional
        Address of a running Dask scheduler, ``tcp://HOST:PORT``.
    dask_local : int, optional
        Start a Dask ``LocalCluster`` of this many one-thread worker processes.

    Yields
    ------
    concurrent.futures.Executor

    Raises
    ------
    HwsimError
        Both Dask options, a worker count < 1, dask[distributed] not installed, or a
        scheduler that cannot be reached (naming the address).
    """
    check_executor_args(workers, scheduler, dask_local)
    if not (scheduler or dask_local):
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1,
                                 mp_context=_local_context()) as ex:
            yield ex
        return
    try:
        import distributed
    except ImportError:
        raise HwsimError("--scheduler and --dask-local need Dask: pip install "
                         "'hwsim[dask]' (dask[distributed])") from None
    cluster = None
    try:
        if scheduler:
            try:
                client = distributed.Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as e:
                raise HwsimError(f"--scheduler {scheduler}: cannot connect ({e})") from None
        else:
            cluster = distributed.LocalCluster(n_workers=dask_local, threads_per_worker=1,
                                               processes=True, dashboard_address=None)
            client = distributed.Client(cluster)
        try:
            yield client.get_executor(pure=False)
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
