"""Plots of run results.

Figures are built with matplotlib's object-oriented API (:class:`matplotlib.figure.Figure`
on an Agg canvas) and never through pyplot: importing hwsim must not switch the backend of a
notebook or GUI that imports it, and pyplot's global figure registry would keep every figure
of a long sweep alive.
"""

import io
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hwsim.runs import atomic_write_bytes

__all__ = ["learning_curve", "new_figure", "png_bytes", "early_learning"]


def new_figure(figsize) -> Figure:
    """Return a figure on its own Agg canvas (no pyplot, no backend switch).

    Parameters
    ----------
    figsize : (float, float)
        Inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig, dpi=110) -> bytes:
    """Render ``fig`` as PNG bytes, so the file can be written atomically.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int

    Returns
    -------
    bytes
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def early_learning(rows, *, fraction=0.05, share=0.8) -> bool:
    """Whether the first ``fraction`` of the run holds ``share`` of the drop in train cost.

    Such curves look like a step at t = 0 on a linear time axis; a log axis shows them.

    Parameters
    ----------
    rows : list of dict
        ``metrics.csv`` rows.
    fraction, share : float

    Returns
    -------
    bool
    """
    if len(rows) < 10:
        return False
    t_end = rows[-1]["hardware_time_s"]
    costs = [r["train_cost"] for r in rows]
    drop = costs[0] - min(costs)
    if not t_end > 0 or not drop > 0:
        return False
    early = min(r["train_cost"] for r in rows if r["hardware_time_s"] <= fraction * t_end)
    return costs[0] - early >= share * drop


def learning_curve(rows, path, *, title="", subtitle="", target=None, held_out=True,
                   log_time=None, x_axis=("hardware_time_s", "hardware time (s)")):
    """Save a learning-curve PNG from metrics rows.

    Parameters
    ----------
    rows : list of dict
        ``metrics.csv`` rows (step, hardware_time_s, train_cost, test_cost, test_accuracy, ...).
    path : path
        PNG to write (atomically, through :func:`hwsim.runs.atomic_write_bytes`).
    title : str
    subtitle : str
        Smaller second heading (e.g. the settings that make this run differ), wrapped.
    target : float, optional
        Target accuracy drawn as a dashed line.
    held_out : bool
        Whether the test set is held out (digits) or the whole truth table (xor, parity).
    log_time : bool or None
        Logarithmic hardware-time axis (symmetric-log, so t = 0 stays on it); None chooses it
        when the first 5 % of the run holds 80 % of the drop in train cost
        (:func:`early_learning`).
    x_axis : (str, str)
        The row key of the horizontal axis and its label (a backprop run, which has no
        hardware time, plots against ``("updates", "minibatch updates")``).

    Raises
    ------
    hwsim.runs.WriteError
        The file cannot be written; a previous plot at ``path`` is kept.
    """
    test = "test (held out)" if held_out else "test (= truth table)"
    t = [r[x_axis[0]] for r in rows]
    if log_time is None:
        log_time = early_learning(rows)
    fig = new_figure((10, 3.8))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(t, [r["test_accuracy"] for r in rows], color="C0", label=test)
    ax1.plot(t, [r["train_accuracy"] for r in rows], color="C1", label="train", alpha=0.8)
    if target is not None:
        ax1.axhline(target, ls="--", color="gray", lw=1, label=f"target {target:g}")
    ax1.set_ylabel("accuracy")
    ax1.set_ylim(0, 1.02)
    ax1.legend(loc="lower right")
    ax2.plot(t, [r["test_cost"] for r in rows], color="C0", label=test)
    ax2.plot(t, [r["train_cost"] for r in rows], color="C1", label="train", alpha=0.8)
    ax2.set_ylabel("cost")
    ax2.set_yscale("log")
    ax2.legend()
    positive = [x for x in t if x > 0]
    for ax in (ax1, ax2):
        if log_time and positive:
            ax.set_xscale("symlog", linthresh=min(positive))
            ax.set_xlim(left=0)  # symlog would otherwise show an empty negative decade
            ax.set_xlabel(f"{x_axis[1]}, log scale")
        else:
            ax.set_xlabel(x_axis[1])
    if title:
        lines = [title, *textwrap.wrap(subtitle, 150)[:3]]
        fig.suptitle("\n".join(lines), fontsize=10)
    atomic_write_bytes(path, png_bytes(fig))
