"""The energy and hardware time of a run folder, recomputed from its files.

Reads the folder's config.toml (its ``[hardware]`` section, or the defaults for a folder
written before the section existed), the final counters of summary.json and the cumulative
counters of metrics.csv (for the counts at the target), applies ``hardware.KEY=VALUE``
overrides and prices the counts with :mod:`hwsim.energy`. Nothing is rerun or written.
"""

import json
from pathlib import Path

from hwsim.chip.layers import crossbar_widths
from hwsim.config import RunConfig, read_toml
from hwsim.energy import breakdown_table, energy_summary, target_row, time_breakdown
from hwsim.exceptions import HwsimError
from hwsim.runs import CONFIG_NAME, METRICS_NAME, SUMMARY_NAME, read_metrics

__all__ = ["run_energy"]


def run_energy(run_dir, overrides=()) -> dict:
    """Recompute the energy and time model of the run in ``run_dir``.

    Parameters
    ----------
    run_dir : path
        A run folder (config.toml, summary.json, metrics.csv).
    overrides : sequence of str
        ``"hardware.KEY=VALUE"`` strings.

    Returns
    -------
    dict
        ``run_dir``, ``step`` (of the final counters), ``target_accuracy``, ``target_step``
        (None when not reached), ``table`` and ``target_table`` (rows of
        :func:`hwsim.energy.breakdown_table`; ``target_table`` None when not reached),
        ``time_breakdown_s`` and ``target_time_breakdown_s``, and every key of
        :func:`hwsim.energy.energy_summary`.

    Raises
    ------
    HwsimError
        Not a run folder, a summary.json without counters, an override outside
        ``[hardware]``.
    ConfigError
        A bad config.toml or override value (naming the key and what is allowed).
    """
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_NAME).is_file():
        raise HwsimError(f"{run_dir}: not a run folder (no {CONFIG_NAME})")
    for ov in overrides:
        if not ov.split("=", 1)[0].strip().startswith("hardware."):
            raise HwsimError(f"--set {ov}: hwsim energy only recomputes [hardware] keys "
                             "(hardware.KEY=VALUE); other keys change the run: rerun it")
    cfg = RunConfig.from_dict(read_toml(run_dir / CONFIG_NAME, "config file"),
                              str(run_dir / CONFIG_NAME))
    for ov in overrides:
        cfg = cfg.with_overrides([ov], source=f"--set {ov}")
    rows = read_metrics(run_dir / METRICS_NAME) if (run_dir / METRICS_NAME).is_file() else []
    try:
        summary = json.loads((run_dir / SUMMARY_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = {}
    if cfg.learn.algorithm != "mgd":
        raise HwsimError(f"{run_dir}: a {cfg.learn.algorithm} run (learn.algorithm); it has no "
                         "chip events, so no hardware energy or time: hwsim energy prices MGD "
                         "runs")
    counters = summary.get("counters")
    if counters is None:
        if not rows:
            raise HwsimError(f"{run_dir}: no counters ({SUMMARY_NAME} has none and "
                             f"{METRICS_NAME} has no rows)")
        counters = rows[-1]
    hw, dt = cfg.hardware, cfg.sim.dt
    sizes = crossbar_widths(cfg.network, cfg.task.name)
    hit = target_row(rows, cfg.sim.target_accuracy)
    return {
        "run_dir": str(run_dir),
        "step": int(counters.get("steps", 0)),
        "target_accuracy": cfg.sim.target_accuracy,
        "target_step": int(hit["step"]) if hit else None,
        "table": breakdown_table(counters, hw),
        "target_table": breakdown_table(hit, hw) if hit else None,
        "time_breakdown_s": time_breakdown(counters, hw, dt, sizes),
        "target_time_breakdown_s": time_breakdown(hit, hw, dt, sizes) if hit else None,
        **energy_summary(cfg, counters, rows),
    }
