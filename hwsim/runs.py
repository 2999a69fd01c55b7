"""Run folders: atomic files, streamed metrics, summaries and checkpoints.

Nothing is ever half-written under its final name: whole files are written to a temporary
name in the same folder, flushed, fsynced and renamed (``os.replace`` is atomic on POSIX).
``metrics.csv`` is appended one flushed row per evaluation tick, so an interrupted run keeps
every row it measured; a torn last line (no trailing newline) is dropped when read.
"""

import csv
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from hwsim.chip.chip import COUNTER_COLUMNS
from hwsim.exceptions import HwsimError

# The columns of 0.1.0 first (their bytes are unchanged), then the event counters.
METRICS_COLUMNS = (
    "step", "hardware_time_s", "updates", "pulses", "clipped_writes", "train_cost",
    "train_accuracy", "test_cost", "test_accuracy",
) + COUNTER_COLUMNS
INT_COLUMNS = ("step", "updates", "pulses", "clipped_writes") + COUNTER_COLUMNS
CONFIG_NAME = "config.toml"
METRICS_NAME = "metrics.csv"
SUMMARY_NAME = "summary.json"
CHECKPOINT_NAME = "checkpoint.npz"
CURVE_NAME = "learning_curve.png"
DEVICE_NAME = "device.toml"


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and rename; the old file survives any failure."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; run files are ordinary files
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json(path, obj) -> None:
    """Atomically write ``obj`` as indented JSON (NaN written as null)."""
    def clean(v):
        if isinstance(v, float) and not np.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (np.integer,)):
            return int(v)
        if isinstance(v, (np.floating,)):
            return clean(float(v))
        return v
    atomic_write_bytes(path, (json.dumps(clean(obj), indent=2) + "\n").encode("utf-8"))


def save_checkpoint(path, arrays: dict) -> None:
    """Atomically write named arrays as an ``.npz`` (plain arrays only; loaded without pickle)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (``allow_pickle=False``)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise HwsimError(f"{path}: cannot read checkpoint: {e}") from e


def _fmt(v) -> str:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return repr(float(v))  # shortest repr that round-trips exactly


class MetricsWriter:
    """Append-only ``metrics.csv``: one flushed row per evaluation tick."""

    def __init__(self, path, *, keep_rows=None):
        """Open ``path``; with ``keep_rows`` (a list of dicts), rewrite it to exactly those first."""
        self.path = Path(path)
        if keep_rows is None or not self.path.exists():
            keep_rows = keep_rows or []
        text = ",".join(METRICS_COLUMNS) + "\n" + "".join(
            ",".join(_fmt(r[c]) for c in METRICS_COLUMNS) + "\n" for r in keep_rows)
        atomic_write_bytes(self.path, text.encode("utf-8"))
        self._f = open(self.path, "a", encoding="utf-8", newline="")

    def write(self, row: dict) -> None:
        """Append one row (a dict over METRICS_COLUMNS) and flush it to the OS."""
        self._f.write(",".join(_fmt(row[c]) for c in METRICS_COLUMNS) + "\n")
        self._f.flush()

    def close(self) -> None:
        """Flush, fsync and close the file (idempotent)."""
        if not self._f.closed:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()


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
