"""ExpStep: the step falls off exponentially toward the bounds (CMOS-like, ReRAM, PCM)."""

from dataclasses import dataclass

from hwsim.chip.devices.base import C2C, FIXED, PulsedParams
from hwsim._schema import option

_M = ("ExpStep",)


@dataclass(frozen=True)
class ExpStepParams(PulsedParams):
    """Exponential step: z = 2a·w/(b_max − b_min) + b; up y = 1 − A_up·exp(γ_up·z), down
    y = 1 − A_down·exp(−γ_down·z); w ← w + d·max(y, 0)·Δw^d·(1 + dw_min_std·ξ). With
    dw_min_std_add or dw_min_std_slope set the noise is additive:
    w ← w + d·max(y, 0)·Δw^d + dw_min_std·(|step| + dw_min_std_add + dw_min_std_slope·|w|)·ξ
    (docs/devices.md; aihwkit ``ExpStepDevice``, defaults from its fit)."""

    A_up: float = option(
        0.00081, "Amplitude A_up of the exponential fall-off of the up step "
        "(y = 1 − A_up·exp(γ_up·z); negative values make steps grow).", models=_M,
        sampled=FIXED)
    A_down: float = option(
        0.36833, "Amplitude A_down of the exponential fall-off of the down step "
        "(y = 1 − A_down·exp(−γ_down·z)).", models=_M, sampled=FIXED)
    gamma_up: float = option(
        12.44625, "Exponent γ_up: how fast the up step falls off with z.", models=_M,
        sampled=FIXED)
    gamma_down: float = option(
        12.78785, "Exponent γ_down: how fast the down step falls off with −z.", models=_M,
        sampled=FIXED)
    a: float = option(
        0.244, "Slope a of the normalized weight z = 2a·w/(b_max − b_min) + b.", models=_M,
        sampled=FIXED)
    b: float = option(
        0.2425, "Offset b of the normalized weight z = 2a·w/(b_max − b_min) + b.", models=_M,
        sampled=FIXED)
    dw_min_std_add: float = option(
        0.0, "Additive part of the c2c noise std (switches to the additive noise form).",
        unit="weight units", ge=0.0, models=_M, sampled=C2C)
    dw_min_std_slope: float = option(
        0.0, "Part of the c2c noise std proportional to |w| (switches to the additive noise "
        "form).", unit="relative to |w|", ge=0.0, models=_M, sampled=C2C)
