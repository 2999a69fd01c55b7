"""``hwsim devices``: list, show, validate and plot device profiles.

A thin layer: the work is done by :mod:`hwsim.chip.profiles` and
:mod:`hwsim.analysis.device_plots`, which the tests call directly.
"""

import sys
import textwrap
import warnings
from pathlib import Path


def _echo(text: str = "", stream=None) -> None:
    """Print, escaping what the terminal's encoding cannot show (an ASCII locale must not
    turn "HfO₂" or a non-ASCII folder name into a crash)."""
    stream = stream or sys.stdout
    enc = getattr(stream, "encoding", None) or "utf-8"
    print(text.encode(enc, "backslashreplace").decode(enc, "replace"), file=stream)


def add_parser(sub):
    """Register ``hwsim devices`` and its subcommands on ``sub``."""
    p = sub.add_parser("devices", help="list, show, validate and plot device profiles",
                       description="Device profiles: one TOML file per device (model, "
                       "parameters, source). NAME is a shipped profile (see `hwsim devices "
                       "list`), FILE the path of your own .toml file.")
    dsub = p.add_subparsers(dest="devices_command", metavar="ACTION", required=True)

    q = dsub.add_parser("list", help="the shipped profiles: name, model, states, source")
    q.set_defaults(func=list_command)

    q = dsub.add_parser("show", help="every parameter of a profile: value, unit, set or default")
    q.add_argument("profile", metavar="NAME|FILE")
    _add_device_set(q)
    q.set_defaults(func=show_command)

    q = dsub.add_parser("validate", help="check a profile; exit 0 and 'ok: ...' or exit 2")
    q.add_argument("profile", metavar="FILE")
    q.set_defaults(func=validate_command)

    q = dsub.add_parser("plot", help="pulse-response PNG: K devices, N pulses up then N down",
                        description="Drive K devices of the profile up N pulses, then down N "
                        "pulses, and plot the weight against the pulse number (thin line per "
                        "device, bold mean).")
    q.add_argument("profile", metavar="NAME|FILE")
    q.add_argument("--out", help="PNG to write (default: <profile file name>_pulse_response.png)")
    q.add_argument("--pulses", type=int, metavar="N",
                   help="up pulses, then as many down (default: 1.2 × states, in [100, 10000])")
    q.add_argument("--devices", type=int, default=10, metavar="K", help="devices (default 10)")
    q.add_argument("--seed", type=int, default=0, metavar="S", help="seed (default 0)")
    _add_device_set(q)
    q.set_defaults(func=plot_command)

    q = dsub.add_parser("diagnose", help="why a device does or does not train: a short run "
                        "measured update by update",
                        description="Run MGD on the profile for a short budget and print, per "
                        "synapse and update: the walk toward each device's symmetry point "
                        "(measured by alternating pulses), the requested update against dw_min, "
                        "the write noise and the pulse noise, pulses per update, and the "
                        "fraction of requests that round to zero pulses (docs/devices.md).")
    q.add_argument("profile", metavar="NAME|FILE")
    q.add_argument("--config", metavar="RUN.toml",
                   help="run config to diagnose (default: digits 64-32-10, τθ = 50, η = 0.5)")
    q.add_argument("--steps", type=int, default=20_000, metavar="N",
                   help="hardware steps (default 20000)")
    q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), as for hwsim run")
    q.set_defaults(func=diagnose_command)
    return p


def _add_device_set(q) -> None:
    q.add_argument("--set", dest="device_set", action="append", default=[],
                   metavar="device.KEY=VALUE",
                   help="override one [device] key of the profile (repeatable), as "
                        "hwsim run --set device.KEY=VALUE does, e.g. --set device.dw_min=0.01")


def _load(args):
    """The profile of ``args.profile`` with the ``--set device.KEY=VALUE`` overrides."""
    from hwsim.chip.profiles import load_profile

    if not args.device_set:
        return load_profile(args.profile)
    from hwsim.config import device_set_from_args

    lines = device_set_from_args(args.device_set)
    label = " ".join(f"--set {a}" for a in args.device_set)
    return load_profile(args.profile, lines, f"{label} (device profile {args.profile})")


def _table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
             for r in [header, *rows]]
    return "\n".join(lines)


def list_command(args) -> int:
    """``hwsim devices list``: one line per shipped profile."""
    from hwsim.chip.profiles import format_states, profile_summaries

    rows = [(s.name, s.model, format_states(s.states), textwrap.shorten(s.source, 70,
                                                                         placeholder=" …"))
            for s in profile_summaries()]
    _echo(_table(("name", "model", "states", "source"), rows))
    return 0


def show_command(args) -> int:
    """``hwsim devices show``: every parameter of a profile."""
    from hwsim._schema import fmt
    from hwsim.chip.profiles import format_states, parameter_rows

    p = _load(args)
    _echo(f"name:        {p.name}")
    if p.description:
        _echo(f"description: {p.description}")
    _echo(f"source:      {p.source}")
    if p.notes:
        _echo(f"notes:       {p.notes}")
    _echo(f"file:        {p.path}")
    _echo(f"model:       {p.model}")
    how = ("Ideal: continuous, unbounded" if p.model == "Ideal" else "n_states levels"
           if getattr(p.params, "n_states", 0) else "(w_max - w_min) / dw_min")
    _echo(f"states:      {format_states(p.n_states())}  ({how})")
    _echo()
    rows = [(r.key, fmt(r.value), r.unit or "-", r.origin) for r in parameter_rows(p)]
    _echo(_table(("key", "value", "unit", "set by"), rows))
    return 0


def validate_command(args) -> int:
    """``hwsim devices validate``: check a profile file."""
    from hwsim.chip.profiles import format_states, load_profile, profile_warnings
    from hwsim.exceptions import HwsimWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HwsimWarning)  # printed below, once each
        p = load_profile(args.profile)
    doubts = profile_warnings(p)
    for message in doubts:
        _echo(f"warning: {message}", sys.stderr)
    set_keys = len(p.explicit)
    n_warn = f", {len(doubts)} warning{'s' if len(doubts) != 1 else ''}" if doubts else ""
    _echo(f"ok: {p.path}: {p.name} ({p.model}, {format_states(p.n_states())} states, "
          f"{set_keys} parameter{'s' if set_keys != 1 else ''} set{n_warn})")
    return 0


def plot_command(args) -> int:
    """``hwsim devices plot``: write a pulse-response PNG."""
    from hwsim.exceptions import HwsimError
    from hwsim.analysis.device_plots import plot_pulse_response

    p = _load(args)
    out = Path(args.out) if args.out else Path(f"{p.path.stem}_pulse_response.png")
    if out.suffix.lower() != ".png":
        raise HwsimError(f"--out {out}: the plot is written as PNG; name the file *.png")
    if args.pulses is not None and not 1 <= args.pulses <= 100_000:
        raise HwsimError(f"--pulses {args.pulses}: allowed 1 to 100000")
    if not 1 <= args.devices <= 10_000:
        raise HwsimError(f"--devices {args.devices}: allowed 1 to 10000")
    traj = plot_pulse_response(p, out, pulses=args.pulses, devices=args.devices, seed=args.seed)
    n = (traj.shape[0] - 1) // 2
    _echo(f"wrote {out}: {p.name}, {traj.shape[1]} devices, {n} pulses up then {n} down")
    return 0


def diagnose_command(args) -> int:
    """``hwsim devices diagnose``: measure a short run on a profile."""
    from hwsim.config import load_config
    from hwsim.learn.diagnose import default_config, diagnose

    if args.config:
        cfg = load_config(args.config, args.set).with_overrides({"chip.device": args.profile})
    else:
        cfg = default_config(args.profile)
        if args.set:
            cfg = cfg.with_overrides(args.set)
    for line in diagnose(cfg=cfg, steps=args.steps).lines():
        _echo(line)
    return 0
