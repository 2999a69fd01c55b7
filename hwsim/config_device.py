"""``--set device.KEY=VALUE``: overrides of the device profile's ``[device]`` keys.

They are stored in a run config as ``chip.device_set`` lines (``"dw_min = 0.01"``) and
checked against the profile that ``chip.device`` names. Used by :mod:`hwsim.config`, which
re-exports :data:`DEVICE_PREFIX` and :func:`check_device_set`.
"""

import tomllib
from typing import Any

import tomli_w

from hwsim._schema import fmt
from hwsim.exceptions import ConfigError

__all__ = ["DEVICE_PREFIX", "set_device_key", "entry_key", "check_device_set"]


#: Prefix of a dotted key naming a ``[device]`` key of the resolved profile (``device.dw_min``).
DEVICE_PREFIX = "device."


def set_device_key(d: dict, key: str, value: Any, source: str) -> None:
    """Store ``device.KEY = value`` in raw config ``d`` as a ``chip.device_set`` line.

    Replaces a line for the same key; the line is checked against the profile later
    (:func:`check_device_set`).

    Raises
    ------
    ConfigError
        A dotted or empty key, or a value TOML cannot hold, naming ``source``.
    """
    if not key or "." in key:
        raise ConfigError(f"{source}: {DEVICE_PREFIX}{key}: name one key of the device "
                          "profile's [device] table, e.g. device.dw_min")
    try:
        line = tomli_w.dumps({key: value}).strip()
    except TypeError:
        raise ConfigError(f"{source}: {DEVICE_PREFIX}{key} = {fmt(value)}: not a TOML "
                          "value") from None
    chip = d.get("chip")
    if not isinstance(chip, dict):
        chip = d["chip"] = {}
    old = chip.get("device_set", [])
    kept = [e for e in old if isinstance(e, str) and entry_key(e) != key] \
        if isinstance(old, (list, tuple)) else []
    chip["device_set"] = kept + [line]


def entry_key(entry: str) -> str | None:
    """The key of a ``"key = value"`` line, or None when it is not one TOML key/value."""
    try:
        doc = tomllib.loads(entry)
    except tomllib.TOMLDecodeError:
        return None
    return next(iter(doc), None) if len(doc) == 1 else None


def check_device_set(cfg: "RunConfig", source: str) -> "RunConfig":
    """Validate ``cfg.chip.device_set`` against the profile ``cfg.chip.device`` names.

    Parameters
    ----------
    cfg : RunConfig
    source : str
        Label that starts error messages (the ``--set`` argument or the file).

    Returns
    -------
    RunConfig
        ``cfg`` itself.

    Raises
    ------
    ConfigError
        An unknown device key (naming the nearest valid key of the profile's model), a key of
        another model, or a value the model's schema rejects; as :func:`load_profile`.
    """
    if cfg.chip.device_set:
        from hwsim.chip.profiles import load_profile  # lazy: needs the device models

        label = f"{source} (device profile {cfg.chip.device})"
        load_profile(cfg.chip.device, cfg.chip.device_set, label)
    return cfg
