"""``hwsim sweep``: run a sweep file's runs on local processes or Dask, write results.csv."""


def add_parser(sub):
    """Register ``hwsim sweep`` on the subparsers ``sub``."""
    p = sub.add_parser("sweep", help="run a sweep of runs over config keys, write results.csv",
                       description="Run every point (x replicates) of a sweep file on local "
                       "processes or a Dask cluster; writes runs/<run_id>/ and results.csv "
                       "in the sweep folder as runs finish. Re-running resumes: finished runs "
                       "are skipped. See docs/sweeps.md.")
    p.add_argument("sweep", help="sweep file (TOML)")
    p.add_argument("--out", help="sweep folder (default: runs/<sweep name>)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes (default: one per core)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on the Dask cluster of this scheduler")
    p.add_argument("--dask-local", type=int, metavar="N",
                   help="start a Dask LocalCluster of N worker processes and run on it")
    p.add_argument("--quiet", action="store_true", help="no progress bar or result line")
    p.set_defaults(func=sweep_command)
    return p


def sweep_command(args) -> int:
    """Carry out ``hwsim sweep``; returns the exit code (0 also when some points failed:
    they are recorded in results.csv)."""
    import sys

    from hwsim.exceptions import HwsimError
    from hwsim.sweep import run_sweep

    if args.out is not None and not args.out.strip():
        raise HwsimError("--out: empty folder name")
    outcome = run_sweep(args.sweep, args.out, workers=args.workers, scheduler=args.scheduler,
                        dask_local=args.dask_local, progress=not args.quiet)
    if not args.quiet:
        statuses = {}
        for r in outcome.results:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        counts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        print(f"sweep: {outcome.total} runs ({outcome.skipped} skipped as finished, "
              f"{outcome.ran} run now): {counts}; results {outcome.out / 'results.csv'}")
    if outcome.failed:
        print(f"hwsim: warning: {outcome.failed} run(s) failed; see the error column of "
              f"{outcome.out / 'results.csv'}", file=sys.stderr)
    return 0
