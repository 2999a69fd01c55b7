"""The registry of device models: name → parameter class (style rule 3).

Its own module so that :mod:`hwsim.chip.devices.array` can look models up without
importing the package ``__init__`` that imports it (no import cycle).
"""

from typing import Any

from hwsim.chip.devices.constant_step import ConstantStepParams
from hwsim.chip.devices.exp_step import ExpStepParams
from hwsim.chip.devices.ideal import IdealParams
from hwsim.chip.devices.linear_step import LinearStepParams
from hwsim.chip.devices.measured_lut import MeasuredLUTParams
from hwsim.chip.devices.piecewise_step import PiecewiseStepParams
from hwsim.chip.devices.pow_step import PowStepParams
from hwsim.chip.devices.soft_bounds import SoftBoundsParams

__all__ = ["REGISTRY", "model_name"]

#: Model name → parameter class. The names are what profiles write in ``model = "..."``.
REGISTRY: dict[str, type] = {
    "Ideal": IdealParams,
    "ConstantStep": ConstantStepParams,
    "LinearStep": LinearStepParams,
    "SoftBounds": SoftBoundsParams,
    "ExpStep": ExpStepParams,
    "PowStep": PowStepParams,
    "PiecewiseStep": PiecewiseStepParams,
    "MeasuredLUT": MeasuredLUTParams,
}


def model_name(params: Any) -> str:
    """Return the registry name of a parameter object.

    Parameters
    ----------
    params : dataclass
        An instance of a class in :data:`REGISTRY`.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If ``params`` is not an instance of a registered class.
    """
    for name, cls in REGISTRY.items():
        if type(params) is cls:
            return name
    raise TypeError(f"{type(params).__name__} is not a registered device parameter class")
