"""``hwsim energy RUN_DIR``: the energy and hardware-time breakdown of a finished run.

A thin layer over :mod:`hwsim.energy`: reads the run folder's config.toml (its
``[hardware]`` section, or the defaults for a folder written before the section existed),
the final counters of summary.json and the cumulative counters of metrics.csv (for the
counts at the target), applies ``--set hardware.KEY=VALUE`` and prints the tables. Nothing
is rerun and nothing in the folder is changed.
"""

import json
import sys
from pathlib import Path

__all__ = ["add_parser", "energy_command", "run_energy"]


def add_parser(sub):
    """Register ``hwsim energy`` on the subparsers ``sub``."""
    p = sub.add_parser("energy", help="energy and hardware time of a run, by event kind",
                       description="Price a run's event counters with its [hardware] model "
                       "(docs/energy.md): event kind, count, energy per event, total and "
                       "share, for the whole run and up to the target accuracy, and the "
                       "hardware time by part. --set recomputes with other values without "
                       "rerunning.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="hardware.KEY=VALUE",
                   help="override one [hardware] key (repeatable), e.g. --set "
                        "hardware.write_pulse_up_j=1e-12")
    p.add_argument("--json", action="store_true", help="print the result as JSON instead")
    p.set_defaults(func=energy_command)
    return p


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
    from hwsim.config import RunConfig, read_toml
    from hwsim.energy import breakdown_table, energy_summary, target_row, time_breakdown
    from hwsim.exceptions import HwsimError
    from hwsim.runs import CONFIG_NAME, METRICS_NAME, SUMMARY_NAME, read_metrics

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
    counters = summary.get("counters")
    if counters is None:
        if not rows:
            raise HwsimError(f"{run_dir}: no counters ({SUMMARY_NAME} has none and "
                             f"{METRICS_NAME} has no rows)")
        counters = rows[-1]
    hw, dt, sizes = cfg.hardware, cfg.sim.dt, cfg.network.sizes
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


def _energy_table(rows) -> list:
    header = ("event kind", "count", "J/event", "total J", "share")
    body = [(k, str(n), f"{e:.3g}", f"{t:.4g}", f"{s:.1%}") for k, n, e, t, s in rows]
    total = sum(r[3] for r in rows)
    body.append(("total", "", "", f"{total:.4g}", "100.0%" if total else "0.0%"))
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(5)]
    just = (str.ljust, str.rjust, str.rjust, str.rjust, str.rjust)
    return ["  ".join(j(c, w) for c, w, j in zip(r, widths, just)).rstrip()
            for r in [header, *body]]


def _time_lines(parts) -> list:
    total = sum(parts.values())
    lines = [f"  {k:<20} {v:.6g} s" for k, v in parts.items()]
    return lines + [f"  {'total':<20} {total:.6g} s"]


def energy_command(args) -> int:
    """Carry out ``hwsim energy``; returns the exit code."""
    r = run_energy(args.run_dir, args.overrides)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    out = [f"{r['run_dir']}: whole run ({r['step']} steps)", *_energy_table(r["table"]),
           "hardware time:", *_time_lines(r["time_breakdown_s"]),
           f"  (write circuits busy {r['write_busy_s']:.6g} s)", ""]
    if r["target_table"] is None:
        out.append(f"target accuracy {r['target_accuracy']:g} not reached")
    else:
        out += [f"to target accuracy {r['target_accuracy']:g} (step {r['target_step']})",
                *_energy_table(r["target_table"]),
                "hardware time to target:", *_time_lines(r["target_time_breakdown_s"])]
    enc = getattr(sys.stdout, "encoding", None) or "utf-8"
    text = "\n".join(out)
    print(text.encode(enc, "backslashreplace").decode(enc, "replace"))
    return 0
