"""Ideal: floating-point weights, the reference every device is compared with."""

from dataclasses import dataclass

from hwsim._schema import Schema


@dataclass(frozen=True)
class IdealParams(Schema, section="device"):
    """Floating-point weights: no pulses, no bounds, no noise; a requested change is applied
    exactly (docs/devices.md, published fits, row "Ideal")."""

    def has_write_noise(self) -> bool:
        """Always False."""
        return False

    def has_decay(self) -> bool:
        """Always False."""
        return False

    def has_drift(self) -> bool:
        """Always False."""
        return False

    def has_read_noise(self) -> bool:
        """Always False."""
        return False

    def is_quantized(self) -> bool:
        """Always False."""
        return False

    def suspicious_values(self) -> list[tuple[str, str]]:
        """Always empty: floating-point weights have nothing physical to doubt."""
        return []

    def number_of_states(self) -> float:
        """Infinite: weights are continuous and unbounded."""
        return float("inf")
