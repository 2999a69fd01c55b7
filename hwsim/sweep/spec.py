"""Sweep files: a base run config plus axes over dotted config keys, expanded into points.

A sweep file is UTF-8 TOML (docs/sweeps.md gives every key)::

    base = "../xor.toml"          # the run config, relative to this file
    set = ["sim.steps=5000"]      # optional: overrides applied to the base, like --set

    [sweep]
    replicates = 3                # seeds per point (derived, see hwsim.sweep.tasks)

    [grid]                        # cartesian product of every list
    "mgd.eta" = [0.25, 0.5, 1.0]

    [zip]                         # lists of equal length, taken together
    "mgd.amplitude" = [0.05, 0.1]
    "mgd.tau_theta" = [1, 2]

    [list]                        # explicit points
    points = [{ "mgd.eta" = 0.1 }, { "mgd.eta" = 0.2, "learn.optimizer" = "momentum" }]

    [random]                      # random or Latin-hypercube samples
    samples = 8
    method = "lhs"                # or "uniform"
    seed = 0
    "mgd.eta" = { low = 0.01, high = 1.0, log = true }

The points are the cartesian product of the blocks present (in the order list, grid, zip,
random), so a grid crossed with zipped lists is one file. Keys may be written quoted
(``"mgd.eta"``) or as TOML dotted keys (``mgd.eta``); ``device.KEY`` names a key of the
resolved device profile (see :func:`hwsim.config.set_dotted`).
"""

import hashlib
import itertools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwsim._schema import did_you_mean
from hwsim.config import RunConfig, fmt, load_config, read_toml
from hwsim.exceptions import ConfigError

__all__ = ["SweepSpec", "load_sweep", "expand_points", "BLOCKS"]

#: The axis blocks of a sweep file, in the order their product is taken.
BLOCKS = ("list", "grid", "zip", "random")
_TOP = ("base", "set", "sweep", *BLOCKS)
_SWEEP_KEYS = ("name", "replicates")
_RANDOM_KEYS = ("samples", "method", "seed")
_RANGE_KEYS = ("low", "high", "log", "int")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep file.

    Parameters
    ----------
    path : Path
        The sweep file.
    text : bytes
        Its exact content (copied into the sweep folder).
    base_path : Path
        The base run config (absolute).
    base : RunConfig
        The base config with the file's ``set`` overrides applied.
    name : str
        Sweep name (default: the file's stem).
    replicates : int
        Seeds per point (≥ 1).
    axes : tuple of str
        Every swept dotted key, in first-appearance order.
    points : tuple of dict
        One ``{dotted key: value}`` per point, in order.
    """

    path: Path
    text: bytes
    base_path: Path
    base: RunConfig
    name: str
    replicates: int
    axes: tuple[str, ...]
    points: tuple[dict, ...] = field(repr=False)

    @property
    def spec_sha256(self) -> str:
        """SHA-256 of the sweep file's bytes."""
        return hashlib.sha256(self.text).hexdigest()


def _fail(source: str, key: str, value: Any, why: str):
    raise ConfigError(f"{source}: {key} = {fmt(value)}: {why}")


def _flatten(table: Mapping, source: str, block: str, leaf, prefix: str = "") -> dict:
    """``{"mgd": {"eta": [...]}}`` and ``{"mgd.eta": [...]}`` alike -> ``{"mgd.eta": [...]}``."""
    out = {}
    for k, v in table.items():
        dotted = f"{prefix}{k}"
        if isinstance(v, Mapping) and not leaf(v):
            out.update(_flatten(v, source, block, leaf, f"{dotted}."))
        else:
            out[dotted] = v
    return out


def _block_points(block: str, table: Any, source: str) -> tuple[list[dict], list[str]]:
    """The points of one axis block and its keys."""
    where = f"[{block}]"
    if not isinstance(table, Mapping):
        _fail(source, block, table, f"must be a table {where}")
    if block == "list":
        unknown = [k for k in table if k != "points"]
        if unknown:
            _fail(source, f"{block}.{unknown[0]}", table[unknown[0]], "unknown key (a [list] "
                  "block holds only points = [{ key = value, ... }, ...])")
        pts = table.get("points")
        if not isinstance(pts, list) or not pts or not all(isinstance(p, Mapping) for p in pts):
            _fail(source, "list.points", pts, "must be a non-empty array of tables")
        flat = [_flatten(p, source, block, lambda v: False) for p in pts]
        keys = list(dict.fromkeys(k for p in flat for k in p))
        return flat, keys
    if block in ("grid", "zip"):
        axes = _flatten(table, source, block, lambda v: False)
        for k, v in axes.items():
            if not isinstance(v, list) or not v:
                _fail(source, f"{block}.{k}", v, "must be a non-empty array of values")
        if block == "grid":
            keys = list(axes)
            return [dict(zip(keys, combo)) for combo in itertools.product(*axes.values())], keys
        lengths = {k: len(v) for k, v in axes.items()}
        if len(set(lengths.values())) > 1:
            _fail(source, "zip", lengths, "every list of a [zip] block must have the same length")
        keys = list(axes)
        n = next(iter(lengths.values()), 0)
        return [{k: axes[k][i] for k in keys} for i in range(n)], keys
    # random
    settings = {k: table[k] for k in _RANDOM_KEYS if k in table}
    for k, v in table.items():  # a setting's typo, not an axis (axes are tables)
        if k not in _RANDOM_KEYS and not isinstance(v, Mapping):
            _fail(source, f"random.{k}", v, "unknown key (valid: samples, method, seed, or a "
                  f"dotted config key = {{ low = ..., high = ... }}){did_you_mean(k, _RANDOM_KEYS)}")
    ranges = _flatten({k: v for k, v in table.items() if k not in _RANDOM_KEYS}, source, block,
                      lambda v: "low" in v or "high" in v)
    n = settings.get("samples")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        _fail(source, "random.samples", n, "must be an integer ≥ 1")
    method = settings.get("method", "lhs")
    if method not in ("lhs", "uniform"):
        _fail(source, "random.method", method, 'must be "lhs" (Latin hypercube) or "uniform"')
    seed = settings.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        _fail(source, "random.seed", seed, "must be an integer ≥ 0")
    if not ranges:
        _fail(source, "random", dict(table), "names no key to sample (e.g. "
              '"mgd.eta" = { low = 0.01, high = 1.0, log = true })')
    for k, r in ranges.items():
        key = f"random.{k}"
        bad = sorted(set(r) - set(_RANGE_KEYS)) if isinstance(r, Mapping) else []
        if not isinstance(r, Mapping) or bad or not {"low", "high"} <= set(r):
            hint = f"; unknown key '{bad[0]}'{did_you_mean(bad[0], _RANGE_KEYS)}" if bad else ""
            _fail(source, key, r, "must be a table { low = ..., high = ... } with optional "
                  f"log = true and int = true{hint}")
        lo, hi = r["low"], r["high"]
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                   for x in (lo, hi)) or not lo < hi:
            _fail(source, key, r, "needs finite numbers low < high")
        if r.get("log", False) and lo <= 0:
            _fail(source, key, r, "log = true needs low > 0")
    return sample_points(ranges, n, method, seed), list(ranges)


def sample_points(ranges: Mapping[str, Mapping], n: int, method: str, seed: int) -> list[dict]:
    """Draw ``n`` points in the box ``ranges`` (uniform or Latin hypercube), reproducibly.

    Latin hypercube (McKay, Beckman & Conover 1979): each key's range is cut into ``n``
    equal strata (in log space with ``log = true``), each stratum holds exactly one sample,
    and the strata are paired across keys by independent random permutations.

    Parameters
    ----------
    ranges : Mapping
        Dotted key -> ``{"low", "high", "log"?, "int"?}``.
    n : int
        Number of samples.
    method : {"lhs", "uniform"}
    seed : int
        Seed of the numpy generator (the same seed gives the same points).

    Returns
    -------
    list of dict
        ``n`` points, values Python floats (ints with ``int = true``, rounded).
    """
    rng = np.random.default_rng(seed)
    cols = {}
    for k, r in ranges.items():
        if method == "lhs":
            u = (rng.permutation(n) + rng.random(n)) / n
        else:
            u = rng.random(n)
        lo, hi = float(r["low"]), float(r["high"])
        if r.get("log", False):
            x = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
        else:
            x = lo + u * (hi - lo)
        cols[k] = [int(round(v)) for v in x] if r.get("int", False) else [float(v) for v in x]
    return [{k: cols[k][i] for k in cols} for i in range(n)]


def expand_points(doc: Mapping[str, Any], source: str) -> tuple[list[dict], list[str]]:
    """Expand the axis blocks of a parsed sweep file into points.

    Parameters
    ----------
    doc : Mapping
        The parsed sweep file.
    source : str
        Label for errors.

    Returns
    -------
    (list of dict, list of str)
        The points (a single empty point when no block is given) and the swept keys.

    Raises
    ------
    ConfigError
        A malformed block, or a key swept by two blocks.
    """
    points, keys = [{}], []
    for block in BLOCKS:
        if block not in doc:
            continue
        pts, ks = _block_points(block, doc[block], source)
        twice = [k for k in ks if k in keys]
        if twice:
            _fail(source, f"{block}.{twice[0]}", doc[block], "this key is already swept by "
                  "another block; sweep each key in one block")
        keys += ks
        points = [{**a, **b} for a in points for b in pts]
    return points, keys


def load_sweep(path: str | os.PathLike[str]) -> SweepSpec:
    """Read and validate a sweep file, its base config and every point's config.

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    SweepSpec

    Raises
    ------
    ConfigError
        An unknown top-level key or ``[sweep]`` key (naming the valid ones), a missing or
        invalid base config, a malformed axis block, or a point whose config is invalid
        (the message names the sweep file, the point and the key).
    """
    path = Path(path)
    source = os.fspath(path)
    doc = read_toml(path, "sweep file")
    for k in doc:
        if k not in _TOP:
            _fail(source, k, doc[k], f"unknown key (valid: {', '.join(_TOP)})"
                  f"{did_you_mean(k, _TOP)}")
    base = doc.get("base")
    if not isinstance(base, str) or not base:
        _fail(source, "base", base, "required: the path of the base run config, relative "
              "to the sweep file")
    base_path = (path.resolve().parent / base).resolve()
    sets = doc.get("set", [])
    if not isinstance(sets, list) or not all(isinstance(s, str) for s in sets):
        _fail(source, "set", sets, 'must be an array of "section.key=value" strings')
    settings = doc.get("sweep", {})
    if not isinstance(settings, Mapping):
        _fail(source, "sweep", settings, "must be a table [sweep]")
    for k in settings:
        if k not in _SWEEP_KEYS:
            _fail(source, f"sweep.{k}", settings[k], f"unknown key (valid: "
                  f"{', '.join(_SWEEP_KEYS)}){did_you_mean(k, _SWEEP_KEYS)}")
    replicates = settings.get("replicates", 1)
    if not isinstance(replicates, int) or isinstance(replicates, bool) or replicates < 1:
        _fail(source, "sweep.replicates", replicates, "must be an integer ≥ 1")
    name = settings.get("name", path.stem)
    if not isinstance(name, str) or not name:
        _fail(source, "sweep.name", name, "must be a non-empty string")
    if not base_path.is_file():
        _fail(source, "base", base, f"base run config not found ({base_path})")
    cfg = load_config(base_path, sets)
    points, keys = expand_points(doc, source)
    if "seed" in keys and replicates > 1:
        _fail(source, "sweep.replicates", replicates, "must be 1 when seed is a swept key "
              "(the swept seeds are the replicates)")
    for i, point in enumerate(points):
        device = point.get("chip.device")
        if isinstance(device, str) and (device.endswith(".toml") or "/" in device) \
                and not Path(device).is_absolute():
            # a profile path on an axis is read from the sweep file's folder, like base
            point["chip.device"] = os.path.normpath(path.resolve().parent / device)
        cfg.with_overrides(point, source=f"{source}: point {i}")  # validates every point now
    return SweepSpec(path=path.resolve(), text=path.read_bytes(), base_path=base_path, base=cfg,
                     name=name, replicates=replicates, axes=tuple(keys), points=tuple(points))
