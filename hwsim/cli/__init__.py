"""The ``hwsim`` command: a thin layer over library functions.

``main(argv=None) -> ExitCode``. A :class:`hwsim.exceptions.HwsimError` prints one line on
stderr and returns ``USAGE_ERROR`` (``DIVERGED`` for a divergence, ``ERROR`` for a failed
timeline process); library code never calls ``sys.exit``.
"""

import argparse
import enum
import sys
import warnings

from hwsim import __version__
from hwsim.exceptions import DivergenceError, HwsimError, HwsimWarning


class ExitCode(enum.IntEnum):
    """Process exit codes of ``hwsim``."""

    OK = 0
    ERROR = 1  #: unexpected internal error (a bug: please report it)
    USAGE_ERROR = 2  #: bad config, profile, arguments or run folder
    DIVERGED = 3  #: the run hit NaN/Inf; the run folder keeps what was measured
    #: the run finished but blew up slowly (status "unstable": cost far above its best or
    #: runaway weights); the folder is complete and summary.json lists the warnings
    UNSTABLE = 4
    INTERRUPTED = 130  #: Ctrl-C or SIGTERM; the run folder holds a checkpoint to --resume


def build_parser() -> argparse.ArgumentParser:
    """The ``hwsim`` argument parser with one subparser per command module."""
    from hwsim.cli import devices as devices_cmd, run as run_cmd
    from hwsim.cli import energy as energy_cmd, plot as plot_cmd

    parser = argparse.ArgumentParser(
        prog="hwsim",
        description="Emulate neuromorphic chips that train on-chip with multiplexed gradient descent.")
    parser.add_argument("--version", action="version", version=f"hwsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run_cmd.add_parser(sub)
    devices_cmd.add_parser(sub)
    energy_cmd.add_parser(sub)
    plot_cmd.add_parser(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """hwsim's own warnings as one line each on stderr; others as Python prints them."""
    if issubclass(category, HwsimWarning):
        print(f"hwsim: warning: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), end="",
              file=sys.stderr)


def main(argv=None) -> ExitCode:
    """Entry point of the ``hwsim`` command; returns an :class:`ExitCode`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return ExitCode.USAGE_ERROR
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return ExitCode(args.func(args))
    except DivergenceError as e:
        print(f"hwsim: {e}", file=sys.stderr)
        return ExitCode.DIVERGED
    except HwsimError as e:
        print(f"hwsim: error: {e}", file=sys.stderr)
        # Looked up, not imported: the trainer (and numba) load only for commands that train.
        trainer = sys.modules.get("hwsim.learn.trainer")
        if trainer is not None and isinstance(e, trainer.TimelineProcessError):
            return ExitCode.ERROR
        return ExitCode.USAGE_ERROR
    except MemoryError as e:
        print(f"hwsim: error: out of memory ({e or 'no detail'}); the run folder keeps what "
              "was written (summary.json says which step the checkpoint holds)", file=sys.stderr)
        return ExitCode.ERROR
    except KeyboardInterrupt as e:
        # A bare interrupt arrives before the run installed its handler: nothing was written.
        print(f"hwsim: {e}" if str(e) else "hwsim: interrupted before the run started; nothing "
              "to resume", file=sys.stderr)
        return ExitCode.INTERRUPTED


def console_main() -> None:  # pragma: no cover - the installed script
    """Entry point of the installed ``hwsim`` script: exit with :func:`main`'s code."""
    import signal

    # `hwsim devices show X | head`: a closed pipe ends the output quietly, like any Unix tool.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(int(main()))
