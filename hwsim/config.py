"""Run configuration: one validated TOML file, described by one schema.

The schema is frozen dataclasses, one module per section in :mod:`hwsim.sections`
(``task``, ``network``, ``mgd``, ``learn``, ``chip`` with its signal path, ``sim``,
``hardware``, ``diagnostics``), all re-exported here, so ``from hwsim.config import
ChipConfig`` works. Every setting is one :func:`option` declaration carrying its default,
doc, unit and allowed values; validation, error messages and ``docs/config.md`` are all
derived from that metadata, so the docs cannot drift. To add a setting, add one
``option(...)`` line; to add a section, write a dataclass in a module of
:mod:`hwsim.sections` (its docstring is its documentation) and add one
``field(default_factory=...)`` line to :class:`RunConfig`. Cross-field rules live in a
section's ``_resolve`` method. Regenerate the docs with
``python -m hwsim.config > docs/config.md`` (a test fails until you do).

Every section validates when it is built (the engine is :mod:`hwsim._schema`), so
``MgdConfig(eta=-5)`` and ``dataclasses.replace(cfg.sim, steps=-1)`` raise a
:class:`~hwsim.exceptions.ConfigError` naming the dotted key. :func:`load_config`,
:meth:`RunConfig.from_dict` and :meth:`RunConfig.with_overrides` add where each value came
from (the file, or the ``--set`` argument) at the start of the message.
"""

import dataclasses
import os
import sys
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import tomli_w

from hwsim._configdoc import markdown
from hwsim._schema import (
    Schema, build_validated, fmt, is_section, iter_fields as _iter_schema_fields,
    option, read_toml, to_plain, unknown_key_error,
)
from hwsim.config_device import DEVICE_PREFIX, check_device_set, set_device_key
from hwsim.config_paths import resolve_device, resolve_task_paths
from hwsim.exceptions import ConfigError
from hwsim.sections.chip import ChipConfig, device_set_entries
from hwsim.sections.diagnostics import DiagnosticsConfig
from hwsim.sections.hardware import HardwareConfig
from hwsim.sections.learn import LearnConfig
from hwsim.sections.limits import MAX_STEPS
from hwsim.sections.mgd import MgdConfig
from hwsim.sections.network import NetworkConfig
from hwsim.sections.rules import check_cross_section
from hwsim.sections.signal import CostLineConfig, IntegratorConfig, SourceConfig
from hwsim.sections.sim import SimConfig
from hwsim.sections.task import BUILTIN_TASKS, FILE_TASKS, TASK_PATH_KEYS, TaskConfig

__all__ = [
    "RunConfig", "TaskConfig", "NetworkConfig", "MgdConfig", "LearnConfig", "ChipConfig",
    "CostLineConfig", "IntegratorConfig", "SourceConfig",
    "SimConfig", "HardwareConfig", "DiagnosticsConfig",
    "load_config", "dump_config", "config_markdown", "iter_fields", "option", "read_toml",
    "build_validated", "fmt", "parse_override", "set_dotted", "MAX_STEPS", "DEVICE_PREFIX",
    "check_device_set", "device_set_entries", "device_set_from_args", "FILE_TASKS",
    "BUILTIN_TASKS", "TASK_PATH_KEYS",
]


@dataclass(frozen=True)
class RunConfig(Schema, section=""):
    """Settings outside any section."""

    seed: int = option(0, "Master random seed; every random stream derives from it.",
                       ge=0, lt=2**63)
    task: TaskConfig = field(default_factory=TaskConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    mgd: MgdConfig = field(default_factory=MgdConfig)
    learn: LearnConfig = field(default_factory=LearnConfig)
    chip: ChipConfig = field(default_factory=ChipConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)

    def _resolve(self, fail: Callable[..., NoReturn]) -> "RunConfig":
        check_cross_section(self)  # the rules across sections (hwsim/sections/rules.py)
        return self

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "<dict>") -> "RunConfig":
        """Validate a nested mapping (as parsed from TOML) into a config.

        Parameters
        ----------
        d : Mapping
            Sections as sub-mappings; missing keys take their defaults.
        source : str
            Label that starts every error message (normally the file name).

        Returns
        -------
        RunConfig

        Raises
        ------
        ConfigError
            On an unknown key, a value of the wrong type or out of range, or a broken
            cross-field rule.
        """
        return build_validated(cls, d, source)

    def to_dict(self) -> dict[str, Any]:
        """Return every setting as plain TOML-able types (lists, not tuples), sections nested.

        Returns
        -------
        dict
        """
        return to_plain(self)

    def with_overrides(self, overrides: Mapping[str, Any] | Iterable[str],
                       source: str | None = None) -> "RunConfig":
        """Return a validated copy with dotted keys replaced.

        All overrides are applied together before the cross-field rules are checked.

        Parameters
        ----------
        overrides : Mapping[str, Any] or iterable of str
            Dotted key (``"seed"``, ``"mgd.eta"``) to new Python value, e.g.
            ``{"mgd.eta": 0.1}``; or ``"key=value"`` strings parsed like ``--set``
            (:func:`parse_override`), e.g. ``["mgd.eta=0.1"]``, later ones winning.
        source : str, optional
            Label that starts error messages (default: ``"<overrides>"`` for a mapping,
            the offending string itself for the string form).

        Returns
        -------
        RunConfig

        Raises
        ------
        ConfigError
            As :meth:`from_dict`; unknown keys name the nearest valid key; a string without
            ``=`` or a key.
        TypeError
            If ``overrides`` is a single string (wrap it in a list) or holds a non-string.
        """
        d = self.to_dict()
        if isinstance(overrides, Mapping):
            label = "<overrides>" if source is None else source
            for dotted, value in overrides.items():
                set_dotted(d, dotted, value, label)
            return check_device_set(build_validated(RunConfig, d, label), label)
        if isinstance(overrides, (str, bytes)):
            raise TypeError("with_overrides: give a mapping or a list of 'key=value' strings, "
                            f"not the single string {overrides!r}")
        key_sources = _apply_overrides(d, overrides, lambda arg: source or arg)
        cfg = build_validated(RunConfig, d, "<overrides>", source_of=lambda dotted:
                              key_sources.get(dotted, "<overrides>"))
        return check_device_set(cfg, _device_source(key_sources, "<overrides>"))


# ---------------------------------------------------------------------------- public functions

def load_config(path: str | os.PathLike[str], overrides: Iterable[str] = ()) -> RunConfig:
    """Read, override and validate a TOML run config.

    A relative ``chip.device`` path (ending in ``.toml`` or holding a separator) is taken
    relative to the config file's folder, or to the working folder when it comes from an
    override, and stored as an absolute path: the resolved config (a run folder's
    ``config.toml``) then names the same profile wherever it is read from. Dataset paths
    (``task.path``, ``task.train``, ``task.test``) are kept as written, with ``task.root``
    set to the config file's folder that relative ones are read from; relative dataset
    paths from an override are made absolute against the working folder.

    Parameters
    ----------
    path : str or PathLike
        The TOML file (UTF-8).
    overrides : iterable of str
        ``"section.key=value"`` strings (the CLI's ``--set``); the value is parsed as a TOML
        value, or taken as a bare string when it does not parse. Later ones win.

    Returns
    -------
    RunConfig

    Raises
    ------
    ConfigError
        If the file is missing, unreadable, not UTF-8 or not TOML, any setting is invalid,
        or ``chip.device`` names a profile file that does not exist (naming the folder
        searched). Errors about an overridden key name the ``--set`` argument instead of
        the file.
    """
    source = os.fspath(path)
    raw = read_toml(path, "config file")
    key_sources = _apply_overrides(raw, overrides, lambda arg: f"--set {arg}")

    def source_of(dotted: str) -> str:
        return key_sources.get(dotted, source)

    chip = raw.get("chip")
    if isinstance(chip, Mapping) and isinstance(chip.get("device"), str):
        from_file = "chip.device" not in key_sources
        base = Path(source).resolve().parent if from_file else Path.cwd()
        raw["chip"] = {**chip, "device": resolve_device(chip["device"], base, from_file,
                                                         source_of("chip.device"))}
    task = raw.get("task")
    if isinstance(task, Mapping):
        raw["task"] = resolve_task_paths(task, key_sources, Path(source).resolve().parent)
    cfg = build_validated(RunConfig, raw, source, source_of=source_of)
    return check_device_set(cfg, _device_source(key_sources, source))


def _device_source(key_sources: Mapping[str, str], default: str) -> str:
    """Origin of the device overrides: the first ``--set device.KEY`` given, else ``default``."""
    return next((v for k, v in key_sources.items() if k.startswith(DEVICE_PREFIX)), default)


def parse_override(arg: str, source: str | None = None) -> tuple[str, Any]:
    """Split one ``"section.key=value"`` override (the CLI's ``--set``).

    Parameters
    ----------
    arg : str
        The override; the value is parsed as one TOML value, or taken as a bare string
        when it does not parse (``task.name=xor``).
    source : str, optional
        Label for errors (default ``"--set ARG"``).

    Returns
    -------
    (str, Any)
        The dotted key and the value.

    Raises
    ------
    ConfigError
        If there is no ``=`` or no key.
    TypeError
        If ``arg`` is not a string.
    """
    if not isinstance(arg, str):
        raise TypeError(f"override {arg!r}: must be a 'section.key=value' string")
    dotted, sep, value_text = arg.partition("=")
    dotted = dotted.strip()
    if not sep or not dotted:
        raise ConfigError(f"{source or f'--set {arg}'}: expected section.key=value")
    return dotted, _parse_value(value_text.strip())


def _apply_overrides(raw: dict, overrides: Iterable[str],
                     label_of: Callable[[str], str]) -> dict[str, str]:
    """Apply ``key=value`` strings to ``raw``; return dotted key → origin of its value."""
    key_sources: dict[str, str] = {}
    for arg in overrides:
        arg_source = label_of(arg)
        dotted, value = parse_override(arg, arg_source)
        set_dotted(raw, dotted, value, arg_source)
        key_sources[dotted] = arg_source
    return key_sources


def dump_config(cfg: RunConfig, path: str | os.PathLike[str]) -> None:
    """Write ``cfg`` as a complete TOML file (UTF-8) that :func:`load_config` reads back equal.

    Parameters
    ----------
    cfg : RunConfig
    path : str or PathLike
    """
    with open(path, "wb") as fh:
        fh.write(tomli_w.dumps(cfg.to_dict()).encode("utf-8"))


def iter_fields(cls: type = RunConfig,
                prefix: str = "") -> Iterator[tuple[str, dataclasses.Field]]:
    """Yield ``(dotted_key, field)`` for every setting (not section) in the schema.

    Parameters
    ----------
    cls : type
        Dataclass to walk (default: the whole run-config schema).
    prefix : str
        Dotted prefix of ``cls`` (``"mgd."``); empty at the top.

    Returns
    -------
    iterator of (str, dataclasses.Field)
    """
    return _iter_schema_fields(cls, prefix)


# ---------------------------------------------------------------------------- device keys

def device_set_from_args(args: Iterable[str]) -> tuple[str, ...]:
    """``chip.device_set`` lines from ``--set device.KEY=VALUE`` arguments alone.

    For commands that take a device profile rather than a run config (``hwsim devices show``,
    ``hwsim devices plot``): the same parsing as ``hwsim run --set``.

    Parameters
    ----------
    args : iterable of str
        ``"device.KEY=VALUE"`` strings; the value is parsed as one TOML value (or a bare
        string), later ones winning.

    Returns
    -------
    tuple of str
        Canonical ``"KEY = value"`` lines (:func:`device_set_entries`), to pass to
        :func:`hwsim.chip.profiles.load_profile`.

    Raises
    ------
    ConfigError
        Naming the ``--set`` argument: no ``=``, a key outside ``device.``, a dotted device
        key or a value TOML cannot hold.
    """
    raw: dict[str, Any] = {}
    for arg in args:
        source = f"--set {arg}"
        dotted, value = parse_override(arg, source)
        if not dotted.startswith(DEVICE_PREFIX):
            raise ConfigError(f"{source}: only device.KEY=VALUE keys apply here (a key of the "
                              "profile's [device] table, e.g. device.dw_min=0.01)")
        set_device_key(raw, dotted[len(DEVICE_PREFIX):], value, source)
    return device_set_entries(raw.get("chip", {}).get("device_set", ()))


def set_dotted(d: dict, dotted: str, value: Any, source: str) -> None:
    """Set ``d[a][b] = value`` for ``dotted = "a.b"``, rejecting keys the run schema lacks.

    A key ``device.KEY`` names a ``[device]`` key of the resolved device profile: it is
    stored as a ``"KEY = value"`` line of ``chip.device_set`` (replacing one for the same
    key) and checked against the profile by :func:`load_config` and
    :meth:`RunConfig.with_overrides`.

    Parameters
    ----------
    d : dict
        A raw (TOML-parsed) run config, changed in place.
    dotted : str
        ``"seed"`` or ``"section.key"``.
    value : Any
    source : str
        Label that starts error messages.

    Raises
    ------
    ConfigError
        For an unknown key (naming the nearest), a section named as a key or a key used
        as a section.
    """
    if dotted.startswith(DEVICE_PREFIX):
        set_device_key(d, dotted[len(DEVICE_PREFIX):], value, source)
        return
    cls, prefix, parts = RunConfig, "", dotted.split(".")
    for i, part in enumerate(parts):
        fields = dataclasses.fields(cls)
        f = next((f for f in fields if f.name == part), None)
        if f is None:
            raise unknown_key_error(source, prefix, part, fields)
        last = i == len(parts) - 1
        if is_section(f) == last:  # a section named as a key, or a key used as a section
            kind = "a section; name one of its keys" if last else "a key, not a section"
            raise ConfigError(f"{source}: {prefix}{part} is {kind}")
        if last:
            d[part] = value
        else:
            if not isinstance(d.get(part), dict):
                d[part] = {}
            d, cls, prefix = d[part], f.type, f"{prefix}{part}."


def _parse_value(text: str) -> Any:
    """A ``--set`` value: TOML if it parses as exactly one value, else the bare string."""
    try:
        doc = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return text
    return doc["v"] if list(doc) == ["v"] else text


def config_markdown() -> str:
    """Return the Markdown reference for the run config (the content of docs/config.md).

    Returns
    -------
    str
        A preamble (file format, ``--set`` syntax, type rules, run length) and one table
        per section, generated from the schema metadata.
    """
    return markdown(RunConfig)


if __name__ == "__main__":
    sys.stdout.reconfigure(encoding="utf-8")
    sys.stdout.write(config_markdown())
