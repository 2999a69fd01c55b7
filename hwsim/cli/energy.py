"""``hwsim energy RUN_DIR``: the energy and hardware-time breakdown of a finished run.

A thin layer over :func:`hwsim.analysis.energy_report.run_energy`, which the tests call
directly: it prints the tables (or JSON). Nothing is rerun and nothing in the folder is
changed.
"""

import json
import sys

__all__ = ["add_parser", "energy_command"]


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
    from hwsim.analysis.energy_report import run_energy

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
