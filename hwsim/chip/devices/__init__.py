"""Synapse device models: parameters by name, and arrays of sampled devices.

Each model is one frozen parameter dataclass in its own module, registered by name in
:data:`REGISTRY` (an explicit dict: the names are part of every profile). :func:`params_for`
validates a raw mapping into parameters with the project's config errors;
:class:`DeviceArray` samples a seeded array of devices and runs the kernels of
:mod:`hwsim.kernels.devices`. Models and conventions: docs/devices.md.
"""

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from hwsim._schema import build_validated, did_you_mean, fmt
from hwsim.chip.devices.array import DeviceArray
from hwsim.chip.devices.base import PulsedParams
from hwsim.chip.devices.constant_step import ConstantStepParams
from hwsim.chip.devices.exp_step import ExpStepParams
from hwsim.chip.devices.ideal import IdealParams
from hwsim.chip.devices.linear_step import LinearStepParams
from hwsim.chip.devices.measured_lut import MeasuredLUTParams
from hwsim.chip.devices.piecewise_step import PiecewiseStepParams
from hwsim.chip.devices.pow_step import PowStepParams
from hwsim.chip.devices.registry import REGISTRY, model_name
from hwsim.chip.devices.soft_bounds import SoftBoundsParams
from hwsim.exceptions import ConfigError

__all__ = [
    "REGISTRY", "params_for", "to_dict", "model_name", "DeviceArray", "PulsedParams",
    "IdealParams", "ConstantStepParams", "LinearStepParams", "SoftBoundsParams",
    "ExpStepParams", "PowStepParams", "PiecewiseStepParams", "MeasuredLUTParams",
]


def params_for(model: str, raw: Mapping[str, Any] | None = None,
               source: str = "<dict>") -> Any:
    """Validate raw parameters of a device model.

    Parameters
    ----------
    model : str
        A key of :data:`REGISTRY`.
    raw : Mapping, optional
        Parameter name → value (as parsed from TOML); missing ones take the model defaults.
        A ``"model"`` key, if present, must equal ``model`` (so :func:`to_dict` output reads
        back). A relative ``lut_file`` is taken relative to the folder of ``source`` when
        ``source`` is an existing file.
    source : str
        Label that starts every error message (normally the profile's file name).

    Returns
    -------
    dataclass
        An instance of ``REGISTRY[model]``.

    Raises
    ------
    ConfigError
        For an unknown model (listing every valid name and the nearest), a parameter the
        model does not have (naming the nearest valid key), a value of the wrong type or out
        of range, or a broken cross-field rule.
    """
    if model not in REGISTRY:
        hint = did_you_mean(model, REGISTRY, fmt)
        raise ConfigError(f"{source}: model = {fmt(model)}: must be one of "
                          f"{', '.join(fmt(n) for n in REGISTRY)}{hint}")
    raw = dict(raw or {})
    if "model" in raw:
        given = raw.pop("model")
        if given != model:
            raise ConfigError(f"{source}: model = {fmt(given)}: does not match the model "
                              f"being built ({fmt(model)})")
    lut = raw.get("lut_file")
    if isinstance(lut, str) and lut and not os.path.isabs(lut) and os.path.isfile(source):
        raw["lut_file"] = os.path.join(os.path.dirname(os.path.abspath(source)), lut)
    return build_validated(REGISTRY[model], raw, source)


def to_dict(params: Any) -> dict[str, Any]:
    """Return ``{"model": name, field: value, ...}`` as plain TOML-able types.

    ``params_for(d["model"], d)`` rebuilds an equal object.

    Parameters
    ----------
    params : dataclass
        An instance of a class in :data:`REGISTRY`.

    Returns
    -------
    dict
    """
    out: dict[str, Any] = {"model": model_name(params)}
    for f in dataclasses.fields(params):
        v = getattr(params, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out
