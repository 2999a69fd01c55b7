"""Writing device profiles back (TOML, dicts) and the tables `hwsim devices` prints.

Part of the profile API re-exported by :mod:`hwsim.chip.profiles`.
"""

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from hwsim.chip.profile_read import Profile, list_profiles, load_profile

__all__ = [
    "profile_to_dict", "profile_to_toml", "save_profile", "ParameterRow", "parameter_rows",
    "ProfileSummary", "profile_summaries",
]

# ---------------------------------------------------------------------------- writing

def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, Path):
        return os.fspath(v)
    return v


def profile_to_dict(profile: Profile, *, resolved: bool = False) -> dict[str, Any]:
    """Return a profile as plain TOML-able data (the inverse of :func:`profile_from_dict`).

    Parameters
    ----------
    profile : Profile
    resolved : bool
        False: ``[device]`` holds the model and the parameters the profile set or that differ
        from the model defaults. True: every parameter, as a run's resolved ``config.toml``
        needs (it reads back equal even if a model default changes later).

    Returns
    -------
    dict
        ``{"name", "description", "source", "notes", "device": {"model", ...}}``.
    """
    params = profile.params
    device: dict[str, Any] = {"model": profile.model}
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        if value is None:
            continue  # TOML has no null; an omitted key reads back as the default (None)
        if resolved or f.name in profile.explicit or value != default:
            device[f.name] = _plain(value)
    out: dict[str, Any] = {"name": profile.name}
    if profile.description:
        out["description"] = profile.description
    out["source"] = profile.source
    if profile.notes:
        out["notes"] = profile.notes
    out["device"] = device
    return out


def profile_to_toml(profile: Profile, *, resolved: bool = False) -> str:
    """Return a profile as TOML text that :func:`load_profile` reads back equal.

    Parameters
    ----------
    profile : Profile
    resolved : bool
        See :func:`profile_to_dict`.

    Returns
    -------
    str
        UTF-8 text (write it with ``encoding="utf-8"``).
    """
    return tomli_w.dumps(profile_to_dict(profile, resolved=resolved), multiline_strings=True)


def save_profile(profile: Profile, path: str | os.PathLike[str], *,
                 resolved: bool = False) -> None:
    """Write a profile as a UTF-8 TOML file (whatever the locale) that loads back equal.

    Parameters
    ----------
    profile : Profile
    path : str or PathLike
    resolved : bool
        See :func:`profile_to_dict`.
    """
    Path(path).write_bytes(profile_to_toml(profile, resolved=resolved).encode("utf-8"))


# ---------------------------------------------------------------------------- inspecting

def _field_unit(f: dataclasses.Field) -> str:
    return f.metadata.get("unit", "")


@dataclass(frozen=True)
class ParameterRow:
    """One parameter of a profile, as ``hwsim devices show`` prints it."""

    key: str  #: dotted key, e.g. ``device.dw_min``
    value: Any  #: resolved value
    unit: str  #: unit from the schema ("" when dimensionless)
    origin: str  #: ``"profile"`` (set by the file) or ``"default"`` (model default)
    doc: str  #: meaning, from the schema


def parameter_rows(profile: Profile) -> list[ParameterRow]:
    """Return every parameter of a profile with its resolved value, unit and origin.

    Parameters
    ----------
    profile : Profile

    Returns
    -------
    list of ParameterRow
        ``device.model`` first, then the model's fields in schema order.
    """
    rows = [ParameterRow("device.model", profile.model, "", "profile",
                         "Device model (see docs/devices.md).")]
    for f in dataclasses.fields(profile.params):
        rows.append(ParameterRow(
            f"device.{f.name}", getattr(profile.params, f.name), _field_unit(f),
            "profile" if profile.set_by_profile(f.name) else "default",
            f.metadata.get("doc", "")))
    return rows


@dataclass(frozen=True)
class ProfileSummary:
    """One line of ``hwsim devices list``."""

    name: str
    model: str
    states: float  #: (w_max − w_min)/dw_min, ``inf`` for Ideal
    source: str


def profile_summaries() -> list[ProfileSummary]:
    """Load every shipped profile and summarise it.

    Returns
    -------
    list of ProfileSummary
        Sorted by name.

    Raises
    ------
    ConfigError
        If a shipped profile is invalid (a bug in hwsim).
    """
    out = []
    for name in list_profiles():
        p = load_profile(name)
        out.append(ProfileSummary(name, p.model, p.n_states(), p.source))
    return out
