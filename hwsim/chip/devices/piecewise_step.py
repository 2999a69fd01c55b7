"""PiecewiseStep: the step follows a table of multipliers over the weight range."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from hwsim.chip.devices.base import FIXED, PulsedParams
from hwsim._schema import option

_M = ("PiecewiseStep",)


@dataclass(frozen=True)
class PiecewiseStepParams(PulsedParams):
    """Piecewise step: w ← w + d·Δw^d·m^d(w)·(1 + dw_min_std·ξ), m^d linearly interpolated
    between multipliers at equally spaced nodes, the first at b_min,ij and the last at
    b_max,ij of each device (docs/devices.md; aihwkit ``PiecewiseStepDevice``)."""

    piecewise_up: tuple[float, ...] = option(
        (1.0,), "Up-step multipliers at equally spaced weight nodes from b_min to b_max "
        "([1.5, 1, 1.5]: dw_min at w = 0 rising to 1.5·dw_min at the bounds).",
        unit="relative to the device step", ge=0.0, min_len=1, models=_M, sampled=FIXED)
    piecewise_down: tuple[float, ...] = option(
        (1.0,), "Down-step multipliers at the same nodes (same length as piecewise_up).",
        unit="relative to the device step", ge=0.0, min_len=1, models=_M, sampled=FIXED)

    def _resolve(self, fail: Callable[..., NoReturn]) -> "PiecewiseStepParams":
        super()._resolve(fail)
        if len(self.piecewise_down) != len(self.piecewise_up):
            fail("piecewise_down", f"must have as many nodes as piecewise_up "
                 f"({len(self.piecewise_up)})", "piecewise_up")
        for key in ("piecewise_up", "piecewise_down"):
            if not any(getattr(self, key)):
                fail(key, "must hold a multiplier > 0: with all zero no pulse moves the "
                     "weight in that direction")
        return self
