"""Old home of the ``[hardware]`` section, kept importable: see :mod:`hwsim.sections.hardware`."""

from hwsim.sections.hardware import WRITE_MODES, HardwareConfig

__all__ = ["HardwareConfig", "WRITE_MODES"]
