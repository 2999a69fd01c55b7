"""ConstantStep: every pulse moves the weight by the device's own step, up to hard bounds."""

from dataclasses import dataclass

from hwsim.chip.devices.base import PulsedParams


@dataclass(frozen=True)
class ConstantStepParams(PulsedParams):
    """Constant step: w ← clip(w + d·Δw^d·(1 + dw_min_std·ξ), b_min, b_max) per pulse
    (docs/devices.md, "One pulse"; aihwkit ``ConstantStepDevice``)."""
