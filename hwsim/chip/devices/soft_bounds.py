"""SoftBounds: the step shrinks linearly to zero at each bound."""

from dataclasses import dataclass

from hwsim.chip.devices.base import FIXED, PulsedParams
from hwsim._schema import option


@dataclass(frozen=True)
class SoftBoundsParams(PulsedParams):
    """Soft bounds: LinearStep with γ = 1 and no slope spread, so γ⁺_ij = −1/b_max,ij and
    γ⁻_ij = −1/b_min,ij: from w₀, n noise-free up pulses give
    b_max − (b_max − w₀)(1 − Δw⁺/b_max)ⁿ (docs/devices.md; aihwkit ``SoftBoundsDevice``)."""

    mult_noise: bool = option(
        True, "Multiplicative c2c noise (the whole step scales by 1 + dw_min_std·ξ) instead of "
        "additive.", models=("SoftBounds",), sampled=FIXED)
