"""results.csv of a sweep: one row per run, rewritten atomically as runs finish.

Columns, in order (the shared convention of docs/sweeps.md): ``run_id``, ``point``,
``replicate``, ``seed``, every swept key (dotted), ``status``, ``error``, ``wall_s``, then
every scalar of the run's summary.json with nested dicts flattened by dots
(``counters.macs``). Missing values are empty cells, lists are their JSON text. Rows are
sorted by (point, replicate), so the file is the same whichever executor ran the runs and
in whatever order they finished (only the timing columns differ: :data:`TIMING_COLUMNS`).
"""

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hwsim.runs import atomic_write_bytes, flatten  # noqa: F401  (flatten: results' API)

__all__ = ["RESULTS_NAME", "FIXED_COLUMNS", "TIMING_COLUMNS", "flatten", "result_rows",
           "write_results", "read_results"]

RESULTS_NAME = "results.csv"
FIXED_COLUMNS = ("run_id", "point", "replicate", "seed")
#: Wall-clock columns: the only ones that differ between executors or repeats of a sweep.
TIMING_COLUMNS = ("wall_s", "segment_wall_s", "compile_s", "steps_per_s")


def cell(v: Any) -> str:
    """One CSV cell: "" for None, JSON text for lists, repr-exact numbers, true/false."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    if isinstance(v, (list, tuple)):
        return json.dumps(list(v))
    return str(v)


def result_rows(results: Iterable[Mapping], axes: Iterable[str]) -> tuple[list[str], list[dict]]:
    """Columns and rows (cells as strings) of results.csv.

    Parameters
    ----------
    results : iterable of Mapping
        Task results (:func:`hwsim.sweep.tasks.run_task`), any order.
    axes : iterable of str
        The swept keys, in the sweep file's order.

    Returns
    -------
    (list of str, list of dict)
        Summary columns appear in the order first met over the rows sorted by (point,
        replicate); a summary key equal to a fixed column (``status``, ``seed``,
        ``wall_s``) is left to the fixed column.
    """
    results = sorted(results, key=lambda r: (r["point"], r["replicate"]))
    axes = [a for a in axes if a not in FIXED_COLUMNS]
    head = [*FIXED_COLUMNS, *axes, "status", "error", "wall_s"]
    extra: dict[str, None] = {}
    rows = []
    for r in results:
        summary = flatten(r.get("summary") or {})
        row = {c: cell(r.get(c)) for c in FIXED_COLUMNS}
        row.update({a: cell(r.get("values", {}).get(a)) for a in axes})
        row.update(status=cell(r.get("status")), error=cell(r.get("error")),
                   wall_s=cell(r.get("wall_s")))
        for k, v in summary.items():
            if k not in row:
                extra.setdefault(k)
                row[k] = cell(v)
        rows.append(row)
    return head + list(extra), rows


def write_results(path: str | Path, results: Iterable[Mapping], axes: Iterable[str]) -> None:
    """Write results.csv whole, through a temporary file and a rename (never torn).

    Parameters
    ----------
    path : path
    results : iterable of Mapping
    axes : iterable of str

    Raises
    ------
    hwsim.runs.WriteError
        The file could not be written; the previous results.csv is intact.
    """
    columns, rows = result_rows(results, axes)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


def read_results(path: str | Path) -> list[dict[str, str]]:
    """Read results.csv back as a list of {column: cell} (cells as strings)."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
