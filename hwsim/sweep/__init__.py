"""Sweeps: many runs of one base config over axes of config keys, on local processes or Dask.

``run_sweep("sweep.toml")`` (the ``hwsim sweep`` command) expands the sweep file
(:mod:`hwsim.sweep.spec`) into tasks (:mod:`hwsim.sweep.tasks`), runs them on an executor
(:mod:`hwsim.sweep.executors`) and keeps ``results.csv`` (:mod:`hwsim.sweep.results`) as
they finish (:mod:`hwsim.sweep.driver`). See docs/sweeps.md.
"""

from hwsim.sweep.driver import SweepOutcome, run_sweep
from hwsim.sweep.spec import SweepSpec, load_sweep

__all__ = ["run_sweep", "SweepOutcome", "load_sweep", "SweepSpec"]
