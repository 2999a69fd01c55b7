"""hwsim: emulate neuromorphic chips that train on-chip with multiplexed gradient descent."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("hwsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.2.0"

from hwsim.exceptions import ConfigError, DivergenceError, HwsimError  # noqa: E402

__all__ = ["__version__", "HwsimError", "ConfigError", "DivergenceError"]
