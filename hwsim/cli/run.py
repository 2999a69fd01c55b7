"""``hwsim run``: train a network on an emulated chip with MGD and write a run folder."""

import signal
from contextlib import contextmanager
from pathlib import Path


def add_parser(sub):
    p = sub.add_parser("run", help="train on an emulated chip with MGD, write a run folder",
                       description="Train a network on an emulated chip with MGD. Writes "
                       "config.toml, metrics.csv, summary.json, learning_curve.png and "
                       "checkpoint.npz to the run folder.")
    p.add_argument("config", nargs="?", help="run config (TOML); omit with --resume")
    p.add_argument("--out", help="run folder (default: runs/<config name>)")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config key (repeatable), e.g. --set mgd.eta=0.5")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its checkpoint (may extend sim.steps "
                        "or sim.time_limit_s with --set)")
    p.add_argument("--force", action="store_true", help="replace a run already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar or result line")
    p.set_defaults(func=run_command)
    return p


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM behaves like Ctrl-C, so the run saves a checkpoint before exiting."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        old = None
    try:
        yield
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def run_command(args) -> int:
    from hwsim.experiment import run_experiment, resume_experiment
    from hwsim.exceptions import HwsimError

    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    with _sigterm_as_interrupt():
        if args.resume:
            if args.config:
                raise HwsimError("--resume takes the run folder only; the config is its config.toml")
            trainer = resume_experiment(args.resume, overrides, progress=not args.quiet)
            out = Path(args.resume)
        else:
            if not args.config:
                raise HwsimError("hwsim run: give a CONFIG file (or --resume RUN_DIR)")
            out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
            trainer = run_experiment(args.config, out, overrides, progress=not args.quiet,
                                     force=args.force)
    if not args.quiet:
        s = trainer.summary_
        tgt = (f"target {s['target_accuracy']:.2f} at step {s['steps_to_target']} "
               f"({s['time_to_target_s']:.4g} s)" if s["steps_to_target"] is not None
               else f"target {s['target_accuracy']:.2f} not reached")
        print(f"{s['status']}: test accuracy {s['final_test_accuracy']:.4f} "
              f"(best {s['best_test_accuracy']:.4f}), {tgt}; {s['steps']} steps = "
              f"{s['hardware_time_s']:.4g} s hardware time, {s['wall_s']:.1f} s wall; "
              f"run folder {out}")
    return 0
