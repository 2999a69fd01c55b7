"""Device profiles: one TOML file per device, naming its model, its parameters and its source.

A profile is data, not code. It is UTF-8 TOML with four metadata keys at the top and one
``[device]`` table::

    name = "my_reram"                       # required: short identifier
    description = "HfO2 ReRAM, 3 µm, wafer B"
    source = "A. Author et al., Journal 1, 2 (2024), doi:10.xxxx/yyyy"   # required
    notes = "dw_min from Fig. 3b; w_min_dtod not measured (model default)."

    [device]
    model = "ExpStep"                       # required: a name of hwsim.chip.devices.REGISTRY
    dw_min = 0.00135                        # only the parameters that differ from the defaults
    up_down = 0.26

:func:`load_profile` resolves a bare name to the profiles shipped with hwsim
(``hwsim/devices/<name>.toml``, installed as package data) or reads a path, validates every
value against the model's schema (the same rules and messages as run configs:
:func:`hwsim._schema.build_validated`) and returns a frozen :class:`Profile`.
:func:`profile_warnings` lists valid but suspicious values (also issued as
:class:`~hwsim.exceptions.HwsimWarning` on loading).
:func:`profile_to_toml` and :func:`profile_to_dict` write it back (``resolved=True``: every
parameter, for a run's fully resolved ``config.toml``). Only TOML (and, for measured
look-up tables, CSV read by the device model) is ever parsed: no pickle, no eval.

``python -m hwsim.chip.profiles`` prints the generated part of docs/devices.md;
``python -m hwsim.chip.profiles --write docs/devices.md`` updates that part in place and keeps
the hand-written part below the marker line.
"""

import dataclasses
import inspect
import math
import os
import sys
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from hwsim._schema import (
    allowed_text, build_validated, default_text, did_you_mean, fmt, looks_like_path, read_toml,
    type_name,
)
from hwsim.chip.devices import REGISTRY, PulsedParams, model_name
from hwsim.exceptions import ConfigError, HwsimWarning

__all__ = [
    "Profile", "PROFILE_DIR", "load_profile", "profile_from_dict", "profile_to_dict",
    "profile_to_toml", "save_profile", "list_profiles", "profile_path", "model_of", "n_states",
    "format_states", "ParameterRow", "parameter_rows", "ProfileSummary", "profile_summaries",
    "devices_markdown", "write_devices_doc", "profile_warnings", "DOC_MARKER", "EXAMPLE_PROFILE",
    "EXAMPLE_LUT_CSV", "EXAMPLE_LUT_PROFILE",
]

#: Folder of the profiles shipped with hwsim (package data: installed with the package).
PROFILE_DIR = Path(__file__).resolve().parent.parent / "devices"

#: Top-level metadata keys: (key, required, meaning).
_META = (
    ("name", True, "Short identifier of the device, e.g. \"reram_es\"."),
    ("description", False, "One or two sentences: what the device is."),
    ("source", True, "Where the values come from: citation with DOI or URL (paper and figure), "
                     "or your own measurement."),
    ("notes", False, "Anything a reader must know: which values were re-derived, which are "
                     "model defaults because the source does not give them, units used."),
)
_META_KEYS = tuple(k for k, _, _ in _META)


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
    for key, required, _ in _META:
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


# ---------------------------------------------------------------------------- docs

#: Line separating the generated part of docs/devices.md from the hand-written part below.
DOC_MARKER = ("<!-- END OF GENERATED PART. Everything above is generated by "
              "`python -m hwsim.chip.profiles --write docs/devices.md`; everything below is "
              "written by hand and kept when regenerating. -->")

_HAND_WRITTEN_PLACEHOLDER = """
## Training on each shipped profile

<!-- PLACEHOLDER: to be filled by the lead engineer with measured results (task, network,
accuracy and hardware time to target per profile). -->
"""


#: The complete example of "Writing your own profile" (docs/devices.md); a test loads it.
EXAMPLE_PROFILE = """\
name = "hfo2_3um"
description = "HfO₂ ReRAM, 3 µm cells, wafer B, 100 ns pulses at ±1.2 V"
source = "Own measurement, lab notebook 2024-03, Fig. 2 of our internal report; fit as in N. Gong et al., Nat. Commun. 9, 2102 (2018), doi:10.1038/s41467-018-04485-1"
notes = \"\"\"\\
dw_min, up_down and the bounds fitted to the mean of 32 devices (Fig. 2a); \\
dw_min_dtod and dw_min_std from their spread. Not measured: write noise (model default).\\
\"\"\"

[device]
model = "ExpStep"
dw_min = 0.002
up_down = 0.1
w_max = 1.0
w_min = -1.0
a = -0.5
b = -0.5
gamma_up = 4.0
gamma_down = 4.0
A_up = -1.2
A_down = -0.1
dw_min_dtod = 0.25
dw_min_std = 2.0
"""


#: The measured-table example of "Writing your own profile": a CSV and the profile naming it.
EXAMPLE_LUT_CSV = """\
# mean step of one 100 ns pulse vs weight, 32 devices
w,dw_up,dw_down
-1.0,0.0040,-0.0008
-0.5,0.0031,-0.0015
0.0,0.0022,-0.0022
0.5,0.0014,-0.0030
1.0,0.0007,-0.0041
"""
EXAMPLE_LUT_PROFILE = """\
name = "hfo2_3um_lut"
source = "Own measurement, lab notebook 2024-03, Fig. 2b (raw pulse trains)"

[device]
model = "MeasuredLUT"
lut_file = "hfo2_3um_steps.csv"
dw_min = 0.002
w_max = 1.0
w_min = -1.0
dw_min_dtod = 0.25
dw_min_std = 2.0
"""

def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _field_table(fields) -> list[str]:
    out = ["| key | type | default | unit | allowed | sampled | meaning |",
           "|---|---|---|---|---|---|---|"]
    for f in fields:
        m = f.metadata
        cells = [f"`{f.name}`", type_name(f), default_text(f), m.get("unit") or "—",
                 allowed_text(f), m.get("sampled") or "—", m.get("doc", "")]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return out + [""]


def _doc_lines() -> list[str]:
    registry = REGISTRY
    meta_rows = [f"| `{k}` | {'yes' if req else 'no'} | {_cell(doc)} |" for k, req, doc in _META]
    out = [
        "# Device profiles and models",
        "",
        "<!-- Generated by `python -m hwsim.chip.profiles --write docs/devices.md` from the "
        "schemas in hwsim/chip/devices/ and the profiles in hwsim/devices/; do not edit the "
        "generated part by hand (tests/test_profiles.py checks it is current). -->",
        "",
        "A **device profile** describes one synapse device: which model of "
        "`hwsim.chip.devices` it follows, the parameters that differ from that model's "
        "defaults, and where the values come from. Parameter names and meanings follow IBM's "
        "aihwkit, so an aihwkit device config translates field by field.",
        "",
        "```bash",
        "hwsim devices list                      # shipped profiles: name, model, states, source",
        "hwsim devices show reram_es             # every parameter: value, unit, set or default",
        "hwsim devices validate my_device.toml   # 'ok: ...' (exit 0) or the error (exit 2)",
        "hwsim devices plot reram_es --pulses 2000 --devices 20 --out reram_es.png",
        "```",
        "",
        "`plot` drives K devices up N pulses and then down N pulses and draws the weight "
        "against the pulse number (thin line per device, bold mean): the curve to hold next "
        "to measured data.",
        "",
        "## Profile format",
        "",
        "One TOML file (TOML 1.0, UTF-8; anything else is an error saying \"TOML must be "
        "UTF-8\") with these keys at the top level, then a `[device]` table:",
        "",
        "| key | required | meaning |",
        "|---|---|---|",
        *meta_rows,
        "",
        "`[device]` holds `model` (one of " + ", ".join(f"`{fmt(n)}`" for n in registry)
        + ") and any parameter of that model from the tables below; parameters left out take "
        "the model's default. Validation is the same as for run configs: unknown keys are "
        "errors naming the nearest valid key (and, for a parameter of another model, that "
        "model), values must have the type and range shown, NaN and infinity are rejected, "
        "and every error is one line naming the file, the dotted key and the value:",
        "",
        "```",
        "my_device.toml: device.dw_mni: unknown key; did you mean 'dw_min'? (valid keys: ...)",
        "my_device.toml: device.dw_min = nan: must be a finite number > 0.0",
        "my_device.toml: device.model = \"ExpSteps\": must be one of ...; did you mean "
        "\"ExpStep\"?",
        "```",
        "",
        "Values no device could have are refused with the reason: a step larger than the "
        "whole range w_max − w_min, a noise or spread wider than that range, |up_down| ≥ 1 "
        "(one direction would not move), 0 < lifetime < 1 (a negative decay factor), an "
        "all-zero step table. Values that are valid but unlike any real device (fewer than 2 "
        "states, dw_min_std > 10, a relative device-to-device spread > 1, a reset value "
        "outside [w_min, w_max]) load with a `HwsimWarning`, which `hwsim devices validate` "
        "prints as `warning: ...` on stderr.",
        "",
        "A bare name (`reram_es`) means a profile shipped with hwsim (the folder "
        "`hwsim/devices/`, installed with the package); a string ending in `.toml` or "
        "containing a path separator is a file. A relative `lut_file` is read relative to "
        "the profile's folder, and a relative `chip.device` path in a run config is read "
        "relative to the config file's folder. Only TOML and CSV are parsed: never pickle or "
        "code.",
        "",
        "**Round trip.** `profile_to_toml(load_profile(x))` reads back as an equal profile; "
        "with `resolved=True` it spells out every parameter, which is what a run folder's "
        "`config.toml` records.",
        "",
        "**States.** `states` = (w_max − w_min)/dw_min, the number of minimal steps across "
        "the nominal range (∞ for Ideal); nonlinear models take more pulses than that to "
        "cross their range.",
        "",
        "## Shipped profiles",
        "",
        "| name | model | states | source |",
        "|---|---|---|---|",
    ]
    for s in profile_summaries():
        out.append(f"| `{s.name}` | {s.model} | {format_states(s.states)} | {_cell(s.source)} |")
    out.append("")
    out.append("Each profile's `notes` say how the published values map onto parameters "
               "(`hwsim devices show NAME`).")
    out.append("")
    out += ["## Writing your own profile", "",
            "Start from the shipped profile whose model fits your device best "
            "(`hwsim devices show NAME` lists every parameter), copy its file, replace the "
            "values you measured, delete the ones you did not (they fall back to the model "
            "defaults) and say so in `notes`. A complete example:", "",
            "```toml", EXAMPLE_PROFILE.rstrip("\n"), "```", "",
            "Check it, look at it, then use it:", "",
            "```bash",
            "hwsim devices validate hfo2_3um.toml",
            "hwsim devices show hfo2_3um.toml",
            "hwsim devices plot hfo2_3um.toml --out hfo2_3um.png   # compare with your data",
            "```", "",
            "From Python: `hwsim.chip.profiles.load_profile(\"hfo2_3um.toml\")` returns a frozen "
            "`Profile` (`name`, `source`, `params`, `model`, `n_states()`).", "",
            "**From raw pulse data.** With measured steps rather than a fitted model, use "
            "`model = \"MeasuredLUT\"` and a CSV next to the profile: header "
            "`w,dw_up,dw_down`, one row per weight node with `w` increasing, the mean change "
            "of one up and one down pulse at that weight (signs ignored), `#` lines as "
            "comments. Set `dw_min` to the typical step: the controller counts pulses with "
            "it. The table is read at validation, so `resolved=True` output carries the data "
            "itself. `hfo2_3um_steps.csv`:", "",
            "```", EXAMPLE_LUT_CSV.rstrip("\n"), "```", "",
            "and `hfo2_3um_lut.toml`:", "",
            "```toml", EXAMPLE_LUT_PROFILE.rstrip("\n"), "```", ""]
    out += ["## Models", "",
            "Every parameter of every model: type, default, unit, allowed values, when the "
            "value is sampled (dtod: once per device at construction; c2c: at every pulse) "
            "and its meaning. Spreads are relative to the parameter they spread unless the "
            "unit says otherwise. Every pulsed model (all but `Ideal`) has the common "
            "parameters of the first table; each model's own table lists what it adds or "
            "defaults differently.", ""]
    common_cls = PulsedParams
    common = {f.name: f for f in dataclasses.fields(common_cls)}
    out += ["### Common to every pulsed model", "", _cell(inspect.cleandoc(common_cls.__doc__
                                                                         or "")), ""]
    out += _field_table(common.values())
    for name, cls in registry.items():
        out += [f"### `{name}`", "", _cell(inspect.cleandoc(cls.__doc__ or "")), ""]
        fields = dataclasses.fields(cls)
        if not fields:
            out += ["No parameters.", ""]
            continue
        own = [f for f in fields if f.name not in common or default_text(f) != default_text(
            common[f.name]) or f.metadata != common[f.name].metadata]
        if issubclass(cls, common_cls):
            out += ["All the common parameters, plus:" if own else
                    "The common parameters only.", ""]
        if own:
            out += _field_table(own)
    return out


def devices_markdown() -> str:
    """Return the generated part of docs/devices.md, ending with :data:`DOC_MARKER`.

    Returns
    -------
    str
        Per-model parameter tables from the schema metadata, the shipped profiles, and
        "Writing your own profile".
    """
    return "\n".join(_doc_lines()) + "\n" + DOC_MARKER + "\n"


def write_devices_doc(path: str | os.PathLike[str]) -> None:
    """Rewrite the generated part of a docs file in place, keeping the part below the marker.

    Parameters
    ----------
    path : str or PathLike
        docs/devices.md. When it does not exist or has no marker, the hand-written part is
        the placeholder section "Training on each shipped profile".
    """
    path = Path(path)
    tail = _HAND_WRITTEN_PLACEHOLDER
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if DOC_MARKER in old:
            tail = old.split(DOC_MARKER, 1)[1].removeprefix("\n")
    path.write_text(devices_markdown() + tail, encoding="utf-8")


def _main(argv: list[str]) -> int:
    if argv[:1] == ["--write"] and len(argv) == 2:
        write_devices_doc(argv[1])
        return 0
    if argv:
        print("usage: python -m hwsim.chip.profiles [--write docs/devices.md]", file=sys.stderr)
        return 2
    sys.stdout.reconfigure(encoding="utf-8")
    sys.stdout.write(devices_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
