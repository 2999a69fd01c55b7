"""Plots across runs: a metric vs a swept key, the energy-time Pareto front, learning curves.

``results.csv`` is the table of a sweep (one row per run; columns ``run_id``, ``point``,
``replicate``, ``seed``, the swept keys, ``status``, ``error``, ``wall_s``, then the
summary.json scalars flattened with dots; empty cells are missing values). Each function
returns the numbers it drew, so what a figure shows can be checked. Figures are built on an
Agg canvas (:func:`hwsim.analysis.plots.new_figure`), never through pyplot.
"""

import csv
import math
import statistics
from pathlib import Path

from hwsim.analysis.plots import new_figure, png_bytes
from hwsim.exceptions import HwsimError
from hwsim.runs import METRICS_NAME, atomic_write_bytes, read_metrics

__all__ = ["read_results", "column", "aggregate", "pareto_mask", "plot_metric", "plot_pareto",
           "plot_curves", "SPREADS", "CURVE_X"]

#: How the band around the mean is drawn: min–max over replicates, or ± one sample std.
SPREADS = ("minmax", "std")
#: x axes of learning curves: metrics.csv column for each.
CURVE_X = {"step": "step", "time": "hardware_time_s"}


def read_results(path) -> tuple:
    """Read a results.csv.

    Parameters
    ----------
    path : path

    Returns
    -------
    (list of str, list of dict)
        The columns in file order and the rows (cell text, "" for missing).

    Raises
    ------
    HwsimError
        Missing, unreadable or empty file (no header).
    """
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = [{k: (v if v is not None else "") for k, v in r.items() if k is not None}
                    for r in reader]
            cols = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError) as e:
        raise HwsimError(f"{path}: cannot read the results table ({e})") from None
    if not cols:
        raise HwsimError(f"{path}: empty results table (no header line)")
    return cols, rows


def column(cols, name, path, option) -> str:
    """``name`` if it is a column, else a one-line HwsimError naming the columns that exist."""
    if name not in cols:
        raise HwsimError(f"{path}: {option} {name}: no such column (columns: {', '.join(cols)})")
    return name


def _number(text):
    """A cell as a float, or None when empty or not a finite number."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _x_values(cells):
    """Numbers when every non-empty cell is one (sorted ascending), else text (file order)."""
    present = [c for c in cells if c != ""]
    if present and all(_number(c) is not None for c in present):
        return {c: _number(c) for c in present}, True
    return {c: c for c in present}, False


def aggregate(rows, x, y, hue=None, spread="minmax") -> dict:
    """Mean and spread of ``y`` over the rows (replicates) sharing ``x`` (and ``hue``).

    Parameters
    ----------
    rows : list of dict
        results.csv rows (cell text).
    x, y : str
        Columns; ``x`` numeric (sorted) or text (first-seen order); rows whose ``y`` is empty
        or not finite (a failed run, a target not reached) are left out and counted.
    hue : str, optional
        Column splitting the rows into separate lines.
    spread : {"minmax", "std"}
        Band: [min, max] over the replicates, or mean ± the sample standard deviation
        (n − 1 in the denominator; 0 for a single replicate).

    Returns
    -------
    dict
        ``{hue value (or "" without hue): {"x": [...], "mean": [...], "lo": [...],
        "hi": [...], "n": [...], "missing": [...]}}``, one entry per x with at least one
        value; ``missing`` counts that x's rows without a value.
    """
    if spread not in SPREADS:
        raise HwsimError(f"--spread {spread}: must be one of {', '.join(SPREADS)}")
    xs, numeric = _x_values([r[x] for r in rows])
    groups = {}
    for r in rows:
        if r[x] == "":
            continue
        key = r[hue] if hue else ""
        groups.setdefault(key, {}).setdefault(r[x], []).append(_number(r[y]))
    out = {}
    for key, by_x in groups.items():
        order = sorted(by_x, key=xs.get) if numeric else list(by_x)
        line = {"x": [], "mean": [], "lo": [], "hi": [], "n": [], "missing": []}
        for xv in order:
            vals = [v for v in by_x[xv] if v is not None]
            if not vals:
                continue
            mean = statistics.fmean(vals)
            if spread == "minmax":
                lo, hi = min(vals), max(vals)
            else:
                sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                lo, hi = mean - sd, mean + sd
            for k, v in (("x", xs[xv]), ("mean", mean), ("lo", lo), ("hi", hi),
                         ("n", len(vals)), ("missing", len(by_x[xv]) - len(vals))):
                line[k].append(v)
        out[key] = line
    return out


def pareto_mask(points) -> list:
    """Which points are non-dominated when both coordinates are minimised.

    A point is dominated when another is ≤ in both coordinates and < in at least one.

    Parameters
    ----------
    points : list of (float, float)

    Returns
    -------
    list of bool
    """
    return [not any(q[0] <= p[0] and q[1] <= p[1] and (q[0] < p[0] or q[1] < p[1])
                    for q in points) for p in points]


def _save(fig, out):
    atomic_write_bytes(out, png_bytes(fig))


def plot_metric(path, x, y, out, *, hue=None, logx=False, logy=False, spread="minmax") -> dict:
    """Plot mean ± spread of ``y`` vs ``x`` over the replicates of a results.csv.

    Parameters
    ----------
    path : path
        results.csv.
    x, y, hue : str
        Columns (see :func:`aggregate`).
    out : path
        PNG to write.
    logx, logy : bool
    spread : {"minmax", "std"}

    Returns
    -------
    dict
        What :func:`aggregate` returned: the plotted numbers.

    Raises
    ------
    HwsimError
        A missing column (naming the ones that exist), no row with a value of ``y``, or
        ``logx`` with a text ``x``.
    """
    cols, rows = read_results(path)
    for opt, name in (("--x", x), ("--y", y), ("--hue", hue)):
        if name is not None:
            column(cols, name, path, opt)
    data = aggregate(rows, x, y, hue, spread)
    if not any(line["x"] for line in data.values()):
        raise HwsimError(f"{path}: --y {y}: no run has a value (every cell is empty)")
    fig = new_figure((6.4, 4.2))
    ax = fig.subplots()
    numeric = all(isinstance(v, float) for line in data.values() for v in line["x"])
    if logx and not numeric:
        raise HwsimError(f"{path}: --logx needs a numeric --x; {x} holds text")
    cats = list(dict.fromkeys(v for line in data.values() for v in line["x"]))
    for i, (key, line) in enumerate(data.items()):
        if not line["x"]:
            continue
        xv = line["x"] if numeric else [cats.index(v) for v in line["x"]]
        label = f"{hue} = {key}" if hue else None
        ax.plot(xv, line["mean"], marker="o", color=f"C{i % 10}", label=label)
        ax.fill_between(xv, line["lo"], line["hi"], color=f"C{i % 10}", alpha=0.2, lw=0)
        for px, py, n, miss in zip(xv, line["mean"], line["n"], line["missing"]):
            if miss:  # a mean over the runs that have a value: say how many
                ax.annotate(f"{n}/{n + miss}", (px, py), textcoords="offset points",
                            xytext=(4, 4), fontsize=7, color=f"C{i % 10}")
    if not numeric:
        ax.set_xticks(range(len(cats)), [str(c) for c in cats])
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    ax.set_xlabel(x)
    what = "min–max" if spread == "minmax" else "± 1 std"
    missing = sum(sum(line["missing"]) for line in data.values())
    note = "; k/n: runs with a value" if missing else ""
    ax.set_ylabel(f"{y} (mean, band {what} over seeds{note})")
    if hue:
        ax.legend()
    _save(fig, out)
    return data


def plot_pareto(path, out, *, x="hardware_time_to_target_s", y="energy_to_target_j",
                hue=None, logx=False, logy=False) -> dict:
    """Scatter every run's ``y`` vs ``x`` and mark the Pareto front (both minimised).

    Parameters
    ----------
    path : path
        results.csv.
    out : path
        PNG to write.
    x, y : str
        Columns (default: hardware time and energy to the target accuracy).
    hue : str, optional
        Column colouring the points.
    logx, logy : bool

    Returns
    -------
    dict
        ``points`` (list of (x, y)), ``run_ids``, ``front`` (list of bool, non-dominated),
        ``hue`` (the hue cell per point, "" without hue), ``skipped`` (rows without both
        values).

    Raises
    ------
    HwsimError
        A missing column, or no run with both values.
    """
    cols, rows = read_results(path)
    for opt, name in (("--x", x), ("--y", y), ("--hue", hue)):
        if name is not None:
            column(cols, name, path, opt)
    keep = [r for r in rows if _number(r[x]) is not None and _number(r[y]) is not None]
    if not keep:
        raise HwsimError(f"{path}: no run has both {x} and {y} (a target never reached "
                         "leaves them empty)")
    # A log axis cannot show 0 (a target reached at step 0 costs nothing) or less.
    drawable = [r for r in keep if (not logx or _number(r[x]) > 0)
                and (not logy or _number(r[y]) > 0)]
    if not drawable:
        raise HwsimError(f"{path}: no run has a positive {x if logx else y} to draw on a log "
                         f"axis ({len(keep)} have 0 or less); drop --logx/--logy")
    keep = drawable
    pts = [(_number(r[x]), _number(r[y])) for r in keep]
    front = pareto_mask(pts)
    hues = [r[hue] if hue else "" for r in keep]
    fig = new_figure((6.4, 4.2))
    ax = fig.subplots()
    for i, key in enumerate(dict.fromkeys(hues)):
        sel = [p for p, h in zip(pts, hues) if h == key]
        ax.scatter(*zip(*sel), s=18, color=f"C{i % 10}", alpha=0.6,
                   label=f"{hue} = {key}" if hue else "runs")
    fp = sorted(p for p, f in zip(pts, front) if f)
    ax.plot(*zip(*fp), color="black", drawstyle="steps-post", lw=1)
    ax.scatter(*zip(*fp), s=60, facecolors="none", edgecolors="black",
               label="Pareto front (non-dominated)")
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend(fontsize=8)
    _save(fig, out)
    return {"points": pts, "run_ids": [r.get("run_id", "") for r in keep], "front": front,
            "hue": hues, "skipped": len(rows) - len(keep)}


def plot_curves(run_dirs, out, *, y="test_accuracy", x="step", logx=False, logy=False) -> dict:
    """Overlay the learning curves (metrics.csv) of several runs on one figure.

    Parameters
    ----------
    run_dirs : list of path
        Run folders.
    out : path
        PNG to write.
    y : str
        metrics.csv column (test_accuracy, train_cost, ... or a counter).
    x : {"step", "time"}
        Steps, or hardware_time_s.
    logx, logy : bool

    Returns
    -------
    dict
        ``{run folder: (x values, y values)}``.

    Raises
    ------
    HwsimError
        A folder without metrics.csv, or a missing column (naming the columns that exist).
    """
    if x not in CURVE_X:
        raise HwsimError(f"--x {x}: for learning curves must be one of {', '.join(CURVE_X)}")
    data = {}
    for d in run_dirs:
        f = Path(d) / METRICS_NAME
        if not f.is_file():
            raise HwsimError(f"{d}: not a run folder (no {METRICS_NAME})")
        rows = read_metrics(f)
        cols = list(rows[0]) if rows else []
        column(cols, y, f, "--y")
        data[str(d)] = ([r[CURVE_X[x]] for r in rows], [r[y] for r in rows])
    fig = new_figure((6.4, 4.2))
    ax = fig.subplots()
    for i, (name, (xs, ys)) in enumerate(data.items()):
        ax.plot(xs, ys, color=f"C{i % 10}", label=Path(name).name or name)
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    ax.set_xlabel("step" if x == "step" else "hardware time (s)")
    ax.set_ylabel(y)
    ax.legend(fontsize=8)
    _save(fig, out)
    return data
