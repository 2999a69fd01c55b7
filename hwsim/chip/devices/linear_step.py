"""LinearStep: the step shrinks (or grows) linearly with the weight."""

from dataclasses import dataclass

from hwsim.chip.devices.base import DTOD, FIXED, PulsedParams
from hwsim._schema import option

_M = ("LinearStep",)


@dataclass(frozen=True)
class LinearStepParams(PulsedParams):
    """Linear step: w ← w + d·Δw^d·(γ^d_ij·w + 1 + dw_min_std·ξ) (additive noise) or
    d·Δw^d·(γ^d_ij·w + 1)·(1 + dw_min_std·ξ) (mult_noise), then clipped; slopes
    γ⁺_ij = −|gamma_up + gamma_up_dtod·ξ|/w_max, γ⁻_ij = −|gamma_down + gamma_down_dtod·ξ|/w_min
    with ``mean_bound_reference`` (aihwkit's default), or divided by each device's own
    b_max,ij / b_min,ij without it (docs/devices.md; aihwkit ``LinearStepDevice``). The
    deterministic factor γ·w + 1 is held at ≥ 0, so a step never reverses direction."""

    gamma_up: float = option(
        0.0, "Up-step slope γ⁺: 0.1 means the up step is 10 % smaller at b_max than at w = 0.",
        models=_M, sampled=FIXED)
    gamma_down: float = option(
        0.0, "Down-step slope γ⁻: 0.1 means the down step is 10 % smaller at b_min than at "
        "w = 0.", models=_M, sampled=FIXED)
    gamma_up_dtod: float = option(
        0.05, "Device-to-device spread of gamma_up (absolute, added before the magnitude).",
        ge=0.0, models=_M, sampled=DTOD)
    gamma_down_dtod: float = option(
        0.05, "Device-to-device spread of gamma_down (absolute, added before the magnitude).",
        ge=0.0, models=_M, sampled=DTOD)
    mult_noise: bool = option(
        True, "Multiplicative c2c noise (the whole step scales by 1 + dw_min_std·ξ) instead of "
        "additive (dw_min_std·ξ added to the factor).", models=_M, sampled=FIXED)
    mean_bound_reference: bool = option(
        True, "Divide each device's slope by the mean bounds w_max / w_min (true, aihwkit's "
        "default ls_mean_bound_reference) or by the device's own drawn bounds b_max,ij / "
        "b_min,ij (false): with true the step at a device's own bound is not exactly "
        "1 − gamma of the step at 0.", models=_M, sampled=FIXED)
