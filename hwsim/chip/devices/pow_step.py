"""PowStep: the step is a power of the distance to the bound (Fusi & Abbott synapse)."""

from dataclasses import dataclass

from hwsim.chip.devices.base import DTOD, FIXED, PulsedParams
from hwsim._schema import option

_M = ("PowStep",)


@dataclass(frozen=True)
class PowStepParams(PulsedParams):
    """Power step: ω = (b_max − w)/(b_max − b_min); up w ← w + Δw⁺·ω^γ⁺·(1 + σξ), down
    w ← w − Δw⁻·(1 − ω)^γ⁻·(1 + σξ); γ⁺ = pow_gamma·(h + min(pow_up_down, 0) + q),
    γ⁻ = pow_gamma·(h − max(pow_up_down, 0) − q), h = 1 + pow_gamma_dtod·ξ,
    q = pow_up_down_dtod·ξ; exponents below 0 are raised to 0 (docs/devices.md; aihwkit
    ``PowStepDevice``)."""

    pow_gamma: float = option(
        1.0, "Exponent γ of the distance to the bound (1 = soft bounds).", ge=0.0, models=_M,
        sampled=FIXED)
    pow_gamma_dtod: float = option(
        0.1, "Device-to-device spread of the exponent.", unit="relative to pow_gamma",
        ge=0.0, models=_M, sampled=DTOD)
    pow_up_down: float = option(
        0.0, "Up/down asymmetry of the exponent (same convention as up_down).",
        unit="relative to pow_gamma", ge=-1.0, le=1.0,
        why="an exponent pow_gamma·(1 − |pow_up_down|) below 0 is raised to 0, so values "
        "beyond ±1 would silently act as ±1", models=_M, sampled=FIXED)
    pow_up_down_dtod: float = option(
        0.0, "Device-to-device spread of the exponent asymmetry.",
        unit="relative to pow_gamma", ge=0.0, models=_M, sampled=DTOD)

    def suspicious_values(self) -> list[tuple[str, str]]:
        """As :meth:`PulsedParams.suspicious_values`, plus the exponent spread."""
        out = super().suspicious_values()
        if self.pow_gamma_dtod > 1:
            out.append(("pow_gamma_dtod", "relative spread above 1: more than 16 % of devices "
                        "draw a negative exponent (raised to 0: a constant step)"))
        return out
