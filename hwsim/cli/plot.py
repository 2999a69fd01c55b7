"""``hwsim plot``: figures across runs.

``hwsim plot RESULTS.csv --x KEY --y METRIC [--hue KEY]``: mean and spread over seeds;
``hwsim plot RESULTS.csv --pareto``: energy vs hardware time to target, Pareto front marked;
``hwsim plot RUN_DIR [RUN_DIR ...]``: learning curves overlaid. A thin layer over
:mod:`hwsim.analysis.sweep_plots`.
"""

from pathlib import Path

__all__ = ["add_parser", "plot_command"]


def add_parser(sub):
    """Register ``hwsim plot`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "plot", help="plot a sweep's results.csv, its Pareto front, or learning curves",
        description="With a results.csv: mean of --y over the seeds (replicates) of each --x "
        "value (one line per --hue value), with a band (--spread minmax: min to max, std: "
        "mean ± 1 sample std); --pareto: every run's energy vs hardware time to target, the "
        "non-dominated runs marked. With run folders: their learning curves (metrics.csv) on "
        "one figure.")
    p.add_argument("paths", nargs="+", metavar="RESULTS.csv|RUN_DIR")
    p.add_argument("--x", help="results.csv: column of the x axis; run folders: step (default) "
                   "or time")
    p.add_argument("--y", help="column to plot (run folders: default test_accuracy; "
                   "--pareto: default energy_to_target_j)")
    p.add_argument("--hue", help="results.csv: column splitting the runs into lines/colours")
    p.add_argument("--spread", default="minmax", choices=("minmax", "std"),
                   help="band over seeds: min-max (default) or mean ± 1 std")
    p.add_argument("--pareto", action="store_true",
                   help="Pareto front of --y (default energy_to_target_j) vs --x (default "
                   "hardware_time_to_target_s), both minimised")
    p.add_argument("--logx", action="store_true", help="logarithmic x axis")
    p.add_argument("--logy", action="store_true", help="logarithmic y axis")
    p.add_argument("--out", help="PNG to write (default: next to RESULTS.csv, or "
                   "learning_curves.png in the working folder)")
    p.set_defaults(func=plot_command)
    return p


def plot_command(args) -> int:
    """Carry out ``hwsim plot``; returns the exit code."""
    from hwsim.analysis.sweep_plots import plot_curves, plot_metric, plot_pareto
    from hwsim.exceptions import HwsimError

    first = Path(args.paths[0])
    for p in args.paths:
        if not Path(p).exists():
            raise HwsimError(f"{p}: not found (give a sweep's results.csv or run folders)")
    if args.out and not Path(args.out).resolve().parent.is_dir():
        raise HwsimError(f"--out {args.out}: the folder {Path(args.out).resolve().parent} does "
                         "not exist")
    if first.is_dir():
        if args.pareto or args.hue:
            raise HwsimError("--pareto and --hue need a results.csv, not run folders")
        out = Path(args.out or "learning_curves.png")
        plot_curves(args.paths, out, y=args.y or "test_accuracy", x=args.x or "step",
                    logx=args.logx, logy=args.logy)
    else:
        if len(args.paths) > 1:
            raise HwsimError(f"{args.paths[1]}: give one RESULTS.csv, or only run folders")
        if args.pareto:
            x = args.x or "hardware_time_to_target_s"
            y = args.y or "energy_to_target_j"
            out = Path(args.out) if args.out else first.with_name(f"{first.stem}_pareto.png")
            plot_pareto(first, out, x=x, y=y, hue=args.hue, logx=args.logx, logy=args.logy)
        else:
            if not args.x or not args.y:
                raise HwsimError(f"{first}: give --x KEY and --y METRIC (or --pareto)")
            out = (Path(args.out) if args.out
                   else first.with_name(f"{first.stem}_{args.y}_vs_{args.x}.png"))
            data = plot_metric(first, args.x, args.y, out, hue=args.hue, logx=args.logx,
                               logy=args.logy, spread=args.spread)
            missing = sum(sum(line["missing"]) for line in data.values())
            if missing:
                import sys

                print(f"hwsim: warning: {missing} run(s) without a value of {args.y} (failed, "
                      "or the target not reached) are left out of the means; each such point "
                      "is marked k/n", file=sys.stderr)
    print(f"wrote {out}")
    return 0
