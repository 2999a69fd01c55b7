"""Run folders: atomic files, streamed metrics, summaries and checkpoints.

Nothing is ever half-written under its final name: whole files are written to a temporary
name in the same folder, flushed, fsynced and renamed (``os.replace`` is atomic on POSIX and
Windows). ``metrics.csv`` is appended one flushed row per evaluation tick, so an interrupted
run keeps every row it measured; a torn last line (no trailing newline) is dropped when read.

Every write goes through :func:`atomic_write_bytes` or :class:`MetricsWriter`, and every
failure of either is one :class:`WriteError` naming the file and the cause, so a full disk
reads the same wherever it strikes.
"""

import csv
import errno
import io
import json
import math
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hwsim.chip.chip import COUNTER_COLUMNS
from hwsim.exceptions import HwsimError

# The columns of 0.1.0 first (their bytes are unchanged), then the event counters.
METRICS_COLUMNS = (
    "step", "hardware_time_s", "updates", "pulses", "clipped_writes", "train_cost",
    "train_accuracy", "test_cost", "test_accuracy",
) + COUNTER_COLUMNS
INT_COLUMNS = ("step", "updates", "pulses", "clipped_writes", "epoch") + COUNTER_COLUMNS
CONFIG_NAME = "config.toml"
METRICS_NAME = "metrics.csv"
SUMMARY_NAME = "summary.json"
CHECKPOINT_NAME = "checkpoint.npz"
CURVE_NAME = "learning_curve.png"
DEVICE_NAME = "device.toml"

#: Keys of metrics.csv and summary.json holding the hardware time t = n·dt (s). They are
#: written rounded to 15 significant digits (:func:`clean_time`), so 3 steps of dt = 0.1 s
#: read 0.3, not the binary product 0.30000000000000004; the run computes with the product.
TIME_KEYS = frozenset({"hardware_time_s", "time_to_target_s"})

#: Layout version of checkpoint.npz. Version 1 (hwsim 0.1.0 before this key existed) stored
#: no version; bump this whenever the chip state's arrays change name, shape or meaning.
CHECKPOINT_SCHEMA = 2


class WriteError(HwsimError, OSError):
    """A run-folder file could not be written; the message names the file and the cause.

    An ``OSError`` too, so code that handles I/O failures generically still catches it. It is
    built from its message alone, because SimPy re-creates an exception raised inside a
    timeline process from its ``args``.
    """


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> one level with dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``): a
    config as ``--set`` spells its keys."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _cause(exc) -> str:
    if getattr(exc, "errno", None) == errno.ENOSPC:
        return "disk full (no space left on device)"
    if getattr(exc, "errno", None) == errno.EDQUOT:
        return "disk quota exceeded"
    return exc.strerror or str(exc) or type(exc).__name__


def write_error(path, exc) -> WriteError:
    """The one error for a failed write of ``path``: file, cause, and that older files survive.

    Parameters
    ----------
    path : path
        The file that was being written.
    exc : OSError
        What the operating system said.

    Returns
    -------
    WriteError
    """
    if isinstance(exc, WriteError):
        return exc
    return WriteError(f"{path}: cannot write the run folder: {_cause(exc)}; the previous files "
                      "are intact")


def _open_new(tmp):
    # O_EXCL on a random name: never follows or reuses a file someone else made. Mode 0o666
    # lets the kernel apply the user's umask, like any ordinary file (mkstemp forces 0600).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(tmp, flags, 0o666)


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and rename; the old file survives failures.

    Parameters
    ----------
    path : path
    data : bytes

    Raises
    ------
    WriteError
        On any ``OSError`` (full disk, read-only folder, ...); the temporary file is removed
        and the previous ``path``, if any, is untouched.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        fd = _open_new(tmp)
    except OSError as e:
        raise write_error(path, e) from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError):
            raise write_error(path, e) from e
        raise


def probe_writable(folder) -> None:
    """Create and remove one temporary file in ``folder``, to learn early that writes work.

    Raises
    ------
    WriteError
        The folder cannot be written (read-only file system, permissions, full disk).
    """
    tmp = Path(folder) / f".hwsim-probe.{secrets.token_hex(6)}.tmp"
    try:
        os.close(_open_new(tmp))
        os.unlink(tmp)
    except OSError as e:
        raise WriteError(f"{folder}: cannot write the run folder: {_cause(e)}") from e


def clean_time(t):
    """A hardware time as written to a run folder: rounded to 15 significant digits.

    Parameters
    ----------
    t : float, int or None
        Seconds (n·dt); anything but a finite float is returned unchanged.

    Returns
    -------
    float
        The shortest decimal within 15 digits, ``float(f"{t:.15g}")``: n·dt for a decimal
        dt loses the binary noise of the product (0.30000000000000004 → 0.3) and keeps
        every digit a 15-digit dt and step count define. Idempotent.
    """
    if isinstance(t, (float, np.floating)) and math.isfinite(t):
        return float(f"{float(t):.15g}")
    return t


def write_json(path, obj) -> None:
    """Atomically write ``obj`` as indented JSON (NaN written as null; the hardware times of
    :data:`TIME_KEYS` rounded by :func:`clean_time`).

    Raises
    ------
    WriteError
    """
    def clean(v):
        if isinstance(v, float) and not np.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(clean_time(x) if k in TIME_KEYS else x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, (np.integer,)):
            return int(v)
        if isinstance(v, (np.floating,)):
            return clean(float(v))
        return v
    atomic_write_bytes(path, (json.dumps(clean(obj), indent=2) + "\n").encode("utf-8"))


def save_checkpoint(path, arrays: dict) -> None:
    """Atomically write named arrays as an ``.npz`` with ``schema_version`` added.

    Parameters
    ----------
    path : path
    arrays : dict of str to array
        Plain (non-object) arrays only: checkpoints are read without pickle.

    Raises
    ------
    WriteError
    """
    buf = io.BytesIO()
    np.savez(buf, **arrays, schema_version=np.array(CHECKPOINT_SCHEMA, dtype=np.int64))
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (``allow_pickle=False``).

    Parameters
    ----------
    path : path

    Returns
    -------
    dict of str to ndarray
        The arrays, without ``schema_version``.

    Raises
    ------
    HwsimError
        The file is missing or unreadable, is not an ``.npz`` of plain arrays (truncated,
        another format, object arrays), or has a schema version other than
        :data:`CHECKPOINT_SCHEMA`.
    """
    path = Path(path)
    damaged = f"{path.parent}: {path.name} is damaged or not an hwsim checkpoint"
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (FileNotFoundError, PermissionError, IsADirectoryError) as e:
        raise HwsimError(f"{path}: cannot read checkpoint: {e.strerror or e}") from e
    except Exception as e:
        # Truncation gives BadZipFile, a corrupt member zlib.error or EOFError, and np.load
        # unpickles anything that is not .npy/.npz, so a foreign file reports "pickled data":
        # all of them mean the same thing to the user.
        raise HwsimError(damaged) from e
    if not isinstance(arrays, dict):
        raise HwsimError(damaged)  # a bare .npy
    version = arrays.pop("schema_version", None)
    if version is None and "config_sha256" not in arrays:
        raise HwsimError(damaged)  # plain arrays, but not a checkpoint of any hwsim version
    try:
        version = 1 if version is None else int(version)
    except (TypeError, ValueError):
        raise HwsimError(damaged) from None
    if version != CHECKPOINT_SCHEMA:
        raise HwsimError(f"{path.parent}: {path.name} has checkpoint schema version {version}; "
                         f"this hwsim reads version {CHECKPOINT_SCHEMA}: continue it with the "
                         "hwsim that wrote it, or start a new run")
    return arrays


def _fmt(v, column: str = "") -> str:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if column in TIME_KEYS:
        v = clean_time(v)
    return repr(float(v))  # shortest repr that round-trips exactly


class MetricsWriter:
    """Append-only ``metrics.csv``: one flushed row per evaluation tick.

    Parameters
    ----------
    path : path
    keep_rows : list of dict, optional
        Rewrite the file to exactly these rows first (a resume keeps what it replays over).
    columns : tuple of str
        The header and the keys written from each row (default :data:`METRICS_COLUMNS`;
        gradient diagnostics append theirs, a backprop run writes fewer).

    Raises
    ------
    WriteError
        From the constructor, :meth:`write` and :meth:`close`, on any ``OSError``.
    """

    def __init__(self, path, *, keep_rows=None, columns=METRICS_COLUMNS):
        self.path = Path(path)
        self.columns = tuple(columns)
        if keep_rows is None or not self.path.exists():
            keep_rows = keep_rows or []
        text = ",".join(self.columns) + "\n" + "".join(
            ",".join(_fmt(r[c], c) for c in self.columns) + "\n" for r in keep_rows)
        atomic_write_bytes(self.path, text.encode("utf-8"))
        try:
            self._f = open(self.path, "a", encoding="utf-8", newline="")
        except OSError as e:
            raise write_error(self.path, e) from e

    def write(self, row: dict) -> None:
        """Append one row (a dict over the writer's columns) and flush it to the OS."""
        try:
            self._f.write(",".join(_fmt(row[c], c) for c in self.columns) + "\n")
            self._f.flush()
        except OSError as e:
            raise write_error(self.path, e) from e

    def close(self) -> None:
        """Flush, fsync and close the file (idempotent)."""
        if self._f.closed:
            return
        try:
            self._f.flush()
            os.fsync(self._f.fileno())
        except OSError as e:
            raise write_error(self.path, e) from e
        finally:
            try:
                self._f.close()
            except OSError:
                pass  # the flush above already failed and said why


def read_metrics(path) -> list:
    """Rows of a ``metrics.csv`` as dicts (ints for step/updates, floats otherwise).

    A torn last line (a crash mid-write: no trailing newline or wrong field count) is dropped.
    """
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    complete = lines[:-1]  # the part after the last newline is torn or empty
    rows = []
    reader = csv.DictReader(complete)
    for r in reader:
        if None in r or any(v is None for v in r.values()):
            continue
        try:
            rows.append({k: (int(v) if k in INT_COLUMNS else float(v)) for k, v in r.items()})
        except ValueError:
            continue
    return rows


def read_summary(path) -> dict:
    """The ``summary.json`` of a run folder, for a resume: {} when there is none.

    A resume adds its segment to the totals the summary holds (``wall_s``), so a file that
    exists but cannot be read is refused rather than taken as empty.

    Parameters
    ----------
    path : path
        The summary file.

    Returns
    -------
    dict
        The summary, or {} when the file does not exist (a run stopped before writing it).

    Raises
    ------
    HwsimError
        One line naming the file: unreadable, not UTF-8 JSON, or not a JSON object.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        cause = getattr(e, "strerror", None) or e
        raise HwsimError(f"{path}: cannot read the run's summary ({cause}); it holds the run's "
                         "totals (wall_s): restore it, or delete it to resume without them") \
            from None
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise HwsimError(f"{path}: corrupt summary, not JSON ({e}); it holds the run's totals "
                         "(wall_s): restore it, or delete it to resume without them") from None
    if not isinstance(obj, dict):
        raise HwsimError(f"{path}: corrupt summary, a JSON {type(obj).__name__} instead of an "
                         "object; restore it, or delete it to resume without its totals")
    return obj


def target_hit(rows, target):
    """The first metrics row whose test accuracy reaches ``target``, or None."""
    return next((r for r in rows if r["test_accuracy"] >= target), None)


def curve_summary(rows, target) -> dict:
    """The summary.json fields every run folder shares, from its metrics rows (dicts, as
    :func:`read_metrics` returns): final and best test accuracy, final costs, the target and
    the step that first reached it (None where there are no rows or no hit)."""
    acc = [r["test_accuracy"] for r in rows]
    hit = target_hit(rows, target)
    return {
        "final_test_accuracy": acc[-1] if acc else None,
        "best_test_accuracy": max(acc) if acc else None,
        "final_train_cost": rows[-1]["train_cost"] if rows else None,
        "final_test_cost": rows[-1]["test_cost"] if rows else None,
        "target_accuracy": target,
        "steps_to_target": hit["step"] if hit else None,
    }

