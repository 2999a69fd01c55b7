"""Limits shared by the config sections."""

__all__ = ["MAX_STEPS"]

MAX_STEPS = 2**62  # step counters are int64 in the kernels; products must not overflow
