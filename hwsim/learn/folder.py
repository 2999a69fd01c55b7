"""The run folder of one MGD run: refuse unusable folders, claim and lock, replace, release.

Mixed into :class:`hwsim.learn.trainer.MGDTrainer` (it sets ``out_dir`` and ``force``).
The lock is an OS file lock (filelock) that dies with the process, so a crashed run never
leaves a folder locked; see docs/reliability.md for the guarantees.
"""

from pathlib import Path

import filelock

from hwsim.exceptions import HwsimError
from hwsim.runs import (
    CHECKPOINT_NAME, CONFIG_NAME, CURVE_NAME, DEVICE_NAME, METRICS_NAME, SUMMARY_NAME,
    probe_writable, read_summary, write_error,
)

__all__ = ["RunFolderMixin"]


class RunFolderMixin:
    """Folder handling of a trainer with ``out_dir`` (path or None) and ``force`` (bool)."""

    _RUN_FILES = (CONFIG_NAME, METRICS_NAME, SUMMARY_NAME, CHECKPOINT_NAME, DEVICE_NAME, CURVE_NAME)

    def _check_folder(self, resume):
        """Refuse unusable folders before any work; writes nothing."""
        if self.out_dir is None:
            return None
        out = Path(self.out_dir)
        if resume:
            if not (out / CHECKPOINT_NAME).exists():
                raise HwsimError(f"{out}: no {CHECKPOINT_NAME} to resume from")
            return out
        if out.exists() and not out.is_dir():
            raise HwsimError(f"{out}: exists and is not a folder; choose another output "
                             "folder")
        if (out / "sweep.json").exists() or (out / "results.csv").exists():
            raise HwsimError(f"{out}: is a sweep folder (it holds sweep.json or results.csv); "
                             "a run there would be mixed with the sweep's files: choose another "
                             "output folder")
        if out.is_dir() and not self.force and any((out / f).exists() for f in self._RUN_FILES):
            raise HwsimError(f"{out}: already holds a run (or a {CONFIG_NAME}); choose another "
                             "output folder, resume it, or replace it with force=True (the "
                             "CLI's --force)")
        return out

    def _claim_folder(self, out):
        """Before the slow compile: create the folder, prove it writable, take its lock.

        Writes no run file (the probe file is removed), so a run that fails or is interrupted
        later still leaves an existing folder as it was; folders created here are removed by
        :meth:`_release_folder` if the run never wrote into them.
        """
        self._created = []
        try:
            for d in reversed([out, *out.parents]):
                if not d.exists():
                    d.mkdir()
                    self._created.append(d)
        except OSError as e:
            self._release_folder()
            raise HwsimError(f"{out}: cannot create the run folder: {e.strerror or e}") from e
        try:
            probe_writable(out)
        except HwsimError:
            self._release_folder()
            raise
        # filelock: an OS lock (flock on POSIX, msvcrt on Windows) that dies with the process,
        # so a crashed run never leaves the folder locked.
        self._lock = filelock.FileLock(out / ".hwsim.lock", timeout=0)
        try:
            self._lock.acquire()
        except filelock.Timeout:
            self._lock = None
            self._release_folder()
            raise HwsimError(f"{out}: another hwsim run is using this folder") from None

    def _open_folder(self, out, resume):
        """On a forced new run, remove the old run's files (the folder is already locked)."""
        self._created = []  # from here on the folder holds this run
        if not resume:
            try:
                for f in self._RUN_FILES:
                    (out / f).unlink(missing_ok=True)
            except OSError as e:
                raise HwsimError(f"{out}: cannot replace the old run: {e.strerror or e}") from e

    def _release_folder(self):
        if getattr(self, "_lock", None) is not None:
            self._lock.release()
            if getattr(self, "_created", None):
                Path(self._lock.lock_file).unlink(missing_ok=True)
            self._lock = None
        for d in reversed(getattr(self, "_created", None) or []):
            try:
                d.rmdir()
            except OSError:
                break  # not empty: someone else put something there
        self._created = []

    def _check_resumable(self, out, cfg, start):
        """Refuse a resume that would do nothing, or repeat a divergence."""
        prev = read_summary(out / SUMMARY_NAME)
        total = cfg.sim.total_steps()
        if prev.get("status") == "diverged":
            raise HwsimError(f"{out}: the run diverged at step {prev.get('steps')} "
                             f"({prev.get('message')}); resuming would diverge again: start a "
                             "new run with other settings")
        if prev.get("status") == "target_reached" and cfg.sim.stop_at_target:
            raise HwsimError(f"{out}: the run already reached its target at step "
                             f"{prev.get('steps')}; override sim.stop_at_target=false (and a "
                             "larger sim.steps) to continue it")
        if start >= total:
            raise HwsimError(f"{out}: the run is already at step {start}; nothing to resume "
                             f"(the run ends at step {total}: extend it by overriding "
                             "sim.steps=N)")
        return prev


    def _folder_error(self, exc, out):
        """The one-line error for a failed write, saying whether the run can be resumed."""
        err = write_error(getattr(exc, "filename", None) or out, exc)
        if out is not None and (Path(out) / CHECKPOINT_NAME).exists():
            hint = f"; the run can be resumed once there is room: hwsim run --resume {out}"
        else:
            hint = "; nothing to resume yet: start the run again once there is room"
        return type(err)(str(err) + hint)
