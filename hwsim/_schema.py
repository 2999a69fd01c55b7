"""The schema engine shared by run configs and device parameters.

A schema is a frozen dataclass deriving from :class:`Schema` whose fields are declared with
:func:`option` (default, doc, unit, allowed values). Instances validate when they are built
(:meth:`Schema.__post_init__`): types are checked and normalised (``1e3`` → ``1000`` for an
``int``, lists → tuples), bounds and choices are enforced, then the class's cross-field
``_resolve`` rules run. :func:`build_validated` does the same for a raw mapping parsed from
TOML, adding unknown-key errors and the origin (file name, ``--set`` argument) of each value
to the messages. Docs tables are rendered from the same metadata (:func:`allowed_text`,
:func:`type_name`, :func:`default_text`, in :mod:`hwsim._schema_text` with the message
helpers, re-exported here), so they cannot drift.

This module sits at the bottom of the package: it imports nothing from hwsim but
:mod:`hwsim.exceptions` and :mod:`hwsim._schema_text`, so both :mod:`hwsim.config` and
:mod:`hwsim.chip` can use it.
"""

import dataclasses
import math
import numbers
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import field
from typing import Any, NoReturn, get_args, get_origin

from hwsim._schema_text import (
    allowed_text, bounds_text, close_matches, default_text, did_you_mean, fmt, is_section,
    looks_like_path, requirement_text, type_name, unknown_key_error,
)
from hwsim.exceptions import ConfigError

__all__ = [
    "option", "Schema", "FieldError", "build_validated", "read_toml", "iter_fields",
    "is_section", "to_plain", "fmt", "bounds_text", "requirement_text", "close_matches",
    "did_you_mean", "unknown_key_error", "looks_like_path", "allowed_text", "type_name",
    "default_text",
]


def option(default: Any, doc: str, *, unit: str = "", choices: tuple | None = None,
           ge: Any = None, gt: Any = None, le: Any = None, lt: Any = None,
           min_len: int | None = None, models: tuple | None = None,
           sampled: str | None = None, why: str | None = None) -> Any:
    """Declare one setting: its default plus the metadata driving validation and docs.

    Parameters
    ----------
    default : Any
        The default value (a tuple for list settings).
    doc : str
        Meaning of the setting, shown in the docs tables.
    unit : str, optional
        Unit, or what the value is relative to.
    choices : tuple, optional
        The only allowed values.
    ge, gt, le, lt : number, optional
        Bounds (≥, >, ≤, <). For list fields they apply to each element.
    min_len : int, optional
        Least length of a list field.
    models : tuple of str, optional
        Device models a parameter applies to (device schemas only).
    sampled : str, optional
        When a device value is drawn ("dtod: at construction", "c2c: per pulse").
    why : str, optional
        Why the bounds are what they are, appended to an out-of-range message.

    Returns
    -------
    dataclasses.Field
    """
    meta = dict(doc=doc, unit=unit, choices=choices, ge=ge, gt=gt, le=le, lt=lt, min_len=min_len,
                models=models, sampled=sampled, why=why)
    return field(default=default, metadata={k: v for k, v in meta.items() if v is not None})


# ---------------------------------------------------------------------------- validation

class FieldError(ConfigError):
    """A schema value broke a rule; it remembers the field so a loader can name the origin.

    Parameters
    ----------
    key : str
        Field name relative to the object, with an index for list elements (``"sizes[1]"``).
    value : Any
        The offending value.
    requirement : str
        What is allowed ("must be ...").
    related : tuple of str
        Other fields of the rule; a loader blames whichever came from an override.
    prefix : str
        Dotted prefix of the object's section, shown in the message (``"mgd."``).
    """

    def __init__(self, key: str, value: Any, requirement: str, related: tuple = (),
                 prefix: str = ""):
        self.key, self.value, self.requirement = key, value, requirement
        self.field = key.partition("[")[0]
        self.related = tuple(related)
        super().__init__(f"{prefix}{key} = {fmt(value)}: {requirement}")

    def located(self, prefix: str, source_of: Callable[[str], str]) -> ConfigError:
        """Return the message re-rooted at ``prefix`` and started by the value's origin.

        Parameters
        ----------
        prefix : str
            Dotted prefix of the table as the loader sees it.
        source_of : callable
            Dotted key → origin label; keys that came from an override win the blame.

        Returns
        -------
        ConfigError
            ``"ORIGIN: key = value: requirement"``; for a rule over several keys whose values
            came from different places (the file and ``--set``) the message ends by naming
            the origin of each, ``"(network.sizes from run.toml, network.cost from --set
            network.cost=cross_entropy)"``.
        """
        keys = [prefix + k for k in (self.field, *self.related)]
        sources = [source_of(k) for k in keys]
        src = next((s for s in sources if s != source_of("")), sources[0])
        where = ""
        if len(set(sources)) > 1:  # a cross-key rule over keys from different places
            where = " (" + ", ".join(f"{k} from {s}" for k, s in zip(keys, sources)) + ")"
        return ConfigError(f"{src}: {prefix}{self.key} = {fmt(self.value)}: "
                           f"{self.requirement}{where}")


def _scalar(value: Any, typ: type, m: Mapping[str, Any], key: str, prefix: str) -> Any:
    v, ok = value, False
    if typ is bool:
        ok = isinstance(v, bool)
    elif isinstance(v, bool):
        ok = False  # bool is an int subclass, but `steps = true` is always a mistake
    elif typ is int:
        if isinstance(v, float) and v.is_integer():
            v = int(v)  # TOML has no integer exponent form, so `steps = 1e3` means 1000
        if isinstance(v, numbers.Integral):  # also numpy ints, handy in sweeps
            v, ok = int(v), True
    elif typ is float:
        if isinstance(v, numbers.Real):
            try:
                v = float(v)
                ok = math.isfinite(v)
            except OverflowError:
                ok = False
    elif typ is str:
        ok = isinstance(v, str)
    else:
        raise TypeError(f"{prefix}{key}: unsupported schema type {typ!r}")
    typed = ok
    if ok and typ is not bool:
        ok = (v in m["choices"]) if "choices" in m else (
            ("ge" not in m or v >= m["ge"]) and ("gt" not in m or v > m["gt"])
            and ("le" not in m or v <= m["le"]) and ("lt" not in m or v < m["lt"]))
    if not ok:
        requirement = "must be " + requirement_text(typ, m)
        if "choices" in m:
            requirement += did_you_mean(value, m["choices"], fmt)
        elif typed and "why" in m:
            requirement += f" ({m['why']})"
        raise FieldError(key, value, requirement, prefix=prefix)
    return v


def _coerce(value: Any, f: dataclasses.Field, prefix: str) -> Any:
    if get_origin(f.type) is tuple:  # list settings are stored as tuples to stay frozen/hashable
        item = get_args(f.type)[0]
        n = f.metadata.get("min_len", 0)
        if not isinstance(value, (list, tuple)) or len(value) < n:
            noun = {int: "integers", str: "strings"}.get(item, "numbers")
            raise FieldError(f.name, value, f"must be a list of at least {n} {noun} "
                             f"{bounds_text(f.metadata)}".rstrip(), prefix=prefix)
        return tuple(_scalar(v, item, f.metadata, f"{f.name}[{i}]", prefix)
                     for i, v in enumerate(value))
    return _scalar(value, f.type, f.metadata, f.name, prefix)


class Schema:
    """Base of every schema dataclass: instances validate when they are built (style rule 6).

    Subclass it with ``section="mgd"`` to have errors of a directly built object name the
    dotted key (``mgd.eta = -5: must be ...``). Cross-field rules go in ``_resolve(fail)``:
    call ``fail(key, requirement, *related_keys)`` on a broken rule, and return ``self`` or
    a modified copy (whose values are then stored in the new object).
    """

    def __init_subclass__(cls, section: str | None = None, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if section is not None:
            cls.__schema_prefix = f"{section}." if section else ""

    __schema_prefix = ""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check and normalise every field, then apply the cross-field rules.

        Types are normalised in place (an integral float for an ``int``, an ``int`` for a
        ``float``, a list for a tuple), so the stored object is canonical.

        Raises
        ------
        FieldError
            (a :class:`~hwsim.exceptions.ConfigError`) naming the dotted key, the value and
            what is allowed; for a section of the wrong type as well.
        """
        prefix = type(self).__schema_prefix
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if is_section(f):
                if not isinstance(v, f.type):
                    raise FieldError(f.name, v, f"must be a {f.type.__name__} (table "
                                     f"[{prefix}{f.name}])", prefix=prefix)
                continue
            if v is None and f.default is None:
                continue  # optional setting left unset
            new = _coerce(v, f, prefix)
            if new is not v:
                object.__setattr__(self, f.name, new)

        def fail(key: str, requirement: str, *related: str) -> NoReturn:
            raise FieldError(key, getattr(self, key), requirement, related, prefix)

        out = self._resolve(fail)
        if out is not self:  # a rule normalised a value (e.g. SimConfig stores steps = 0)
            for f in dataclasses.fields(self):
                object.__setattr__(self, f.name, getattr(out, f.name))

    def _resolve(self, fail: Callable[..., NoReturn]) -> "Schema":
        return self


def build_validated(cls: type, raw: Mapping[str, Any], source: str, prefix: str = "",
                    source_of: Callable[[str], str] | None = None) -> Any:
    """Validate a raw mapping (as parsed from TOML) into schema dataclass ``cls``.

    Sections are built recursively from sub-mappings; missing keys take their defaults.

    Parameters
    ----------
    cls : type
        A :class:`Schema` dataclass.
    raw : Mapping
        Key → value.
    source : str
        Origin that starts every message (normally the file name).
    prefix : str, optional
        Dotted prefix shown before every key (``"device."``).
    source_of : callable, optional
        Dotted key → origin, for keys that came from elsewhere (``--set``); default
        ``source`` for every key.

    Returns
    -------
    instance of ``cls``

    Raises
    ------
    ConfigError
        Naming the origin, the dotted key (with ``prefix``), the value and what is allowed:
        an unknown key (with the nearest valid ones), a non-table section, a value of the
        wrong type or out of range, or a broken cross-field rule.
    """
    return _build(cls, raw, prefix, source_of or (lambda dotted: source))


def _build(cls: type, raw: Any, prefix: str, source_of: Callable[[str], str]) -> Any:
    if not isinstance(raw, Mapping):
        name = prefix[:-1]
        raise ConfigError(f"{source_of(name)}: {name} = {fmt(raw)}: must be a table [{name}]")
    fields = dataclasses.fields(cls)
    by_name = {f.name: f for f in fields}
    for key, value in raw.items():
        if key not in by_name:
            raise unknown_key_error(source_of(prefix + key), prefix, key, fields,
                                    isinstance(value, Mapping))
    kwargs = {}
    for f in fields:
        if is_section(f):
            kwargs[f.name] = _build(f.type, raw.get(f.name, {}), f"{prefix}{f.name}.", source_of)
        elif f.name in raw:
            kwargs[f.name] = raw[f.name]
    try:
        return cls(**kwargs)
    except FieldError as exc:
        raise exc.located(prefix, source_of) from None


def iter_fields(cls: type, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field]]:
    """Yield ``(dotted_key, field)`` for every setting (not section) of a schema.

    Parameters
    ----------
    cls : type
        Dataclass to walk.
    prefix : str
        Dotted prefix of ``cls`` (``"mgd."``); empty at the top.

    Returns
    -------
    iterator of (str, dataclasses.Field)
    """
    for f in dataclasses.fields(cls):
        if is_section(f):
            yield from iter_fields(f.type, f"{prefix}{f.name}.")
        else:
            yield prefix + f.name, f


def to_plain(obj: Any) -> dict[str, Any]:
    """Return a schema object as nested plain dicts (lists, not tuples), TOML-able."""
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        out[f.name] = to_plain(v) if is_section(f) else list(v) if isinstance(v, tuple) else v
    return out


def read_toml(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """Parse a UTF-8 TOML file (a BOM is tolerated); only TOML, never pickle or eval.

    Parameters
    ----------
    path : path
    what : str
        What the file is, for messages ("config file", "device profile").

    Returns
    -------
    dict

    Raises
    ------
    ConfigError
        Missing (naming the folder looked in), a folder, unreadable, not UTF-8 (naming the
        byte and its offset), or not TOML.
    """
    source = os.fspath(path)
    try:
        try:
            fh = open(path, "rb")
        except UnicodeEncodeError:
            # a non-ASCII name under a strict ASCII locale: pass the name's UTF-8 bytes (case C3)
            fh = open(source.encode("utf-8", "surrogateescape"), "rb")
        with fh:
            data = fh.read()
    except FileNotFoundError:
        raise ConfigError(f"{source}: {what} not found (looked in "
                          f"{os.path.dirname(os.path.abspath(source))})") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a folder, not a {what} (.toml file)") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read {what}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")  # tolerate a BOM, as editors on Windows write one
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{source}: TOML must be UTF-8 (invalid byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}; re-save the file as UTF-8)") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
