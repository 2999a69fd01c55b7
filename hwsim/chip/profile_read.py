"""Reading device profiles: the :class:`Profile` record, finding, loading and validating.

The file format and the public API are described in :mod:`hwsim.chip.profiles`, which
re-exports every name; writing is :mod:`hwsim.chip.profile_write`, the generated docs
:mod:`hwsim.chip.profile_docs`.
"""

import dataclasses
import math
import os
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwsim._schema import build_validated, did_you_mean, fmt, looks_like_path, read_toml
from hwsim.chip.devices import REGISTRY, model_name
from hwsim.exceptions import ConfigError, HwsimWarning

__all__ = [
    "PROFILE_DIR", "META", "Profile", "model_of", "n_states", "format_states", "list_profiles",
    "profile_path", "load_profile", "profile_from_dict", "profile_warnings",
]

#: Folder of the profiles shipped with hwsim (package data: installed with the package).
PROFILE_DIR = Path(__file__).resolve().parent.parent / "devices"

#: Top-level metadata keys of a profile: (key, required, meaning).
META = (
    ("name", True, "Short identifier of the device, e.g. \"reram_es\"."),
    ("description", False, "One or two sentences: what the device is."),
    ("source", True, "Where the values come from: citation with DOI or URL (paper and figure), "
                     "or your own measurement."),
    ("notes", False, "Anything a reader must know: which values were re-derived, which are "
                     "model defaults because the source does not give them, units used."),
)
_META_KEYS = tuple(k for k, _, _ in META)


# ---------------------------------------------------------------------------- the profile

@dataclass(frozen=True)
class Profile:
    """A validated device profile.

    Two profiles are equal when their metadata and resolved parameters are equal, wherever
    they were read from and whichever parameters they spelled out. Build one with
    :func:`load_profile` or :func:`profile_from_dict`, which check the metadata and warn
    about suspicious values; ``params`` validated itself when it was built.

    Parameters
    ----------
    name : str
        Short identifier (the file stem for shipped profiles).
    source : str
        Citation of the data (DOI or URL), or "own measurement, ...".
    params : dataclass
        Validated parameters of the model, an instance of ``hwsim.chip.devices.REGISTRY[model]``.
    description : str
    notes : str
    path : Path or None
        File it was read from (None when built from a mapping).
    explicit : tuple of str
        ``[device]`` keys the file set (without ``model``), in schema order; the others are
        model defaults.
    """

    name: str
    source: str
    params: Any
    description: str = ""
    notes: str = ""
    path: Path | None = field(default=None, compare=False)
    explicit: tuple[str, ...] = field(default=(), compare=False)

    @property
    def model(self) -> str:
        """Name of the device model (a key of ``hwsim.chip.devices.REGISTRY``)."""
        return model_of(self.params)

    def n_states(self) -> float:
        """Number of states: (w_max − w_min)/dw_min (``n_states`` if quantized; Ideal: inf)."""
        return n_states(self.params)

    def set_by_profile(self, key: str) -> bool:
        """True when ``key`` was given in the profile, False when it is the model default."""
        return key in self.explicit


def model_of(params: Any) -> str:
    """Return the registry name of a parameter object's model.

    Parameters
    ----------
    params : dataclass
        An instance of a class in ``hwsim.chip.devices.REGISTRY``.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If ``params`` is not an instance of a registered parameter class.
    """
    return model_name(params)


def n_states(params: Any) -> float:
    """Return the number of device states, as ``DeviceArray.n_states()`` reports it (case D7).

    Parameters
    ----------
    params : dataclass
        Device parameters.

    Returns
    -------
    float
        ``n_states`` when the model is quantized, else (w_max − w_min)/dw_min; ``inf`` for
        the Ideal model (no step, no bounds).
    """
    levels = getattr(params, "n_states", 0)
    if levels:
        return float(levels)
    return float(params.number_of_states())


def format_states(x: float) -> str:
    """Render a number of states for tables: ``"∞"``, ``"1250"`` or ``"7089.3"``."""
    if math.isinf(x):
        return "∞"
    return f"{x:.0f}" if abs(x - round(x)) < 1e-6 * max(1.0, abs(x)) else f"{x:.1f}"


# ---------------------------------------------------------------------------- reading

def list_profiles() -> list[str]:
    """Return the names of the profiles shipped with hwsim, sorted.

    Returns
    -------
    list of str
    """
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def profile_path(name_or_path: str | os.PathLike[str]) -> Path:
    """Resolve a shipped profile name or a file path to the TOML file to read.

    A string ending in ``.toml`` or containing a path separator (and any ``PathLike``) is a
    path; any other string is the name of a shipped profile, or failing that a file of that
    name in the current folder.

    Parameters
    ----------
    name_or_path : str or PathLike

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        For a bare name that is neither shipped nor an existing file; the message lists the
        shipped names and the nearest one.
    """
    if isinstance(name_or_path, os.PathLike) or looks_like_path(str(name_or_path)):
        return Path(name_or_path)
    name = str(name_or_path)
    shipped = PROFILE_DIR / f"{name}.toml"
    if shipped.is_file():
        return shipped
    if Path(name).is_file():
        return Path(name)
    names = list_profiles()
    hint = did_you_mean(name, names)
    raise ConfigError(f"{name}: no shipped device profile of that name{hint} "
                      f"(searched {PROFILE_DIR} and the working folder {Path.cwd()}; "
                      f"shipped: {', '.join(names)}; or give the path of a .toml file)")


def load_profile(name_or_path: str | os.PathLike[str], overrides: tuple[str, ...] = (),
                 overrides_source: str | None = None) -> Profile:
    """Read and validate a device profile.

    Parameters
    ----------
    name_or_path : str or PathLike
        The name of a shipped profile (``"reram_es"``, see :func:`list_profiles`) or the path
        of a TOML file (see :func:`profile_path`).
    overrides : tuple of str
        ``"key = value"`` TOML lines replacing ``[device]`` keys of the file (a run config's
        ``chip.device_set``, written by ``--set device.KEY=VALUE``); the result is validated
        like a profile that spelled those values out, and its ``notes`` list the overrides.
    overrides_source : str, optional
        Label that starts errors caused by the overrides (default: the file and
        ``chip.device_set``).

    Returns
    -------
    Profile

    Raises
    ------
    ConfigError
        If the file is missing, unreadable, not UTF-8 or not TOML; a metadata key is missing
        or not a string; the model is unknown (the message lists the valid ones); or any
        parameter is unknown (naming the nearest valid key), of the wrong type, NaN/inf or
        out of range, or physically meaningless (a step larger than the whole range, noise
        wider than it, |up_down| ≥ 1, ...: the reason is given). Messages start with the
        file and name the dotted key and the value.

    Warns
    -----
    HwsimWarning
        For each valid but suspicious value (:func:`profile_warnings`), e.g. fewer than 2
        states.
    """
    path = profile_path(name_or_path)
    raw = read_toml(path, "device profile")
    profile = profile_from_dict(raw, os.fspath(path), path=path.resolve())
    if not overrides:
        return profile
    return _with_overrides(raw, overrides, overrides_source
                           or f"{os.fspath(path)} with chip.device_set", path.resolve())


def _with_overrides(raw: Mapping[str, Any], overrides: tuple[str, ...], source: str,
                    path: Path) -> Profile:
    """The profile ``raw`` with ``"key = value"`` lines replacing keys of its ``[device]``."""
    device = dict(raw["device"])
    for line in overrides:
        try:
            (key, value), = tomllib.loads(line).items()
        except (tomllib.TOMLDecodeError, ValueError):
            raise ConfigError(f"{source}: chip.device_set entry {fmt(line)}: must be one "
                              "'key = value' TOML line") from None
        if key == "model":
            raise ConfigError(f"{source}: device.model: the model of a profile cannot be "
                              "overridden; name another profile with chip.device")
        device[key] = value
    notes = raw.get("notes", "")
    added = "overridden by chip.device_set: " + "; ".join(overrides)
    merged = {**raw, "device": device, "notes": f"{notes} {added}".strip()}
    return profile_from_dict(merged, source, path=path)


def profile_from_dict(raw: Mapping[str, Any], source: str = "<dict>", *,
                      path: Path | None = None) -> Profile:
    """Validate a profile given as a mapping (a parsed TOML document).

    Parameters
    ----------
    raw : Mapping
        Metadata keys at the top level and a ``device`` sub-mapping with ``model``.
    source : str
        Label that starts every error message (normally the file name).
    path : Path, optional
        Stored in :attr:`Profile.path`; relative ``lut_file`` paths are resolved against its
        folder.

    Returns
    -------
    Profile

    Raises
    ------
    ConfigError
        As :func:`load_profile`.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: a device profile must be a TOML table")
    valid = ", ".join((*_META_KEYS, "[device]"))
    for key, value in raw.items():
        if key not in _META_KEYS and key != "device":
            hint = did_you_mean(key, [*_META_KEYS, "device"])
            where = f"[{key}]" if isinstance(value, Mapping) else key
            what = "unknown section" if isinstance(value, Mapping) else "unknown key"
            raise ConfigError(f"{source}: {where}: {what}{hint} (valid keys: {valid})")
    meta = {}
    for key, required, _ in META:
        if key not in raw:
            if required:
                raise ConfigError(f"{source}: {key}: required key missing (every profile needs "
                                  "a name and a source: the citation with DOI or URL)")
            meta[key] = ""
            continue
        value = raw[key]
        if not isinstance(value, str) or (required and not value.strip()):
            raise ConfigError(f"{source}: {key} = {fmt(value)}: must be a "
                              f"{'non-empty ' if required else ''}string")
        meta[key] = value
    if "device" not in raw:
        raise ConfigError(f"{source}: [device]: required table missing (it names the model: "
                          "[device] model = \"...\")")
    device = raw["device"]
    if not isinstance(device, Mapping):
        raise ConfigError(f"{source}: device = {fmt(device)}: must be a table [device]")
    params, explicit = _device_params(dict(device), source, path)
    profile = Profile(name=meta["name"], source=meta["source"], params=params,
                      description=meta["description"], notes=meta["notes"], path=path,
                      explicit=explicit)
    for message in profile_warnings(profile, source):
        warnings.warn(message, HwsimWarning, stacklevel=2)
    return profile


def profile_warnings(profile: Profile, source: str | None = None) -> list[str]:
    """Return a warning for every valid but suspicious parameter of a profile.

    Parameters
    ----------
    profile : Profile
    source : str, optional
        Label that starts each message (default: the profile's file, or its name).

    Returns
    -------
    list of str
        ``"<source>: device.<key> = <value>: <reason>"``, one per value that
        ``params.suspicious_values()`` doubts (e.g. fewer than 2 states).
    """
    source = source or (os.fspath(profile.path) if profile.path else profile.name)
    return [f"{source}: device.{key} = {fmt(getattr(profile.params, key))}: {reason}"
            for key, reason in profile.params.suspicious_values()]


def _device_params(device: dict, source: str, path: Path | None) -> tuple[Any, tuple[str, ...]]:
    registry = REGISTRY
    choices = ", ".join(fmt(n) for n in registry)
    if "model" not in device:
        typo = next((k for k in device if did_you_mean(k, ["model"])), None)
        if typo is not None:
            raise ConfigError(f"{source}: device.{typo}: unknown key; did you mean 'model'?")
        raise ConfigError(f"{source}: device.model: required key missing (one of {choices})")
    model = device.pop("model")
    if model not in registry:
        hint = did_you_mean(model, registry, fmt)
        raise ConfigError(f"{source}: device.model = {fmt(model)}: must be one of {choices}{hint}")
    cls = registry[model]
    fields = {f.name for f in dataclasses.fields(cls)}
    for key in device:
        if key not in fields:
            others = [n for n, c in registry.items()
                      if n != model and key in {f.name for f in dataclasses.fields(c)}]
            if others:  # a real parameter, of another model: say so rather than "typo"
                raise ConfigError(
                    f"{source}: device.{key}: not a parameter of model {fmt(model)} (it "
                    f"belongs to {', '.join(others)}; valid keys: "
                    f"{', '.join(f.name for f in dataclasses.fields(cls)) or 'none'})")
    if path is not None and isinstance(device.get("lut_file"), str) and device["lut_file"]:
        lut = Path(device["lut_file"])
        if not lut.is_absolute():  # a measured table sits next to its profile
            device["lut_file"] = os.fspath(path.parent / lut)
    params = build_validated(cls, device, source, prefix="device.")
    explicit = tuple(f.name for f in dataclasses.fields(cls) if f.name in device)
    return params, explicit
