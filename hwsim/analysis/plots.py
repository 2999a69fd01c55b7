"""Plots of run results (matplotlib, headless Agg backend)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def learning_curve(rows, path, *, title="", target=None, held_out=True):
    """Save a learning-curve PNG from metrics rows.

    Parameters
    ----------
    rows : list of dict
        ``metrics.csv`` rows (step, hardware_time_s, train_cost, test_cost, test_accuracy, ...).
    path : path
        PNG to write.
    title : str
    target : float, optional
        Target accuracy drawn as a dashed line.
    held_out : bool
        Whether the test set is held out (digits) or the whole truth table (xor, parity).
    """
    test = "test (held out)" if held_out else "test (= truth table)"
    t = [r["hardware_time_s"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    ax1.plot(t, [r["test_accuracy"] for r in rows], color="C0", label=test)
    ax1.plot(t, [r["train_accuracy"] for r in rows], color="C1", label="train", alpha=0.8)
    if target is not None:
        ax1.axhline(target, ls="--", color="gray", lw=1, label=f"target {target:g}")
    ax1.set_xlabel("hardware time (s)")
    ax1.set_ylabel("accuracy")
    ax1.set_ylim(0, 1.02)
    ax1.legend(loc="lower right")
    ax2.plot(t, [r["test_cost"] for r in rows], color="C0", label=test)
    ax2.plot(t, [r["train_cost"] for r in rows], color="C1", label="train", alpha=0.8)
    ax2.set_xlabel("hardware time (s)")
    ax2.set_ylabel("cost")
    ax2.set_yscale("log")
    ax2.legend()
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)
