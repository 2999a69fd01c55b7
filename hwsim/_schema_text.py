"""Text of the schema engine: values as TOML spells them, "did you mean" hints, docs cells.

The messages and docs tables of :mod:`hwsim._schema` (run configs and device profiles) are
rendered here from a field's metadata. Like :mod:`hwsim._schema` it imports nothing from
hwsim but :mod:`hwsim.exceptions`; :mod:`hwsim._schema` re-exports every name.
"""

import dataclasses
import difflib
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, get_args, get_origin

from hwsim.exceptions import ConfigError

__all__ = [
    "fmt", "bounds_text", "requirement_text", "close_matches", "did_you_mean",
    "unknown_key_error", "looks_like_path", "is_section", "allowed_text", "type_name",
    "default_text",
]


# ---------------------------------------------------------------------------- rendering

def fmt(v: Any) -> str:
    """Render a value as TOML would spell it, for messages and docs.

    Parameters
    ----------
    v : Any

    Returns
    -------
    str
        ``true``, ``"text"``, ``nan``, ``[1, 2]``, ``2**62`` (large powers of two), ...
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if v != v else ("inf" if v > 0 else "-inf")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(map(fmt, v)) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {fmt(x)}" for k, x in v.items()) + "}"
    if dataclasses.is_dataclass(v) and not isinstance(v, type):  # a table of a list of tables
        return fmt({f.name: getattr(v, f.name) for f in dataclasses.fields(v)
                    if f.name == "type" or getattr(v, f.name) != f.default})
    if isinstance(v, int) and v > 2**32 and v & (v - 1) == 0:
        return f"2**{v.bit_length() - 1}"
    return repr(v) if isinstance(v, float) else str(v)


def bounds_text(m: Mapping[str, Any]) -> str:
    """Return '≥ 0', '> 0', 'in [1, 20]', 'in (0, 1)' or '' from a field's metadata."""
    lo = ("[", m["ge"]) if "ge" in m else ("(", m["gt"]) if "gt" in m else None
    hi = (m["le"], "]") if "le" in m else (m["lt"], ")") if "lt" in m else None
    if lo and hi:
        return f"in {lo[0]}{fmt(lo[1])}, {fmt(hi[0])}{hi[1]}"
    if lo:
        return f"{'≥' if lo[0] == '[' else '>'} {fmt(lo[1])}"
    if hi:
        return f"{'≤' if hi[1] == ']' else '<'} {fmt(hi[0])}"
    return ""


def requirement_text(typ: type, m: Mapping[str, Any]) -> str:
    """What a scalar must be, phrased to follow 'must be '."""
    if "choices" in m:
        return "one of " + ", ".join(map(fmt, m["choices"]))
    kind = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}[typ]
    return f"{kind} {bounds_text(m)}".rstrip()


# ---------------------------------------------------------------------------- did you mean

def close_matches(word: Any, candidates: Iterable[str]) -> list[str]:
    """Return every candidate close to ``word``, ignoring case, best first.

    Parameters
    ----------
    word : Any
        What the user typed; anything but a string has no close match.
    candidates : iterable of str
        The valid spellings.

    Returns
    -------
    list of str
        Candidates in their own spelling whose difflib ratio to ``word`` (both lower-cased)
        is at least 0.6 and within 0.1 of the best one, so equally good matches
        (``reram`` → ``reram_es``, ``reram_sb``) all show and weak ones do not; ties in
        alphabetical order. An exact match ignoring case comes alone.
    """
    if not isinstance(word, str):
        return []
    low = word.lower()
    cands = list(dict.fromkeys(candidates))
    exact = [c for c in cands if c.lower() == low]
    if exact:
        return exact
    matcher = difflib.SequenceMatcher(b=low)
    scored = []
    for c in cands:
        matcher.set_seq1(c.lower())
        if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6:
            r = matcher.ratio()
            if r >= 0.6:
                scored.append((-r, c))
    if not scored:
        return []
    best = -min(scored)[0]
    return [c for r, c in sorted(scored) if -r >= best - 0.1]


def did_you_mean(word: Any, candidates: Iterable[str],
                 render: Callable[[str], str] = lambda s: f"'{s}'") -> str:
    """Return ``"; did you mean 'a'?"``, ``"; did you mean 'a' or 'b'?"`` or ``""``.

    Parameters
    ----------
    word : Any
        What the user typed.
    candidates : iterable of str
        The valid spellings.
    render : callable, optional
        Quotes one candidate (default: single quotes; pass :func:`fmt` for TOML strings).

    Returns
    -------
    str
        Every close match (see :func:`close_matches`), or "" when there is none.
    """
    near = [render(c) for c in close_matches(word, candidates)]
    if not near:
        return ""
    listed = near[0] if len(near) == 1 else ", ".join(near[:-1]) + " or " + near[-1]
    return f"; did you mean {listed}?"


def unknown_key_error(source: str, prefix: str, key: str, fields: Iterable[dataclasses.Field],
                      is_table: bool = False) -> ConfigError:
    """Return the error for a key the schema lacks, naming the nearest keys and every valid one.

    Parameters
    ----------
    source : str
        Origin that starts the message (file name, ``--set`` argument).
    prefix : str
        Dotted prefix of the table the key was found in (``"mgd."``; "" at the top).
    key : str
        The unknown key.
    fields : iterable of dataclasses.Field
        The fields of the table's schema.
    is_table : bool
        Whether the unknown key holds a table (reported as a section at the top level).

    Returns
    -------
    ConfigError
    """
    fields = list(fields)
    valid = ", ".join(f"[{prefix}{f.name}]" if is_section(f) else f.name for f in fields)
    where = f"{prefix}{key}" if prefix else (f"[{key}]" if is_table else key)
    what = "unknown section" if is_table and not prefix else "unknown key"
    hint = did_you_mean(key, [f.name for f in fields])
    return ConfigError(f"{source}: {where}: {what}{hint} (valid keys: {valid or 'none'})")


def looks_like_path(name: str) -> bool:
    """Whether a profile reference is a file path (ends in .toml or holds a separator)."""
    return name.endswith(".toml") or "/" in name or os.sep in name or (
        os.altsep is not None and os.altsep in name)



def is_section(f: dataclasses.Field) -> bool:
    """Whether a schema field is a nested section (a dataclass) rather than a setting."""
    return isinstance(f.type, type) and dataclasses.is_dataclass(f.type)



# ---------------------------------------------------------------------------- docs pieces

def type_name(f: dataclasses.Field) -> str:
    """The docs' type cell: ``int``, ``float``, ``list[int]``, ..."""
    typ = f.type
    if isinstance(typ, str):
        return typ
    if get_origin(typ) is tuple:
        item = get_args(typ)[0]
        return f"list[{getattr(item, '__name__', item)}]"
    return getattr(typ, "__name__", str(typ)).replace("NoneType", "none")


def default_text(f: dataclasses.Field) -> str:
    """The docs' default cell: the TOML spelling in backquotes, "—" for None."""
    if f.default is not dataclasses.MISSING:
        return "—" if f.default is None else f"`{fmt(f.default)}`"
    if f.default_factory is not dataclasses.MISSING:
        return f"`{fmt(f.default_factory())}`"
    return "required"


def allowed_text(f: dataclasses.Field) -> str:
    """The docs' 'allowed' cell of a schema field (run configs and device profiles share it)."""
    m = f.metadata
    if "choices" in m:
        return ", ".join(f"`{fmt(c)}`" for c in m["choices"])
    if f.type is bool:
        return "`true`, `false`"
    bounds = bounds_text(m).removeprefix("in ")
    item = get_args(f.type)[0] if get_origin(f.type) is tuple else None
    if isinstance(item, type) and dataclasses.is_dataclass(item):  # a list of tables
        return "tables with keys " + ", ".join(f"`{g.name}`" for g in dataclasses.fields(item))
    if get_origin(f.type) is tuple:
        each = bounds or ("a string" if get_args(f.type)[0] is str else "finite")
        return f"length ≥ {m.get('min_len', 0)}; each {each}"
    return bounds or ("any finite" if f.type is float else "any")
