"""MeasuredLUT: the step is read from a measured table of Δw versus w.

For users with raw pulse data: a CSV with header ``w,dw_up,dw_down`` (one row per weight
node, ``w`` strictly increasing; ``dw_up`` the mean change of one potentiation pulse at that
weight, ``dw_down`` of one depression pulse, either sign: magnitudes are used). Lines starting
with ``#`` are comments. The table is read when the parameters are validated and kept in
``lut_w``, ``lut_dw_up``, ``lut_dw_down``, so a resolved config carries the data itself.
"""

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NoReturn

from hwsim.chip.devices.base import FIXED, PulsedParams
from hwsim._schema import option

_M = ("MeasuredLUT",)
HEADER = ("w", "dw_up", "dw_down")


def read_lut_csv(path: str) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Read a measured step table.

    Parameters
    ----------
    path : str
        CSV file (UTF-8) with header ``w,dw_up,dw_down``.

    Returns
    -------
    (w, dw_up, dw_down) : tuples of float
        Columns in file order.

    Raises
    ------
    OSError
        If the file cannot be read.
    ValueError
        On a wrong header, a row without three numbers, or a non-finite value; the message
        names the line.
    """
    with open(path, encoding="utf-8") as fh:
        lines = [(n, ln.strip()) for n, ln in enumerate(fh, 1)]
    rows = [(n, ln) for n, ln in lines if ln and not ln.startswith("#")]
    if not rows or tuple(c.strip() for c in rows[0][1].split(",")) != HEADER:
        raise ValueError(f"the first line must be the header {','.join(HEADER)}")
    cols: tuple[list[float], list[float], list[float]] = ([], [], [])
    for n, ln in rows[1:]:
        parts = [c.strip() for c in ln.split(",")]
        try:
            vals = [float(c) for c in parts]
        except ValueError:
            vals = []
        if len(vals) != 3 or not all(math.isfinite(v) for v in vals):
            raise ValueError(f"line {n}: expected three finite numbers w,dw_up,dw_down, "
                             f"got {ln!r}")
        for col, v in zip(cols, vals):
            col.append(v)
    return tuple(cols[0]), tuple(cols[1]), tuple(cols[2])


@dataclass(frozen=True)
class MeasuredLUTParams(PulsedParams):
    """Measured step table: w ← w + d·|Δw_table^d(w)|·(Δw^d_ij/dw_min)·(1 + dw_min_std·ξ),
    the table linearly interpolated in w and held constant beyond its first and last node;
    the device gain and asymmetry (dw_min_dtod, up_down, up_down_dtod) scale it per device.
    Set ``dw_min`` to the typical measured step: the controller uses it to count pulses."""

    lut_file: str = option(
        "", "CSV of measured steps (header w,dw_up,dw_down), relative to the profile's "
        "folder; read when the parameters are validated unless lut_w is given.",
        unit="path", models=_M, sampled=FIXED)
    lut_w: tuple[float, ...] = option(
        (), "Weight nodes of the table, strictly increasing (filled from lut_file).",
        unit="weight units", models=_M, sampled=FIXED)
    lut_dw_up: tuple[float, ...] = option(
        (), "Measured change of one potentiation pulse at each node (magnitude used).",
        unit="weight units", models=_M, sampled=FIXED)
    lut_dw_down: tuple[float, ...] = option(
        (), "Measured change of one depression pulse at each node (magnitude used).",
        unit="weight units", models=_M, sampled=FIXED)

    def _resolve(self, fail: Callable[..., NoReturn]) -> "MeasuredLUTParams":
        super()._resolve(fail)
        obj = self
        if not self.lut_w:
            if not self.lut_file:
                fail("lut_file", "must name a CSV of measured steps (header w,dw_up,dw_down), "
                     "or give lut_w, lut_dw_up and lut_dw_down")
            try:
                w, up, down = read_lut_csv(os.fspath(self.lut_file))
            except OSError as exc:
                fail("lut_file", f"cannot read the table: {exc.strerror or exc}")
            except ValueError as exc:
                fail("lut_file", f"not a valid step table: {exc}")
            obj = replace(self, lut_w=w, lut_dw_up=up, lut_dw_down=down)
        problem = _table_problem(obj)
        if problem is not None:
            key, requirement = problem
            if obj is not self:  # the table came from the file: blame the file
                fail("lut_file", f"not a valid step table: {key} {requirement}")
            fail(key, requirement, "lut_w")
        return obj


def _table_problem(p: MeasuredLUTParams) -> tuple[str, str] | None:
    if len(p.lut_w) < 2:
        return "lut_w", "must have at least 2 nodes"
    for key in ("lut_dw_up", "lut_dw_down"):
        if len(getattr(p, key)) != len(p.lut_w):
            return key, f"must have one value per node of lut_w ({len(p.lut_w)})"
    if any(not b > a for a, b in zip(p.lut_w, p.lut_w[1:])):
        return "lut_w", "must be strictly increasing"
    for key in ("lut_dw_up", "lut_dw_down"):
        if not any(getattr(p, key)):
            return key, "must hold a step ≠ 0: with all zero no pulse moves the weight that way"
    return None
