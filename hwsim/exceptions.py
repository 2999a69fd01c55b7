"""The one root of every error hwsim raises on purpose.

The CLI catches :class:`HwsimError`, prints its message as one line on stderr and returns
``ExitCode.USAGE_ERROR``; library code never calls ``sys.exit``.
"""


class HwsimError(Exception):
    """Root of hwsim's own errors: bad input, impossible requests, broken run folders."""


class ConfigError(HwsimError, ValueError):
    """A run config or device profile is invalid.

    The message names the file, the dotted key, the value and what is allowed.
    """


class DivergenceError(HwsimError, FloatingPointError):
    """A run produced NaN or Inf; the message names the step and the component."""


class HwsimWarning(UserWarning):
    """A valid but suspicious input, e.g. a device profile with fewer than 2 states.

    Issued with :func:`warnings.warn`; ``hwsim devices validate`` prints each one. Turn them
    into errors with ``warnings.simplefilter("error", HwsimWarning)``.
    """
