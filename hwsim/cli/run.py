"""``hwsim run``: train a network on an emulated chip with MGD and write a run folder."""

import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path


class HwsimInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C/SIGTERM; its message says whether and how to resume."""


def add_parser(sub):
    """Register ``hwsim run`` on the subparsers ``sub``."""
    p = sub.add_parser("run", help="train on an emulated chip with MGD, write a run folder",
                       description="Train a network on an emulated chip with MGD. Writes "
                       "config.toml, metrics.csv, summary.json, learning_curve.png and "
                       "checkpoint.npz to the run folder.")
    p.add_argument("config", nargs="?", help="run config (TOML); omit with --resume")
    p.add_argument("--out", help="run folder (default: runs/<config name>)")
    p.add_argument("--seed", type=int, help="override the config's seed (a new run only)")
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
def _graceful_interrupts(token):
    """Ctrl-C and SIGTERM ask this command's run (through ``token``, a StopToken) to stop at
    its next safe point and save a checkpoint.

    The handler never raises on the first signal (an exception raised inside the compiler or
    a destructor would be swallowed); a second signal interrupts at once.
    """
    seen = []

    def handler(signum, frame):
        if seen:
            raise KeyboardInterrupt
        seen.append(signum)
        token.request()

    old = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: keep Python's defaults
        pass
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def run_command(args) -> int:
    """Carry out ``hwsim run`` (a new run or ``--resume``); returns the exit code."""
    # Only the config layer before validation: a typo is reported without loading numba,
    # numpy or matplotlib (the trainer's imports come after the config is known good).
    from hwsim.config import load_config
    from hwsim.exceptions import HwsimError

    if args.resume:
        for flag, given in (("a CONFIG file", args.config), ("--out", args.out),
                            ("--force", args.force), ("--seed", args.seed is not None)):
            if given:
                raise HwsimError(f"--resume continues the run in its own folder with its own "
                                 f"config.toml: {flag} cannot be combined with it")
        out = Path(args.resume)
    else:
        if not args.config:
            raise HwsimError("hwsim run: give a CONFIG file (or --resume RUN_DIR)")
        if args.out is not None and not args.out.strip():
            raise HwsimError("--out: empty folder name")
        out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
        cfg = load_config(args.config, args.overrides)
        if args.seed is not None:
            cfg = cfg.with_overrides({"seed": args.seed}, source=f"--seed {args.seed}")
    from hwsim.experiment import resume_experiment, run_experiment
    from hwsim.learn.trainer import StopToken
    from hwsim.runs import CHECKPOINT_NAME

    started = time.time()
    token = StopToken()
    try:
        with _graceful_interrupts(token):
            if args.resume:
                trainer = resume_experiment(out, args.overrides, progress=not args.quiet,
                                            stop=token)
            else:
                trainer = run_experiment(cfg, out, progress=not args.quiet, force=args.force,
                                         stop=token)
    except KeyboardInterrupt:
        ckpt = out / CHECKPOINT_NAME
        # Only a checkpoint this command wrote counts (a --force run interrupted before it
        # replaced the old run leaves the old run's files).
        if ckpt.exists() and ckpt.stat().st_mtime >= started - 1:
            raise HwsimInterrupted(f"interrupted; the run folder {out} holds a checkpoint: "
                                   f"continue with  hwsim run --resume {out}") from None
        raise HwsimInterrupted("interrupted before the run folder was written; nothing to "
                               "resume") from None
    if not args.quiet:
        s = trainer.summary_
        # A backprop run has no hardware time (summary.json: null, with a note).
        t_tgt, t_end = s["time_to_target_s"], s["hardware_time_s"]
        tgt = (f"target {s['target_accuracy']:.2f} at step {s['steps_to_target']}"
               + ("" if t_tgt is None else f" ({t_tgt:.4g} s)")
               if s["steps_to_target"] is not None
               else f"target {s['target_accuracy']:.2f} not reached")
        hw = ", hardware time not defined" if t_end is None else f" = {t_end:.4g} s hardware time"
        print(f"{s['status']}: test accuracy {s['final_test_accuracy']:.4f} "
              f"(best {s['best_test_accuracy']:.4f}), {tgt}; {s['steps']} steps{hw}, "
              f"{s['wall_s']:.1f} s wall; run folder {out}")
    # Warnings go to stderr even with --quiet: a run that blew up must not pass unnoticed.
    for w in trainer.warnings_:
        print(f"hwsim: warning: {w}", file=sys.stderr)
    return 4 if trainer.status_ == "unstable" else 0  # ExitCode.UNSTABLE
