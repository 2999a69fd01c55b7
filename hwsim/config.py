"""Run configuration: one validated TOML file, described by one schema.

The schema is the frozen dataclasses below. Every setting is one :func:`option` declaration
carrying its default, doc, unit and allowed values; validation, error messages and
``docs/config.md`` are all derived from that metadata, so the docs cannot drift. To add a
setting, add one ``option(...)`` line; to add a section, write a dataclass (its docstring is
its documentation) and add one ``field(default_factory=...)`` line to :class:`RunConfig`.
Cross-field rules live in a section's ``_resolve`` method. Regenerate the docs with
``python -m hwsim.config > docs/config.md`` (a test fails until you do).

Instances are only validated when built by :func:`load_config`, :meth:`RunConfig.from_dict`
or :meth:`RunConfig.with_overrides`; calling the dataclass constructors directly skips checks.
"""

import dataclasses
import difflib
import json
import math
import numbers
import os
import sys
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, get_args, get_origin

import tomli_w

from hwsim.exceptions import ConfigError

__all__ = [
    "RunConfig", "TaskConfig", "NetworkConfig", "MgdConfig", "ChipConfig", "SimConfig",
    "load_config", "dump_config", "config_markdown", "iter_fields", "option",
]


MAX_STEPS = 2**62  # step counters are int64 in the kernels; products must not overflow


def option(default: Any, doc: str, *, unit: str = "", choices: tuple | None = None,
           ge: Any = None, gt: Any = None, le: Any = None, lt: Any = None,
           min_len: int | None = None, models: tuple | None = None,
           sampled: str | None = None) -> Any:
    """Declare one setting: its default plus the metadata driving validation and docs.

    For list fields the bounds apply to each element and ``min_len`` to the length.
    ``models`` (device parameters) lists the device models a field applies to, and
    ``sampled`` says when a value is drawn ("dtod: at construction", "c2c: per pulse").
    """
    meta = dict(doc=doc, unit=unit, choices=choices, ge=ge, gt=gt, le=le, lt=lt, min_len=min_len,
                models=models, sampled=sampled)
    return field(default=default, metadata={k: v for k, v in meta.items() if v is not None})


# ---------------------------------------------------------------------------- schema

@dataclass(frozen=True)
class TaskConfig:
    """What the network learns."""

    name: str = option("digits", "Task to learn.", choices=("xor", "parity", "digits"))
    bits: int = option(4, "Input bits of the parity task (parity only).", unit="bits", ge=1, le=20)
    test_fraction: float = option(
        0.25, "Share of samples held out for testing, stratified by class (digits only).",
        gt=0.0, lt=1.0)


@dataclass(frozen=True)
class NetworkConfig:
    """Feed-forward network. Rules: `init_low < init_high`; `cost = "cross_entropy"` needs
    `output_activation` `"auto"` or `"softmax"` and at least 2 outputs."""

    sizes: tuple[int, ...] = option((64, 32, 10), "Layer widths, input first, output last.",
                                    unit="neurons", ge=1, min_len=2)
    activation: str = option("sigmoid", "Hidden-layer activation.",
                             choices=("sigmoid", "relu", "tanh"))
    output_activation: str = option(
        "auto", 'Output activation; "auto" = "softmax" when cost is "cross_entropy", '
        "else the same as `activation`.",
        choices=("auto", "sigmoid", "relu", "tanh", "linear", "softmax"))
    cost: str = option("mse", "Cost function.", choices=("mse", "cross_entropy"))
    init: str = option("xavier", 'Weight initialisation: Xavier, or "uniform" on '
                       "U[init_low, init_high).", choices=("xavier", "uniform"))
    init_low: float = option(0.0, 'Lower bound of U[low, high) when init = "uniform".',
                             unit="weight units")
    init_high: float = option(1.0, 'Upper bound of U[low, high) when init = "uniform".',
                              unit="weight units")

    @property
    def resolved_output_activation(self) -> str:
        """The output activation with ``"auto"`` replaced by its meaning."""
        if self.output_activation != "auto":
            return self.output_activation
        return "softmax" if self.cost == "cross_entropy" else self.activation

    def _resolve(self, fail: Callable[..., NoReturn]) -> "NetworkConfig":
        if not self.init_low < self.init_high:
            fail("init_high", f"must be > network.init_low = {_fmt(self.init_low)}", "init_low")
        if self.cost == "cross_entropy":
            if self.output_activation not in ("auto", "softmax"):
                fail("output_activation",
                     'must be "auto" or "softmax" when network.cost = "cross_entropy"', "cost")
            if self.sizes[-1] < 2:
                fail("sizes", 'must end in at least 2 outputs when network.cost = "cross_entropy"',
                     "cost")
        return self


@dataclass(frozen=True)
class MgdConfig:
    """Multiplexed gradient descent: how parameters are perturbed and updated."""

    perturbation: str = option("cdma", "Perturbation multiplexing scheme.",
                               choices=("cdma", "walsh", "fdma", "tdma"))
    mode: str = option("discrete", "Gradient estimation: per-step (discrete) or filtered (analog).",
                       choices=("discrete", "analog"))
    amplitude: float = option(0.05, "Δ: norm of the perturbation vector (Δ² divides the "
                              "estimate, so it must not underflow).", unit="weight units",
                              ge=1e-150, le=1e150)
    eta: float = option(1.0, "η: learning rate.", ge=0.0)
    tau_p: int = option(1, "τp: steps each perturbation code value is held.", unit="steps", ge=1,
                        le=MAX_STEPS)
    tau_x: int = option(1, "τx: steps each input sample is held.", unit="steps", ge=1,
                        le=MAX_STEPS)
    tau_theta: int = option(1, "τθ: steps between parameter updates.", unit="steps", ge=1,
                            le=MAX_STEPS)
    tau_hp: float = option(10.0, "High-pass filter time constant (analog mode only).",
                           unit="steps", gt=0.0)
    fdma_period: int = option(0, "FDMA code period; 0 = automatic: smallest even number ≥ 2·P+2 "
                              "for P perturbed parameters.", unit="code steps", ge=0, le=MAX_STEPS)


@dataclass(frozen=True)
class ChipConfig:
    """The emulated hardware: which synapse device stores the weights, how updates become
    write pulses, and the periphery of each crossbar layer (DACs on inputs, ADCs on outputs,
    neuron variation). Converters quantise signals, never weights; a bound of 0 switches a
    converter off. See docs/devices.md."""

    device: str = option("ideal", "Device profile: a shipped name (`hwsim devices list`) or a "
                         "path to a profile TOML file.")
    weight_scale: float = option(
        1.0, "Network weight per device weight unit: every pre-activation is "
        "weight_scale·(W·a + b), the digital output scaling that maps the devices' bounded "
        "range onto the weights a task needs.", gt=0.0)
    update_rounding: str = option(
        "profile", "How a requested change Δθ becomes a whole number of pulses, "
        "x = abs(Δθ)/dw_min: \"stochastic\" = floor(x) plus one more with probability "
        "x − floor(x), \"nearest\" = round(x); \"profile\" = as the device profile says "
        "(its pulse_rounding).", choices=("profile", "stochastic", "nearest"))
    max_pulses: int = option(-1, "Cap on pulses per device per update: −1 = as the device "
                             "profile says (its max_pulses), 0 = no cap.", unit="pulses", ge=-1,
                             le=MAX_STEPS)
    inp_bound: float = option(0.0, "DAC range ±inp_bound on every layer's inputs (0 = no DAC).",
                              unit="input units", ge=0.0)
    inp_res: float = option(0.0, "DAC resolution as a fraction of the full range: step "
                            "inp_res·2·inp_bound, 1/inp_res + 1 levels (0 = continuous; "
                            "takes effect only with inp_bound > 0).",
                            ge=0.0, le=1.0)
    inp_noise: float = option(0.0, "DAC input noise, standard deviation relative to inp_bound.",
                              ge=0.0)
    out_bound: float = option(0.0, "ADC range ±out_bound on every layer's pre-activations "
                              "(0 = no ADC).", unit="output units", ge=0.0)
    out_res: float = option(0.0, "ADC resolution as a fraction of the full range "
                            "(0 = continuous; takes effect only with out_bound > 0).",
                            ge=0.0, le=1.0)
    out_noise: float = option(0.0, "ADC output noise, standard deviation relative to out_bound.",
                              ge=0.0)
    neuron_gain_dtod: float = option(0.0, "Relative spread of each neuron's fixed activation gain "
                                     "g = 1 + neuron_gain_dtod·ξ (drawn once).", ge=0.0)
    neuron_offset_dtod: float = option(0.0, "Spread of each neuron's fixed pre-activation offset "
                                       "o = neuron_offset_dtod·ξ (drawn once).", ge=0.0)

    def _resolve(self, fail: Callable[..., NoReturn]) -> "ChipConfig":
        if self.inp_noise > 0 and self.inp_bound == 0:
            fail("inp_noise", "needs chip.inp_bound > 0 (noise is relative to the DAC range)",
                 "inp_bound")
        if self.out_noise > 0 and self.out_bound == 0:
            fail("out_noise", "needs chip.out_bound > 0 (noise is relative to the ADC range)",
                 "out_bound")
        return self

    def has_periphery(self) -> bool:
        """True when any converter or neuron variation is switched on."""
        return any((self.inp_bound, self.out_bound, self.neuron_gain_dtod,
                    self.neuron_offset_dtod))


@dataclass(frozen=True)
class SimConfig:
    """Simulation clock and stopping. Rule: when `time_limit_s > 0`, `steps` must be 0 or left
    at its default (an explicit default value counts as left), and is stored as 0."""

    dt: float = option(1e-6, "Duration of one hardware step.", unit="s", gt=0.0, le=1e6)
    steps: int = option(10000, "Steps to run (ignored in favour of time_limit_s when that is > 0).",
                        unit="steps", ge=0, le=MAX_STEPS)
    time_limit_s: float = option(0.0, "Simulated-time budget; when > 0 it replaces `steps`.",
                                 unit="s", ge=0.0)
    eval_every: int = option(1000, "Steps between evaluations (metrics.csv rows).", unit="steps",
                             ge=1, le=MAX_STEPS)
    drift_every: int = option(1000, "Steps between drift epochs, when the device profile has "
                              "drift: every device's conductance is brought to the hardware time "
                              "of the epoch (writes and reads always use their own step's time). "
                              "A fixed grid, independent of eval_every and of how the run is "
                              "chunked.", unit="steps", ge=1, le=MAX_STEPS)
    target_accuracy: float = option(0.9, "Test accuracy that counts as solved.", ge=0.0, le=1.0)
    stop_at_target: bool = option(False, "Stop at the first evaluation reaching target_accuracy.")
    checkpoint_every: int = option(10, "Evaluation ticks between checkpoints (checkpoint.npz); "
                                   "0 = only at the end and on interruption.", unit="ticks",
                                   ge=0, le=MAX_STEPS)
    dtype: str = option("float64", "Precision of every state array: weights, accumulators, "
                        "codes and per-device parameters (field case D10).",
                        choices=("float64", "float32"))
    max_cost: float = option(1e12, "Divergence limit: a train cost above this at an evaluation "
                             "tick stops the run with status \"diverged\" (NaN/Inf always does).",
                             gt=0.0)

    def total_steps(self) -> int:
        """Return the number of steps the run lasts.

        Returns
        -------
        int
            ``steps``, or with a time limit x = time_limit_s / dt: round(x) when x is within
            1e-6 of an integer (so 1.0 s at dt = 0.1 s is 10 and 0.3 s is 3, despite binary
            rounding), else floor(x). The tolerance is a fraction of one step, so a run never
            lasts a whole step longer than its budget, however many steps it has.
        """
        if self.time_limit_s <= 0:
            return self.steps
        x = self.time_limit_s / self.dt
        n = round(x)
        return n if abs(x - n) <= 1e-6 else math.floor(x)

    def _resolve(self, fail: Callable[..., NoReturn]) -> "SimConfig":
        if self.time_limit_s > 0 and self.time_limit_s / self.dt > MAX_STEPS:
            fail("time_limit_s", f"must be at most {MAX_STEPS}·dt (the step counter is 64-bit)",
                 "dt")
        if self.time_limit_s > 0 and self.steps != 0:
            if self.steps != SimConfig.__dataclass_fields__["steps"].default:
                fail("steps", "must be 0 or omitted when sim.time_limit_s > 0", "time_limit_s")
            # Store 0 so to_dict() shows which budget rules and round-trips unambiguously.
            return dataclasses.replace(self, steps=0)
        return self


@dataclass(frozen=True)
class RunConfig:
    """Settings outside any section."""

    seed: int = option(0, "Master random seed; every random stream derives from it.",
                       ge=0, lt=2**63)
    task: TaskConfig = field(default_factory=TaskConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    mgd: MgdConfig = field(default_factory=MgdConfig)
    chip: ChipConfig = field(default_factory=ChipConfig)
    sim: SimConfig = field(default_factory=SimConfig)

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
        return _build(cls, d, "", lambda dotted: source)

    def to_dict(self) -> dict[str, Any]:
        """Return every setting as plain TOML-able types (lists, not tuples), sections nested.

        Returns
        -------
        dict
        """
        return _to_plain(self)

    def with_overrides(self, overrides: Mapping[str, Any],
                       source: str = "<overrides>") -> "RunConfig":
        """Return a validated copy with dotted keys replaced, e.g. ``{"mgd.eta": 0.1}``.

        All overrides are applied together before the cross-field rules are checked.

        Parameters
        ----------
        overrides : Mapping[str, Any]
            Dotted key (``"seed"``, ``"mgd.eta"``) to new Python value.
        source : str
            Label that starts error messages.

        Returns
        -------
        RunConfig

        Raises
        ------
        ConfigError
            As :meth:`from_dict`; unknown keys name the nearest valid key.
        """
        d = self.to_dict()
        for dotted, value in overrides.items():
            _set_dotted(d, dotted, value, source)
        return _build(RunConfig, d, "", lambda dotted: source)


# ---------------------------------------------------------------------------- public functions

def read_toml(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """Parse a UTF-8 TOML file (a BOM is tolerated); only TOML, never pickle or eval.

    Parameters
    ----------
    path : path
    what : str
        What the file is, for messages ("config file", "device profile").

    Raises
    ------
    ConfigError
        Missing, a folder, unreadable, not UTF-8 (naming the byte and its offset), or not TOML.
    """
    source = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise ConfigError(f"{source}: {what} not found") from None
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


def load_config(path: str | os.PathLike[str], overrides: Iterable[str] = ()) -> RunConfig:
    """Read, override and validate a TOML run config.

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
        If the file is missing, unreadable, not UTF-8 or not TOML, or any setting is invalid.
        Errors about an overridden key name the ``--set`` argument instead of the file.
    """
    source = os.fspath(path)
    raw = read_toml(path, "config file")
    key_sources: dict[str, str] = {}
    for arg in overrides:
        arg_source = f"--set {arg}"
        dotted, sep, value_text = arg.partition("=")
        dotted = dotted.strip()
        if not sep or not dotted:
            raise ConfigError(f"{arg_source}: expected section.key=value")
        _set_dotted(raw, dotted, _parse_value(value_text.strip()), arg_source)
        key_sources[dotted] = arg_source
    return _build(RunConfig, raw, "", lambda dotted: key_sources.get(dotted, source))


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
        Dataclass to walk (default: the whole schema).
    prefix : str
        Dotted prefix of ``cls`` (``"mgd."``); empty at the top.

    Returns
    -------
    iterator of (str, dataclasses.Field)
    """
    for f in dataclasses.fields(cls):
        if _is_section(f):
            yield from iter_fields(f.type, f"{prefix}{f.name}.")
        else:
            yield prefix + f.name, f


# ---------------------------------------------------------------------------- validation

def _is_section(f: dataclasses.Field) -> bool:
    return dataclasses.is_dataclass(f.type)


def _fmt(v: Any) -> str:
    """Render a value as TOML would spell it, for messages and docs."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if v != v else ("inf" if v > 0 else "-inf")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(map(_fmt, v)) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_fmt(x)}" for k, x in v.items()) + "}"
    if isinstance(v, int) and v > 2**32 and v & (v - 1) == 0:
        return f"2**{v.bit_length() - 1}"
    return repr(v) if isinstance(v, float) else str(v)


def _bounds(m: Mapping[str, Any]) -> str:
    """'≥ 0', '> 0', 'in [1, 20]', 'in (0, 1)' or '' from the field metadata."""
    lo = ("[", m["ge"]) if "ge" in m else ("(", m["gt"]) if "gt" in m else None
    hi = (m["le"], "]") if "le" in m else (m["lt"], ")") if "lt" in m else None
    if lo and hi:
        return f"in {lo[0]}{_fmt(lo[1])}, {_fmt(hi[0])}{hi[1]}"
    if lo:
        return f"{'≥' if lo[0] == '[' else '>'} {_fmt(lo[1])}"
    if hi:
        return f"{'≤' if hi[1] == ']' else '<'} {_fmt(hi[0])}"
    return ""


def _requirement(typ: type, m: Mapping[str, Any]) -> str:
    """What a scalar must be, phrased to follow 'must be '."""
    if "choices" in m:
        return "one of " + ", ".join(map(_fmt, m["choices"]))
    kind = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}[typ]
    return f"{kind} {_bounds(m)}".rstrip()


def _bad(source: str, dotted: str, value: Any, requirement: str) -> NoReturn:
    raise ConfigError(f"{source}: {dotted} = {_fmt(value)}: {requirement}")


def _scalar(value: Any, typ: type, m: Mapping[str, Any], dotted: str, source: str) -> Any:
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
        raise TypeError(f"{dotted}: unsupported schema type {typ!r}")
    if ok and typ is not bool:
        ok = (v in m["choices"]) if "choices" in m else (
            ("ge" not in m or v >= m["ge"]) and ("gt" not in m or v > m["gt"])
            and ("le" not in m or v <= m["le"]) and ("lt" not in m or v < m["lt"]))
    if not ok:
        requirement = "must be " + _requirement(typ, m)
        if "choices" in m and isinstance(value, str):
            near = difflib.get_close_matches(value, m["choices"], n=1)
            requirement += f"; did you mean {_fmt(near[0])}?" if near else ""
        _bad(source, dotted, value, requirement)
    return v


def _coerce(value: Any, f: dataclasses.Field, dotted: str, source: str) -> Any:
    if get_origin(f.type) is tuple:  # list settings are stored as tuples to stay frozen/hashable
        item = get_args(f.type)[0]
        n = f.metadata.get("min_len", 0)
        if not isinstance(value, (list, tuple)) or len(value) < n:
            noun = "integers" if item is int else "numbers"
            _bad(source, dotted, value,
                 f"must be a list of at least {n} {noun} {_bounds(f.metadata)}".rstrip())
        return tuple(_scalar(v, item, f.metadata, f"{dotted}[{i}]", source)
                     for i, v in enumerate(value))
    return _scalar(value, f.type, f.metadata, dotted, source)


def _unknown(source: str, prefix: str, key: str, fields: Iterable[dataclasses.Field],
             is_table: bool = False) -> NoReturn:
    names = [f.name for f in fields]
    valid = ", ".join(f"[{prefix}{f.name}]" if _is_section(f) else f.name for f in fields)
    near = difflib.get_close_matches(key, names, n=1)
    where = f"{prefix}{key}" if prefix else (f"[{key}]" if is_table else key)
    what = "unknown section" if is_table and not prefix else "unknown key"
    hint = f"; did you mean '{near[0]}'?" if near else ""
    raise ConfigError(f"{source}: {where}: {what}{hint} (valid keys: {valid or 'none'})")


def _build(cls: type, raw: Any, prefix: str, source_of: Callable[[str], str]) -> Any:
    """Validate ``raw`` against dataclass ``cls``; ``source_of(dotted)`` labels errors."""
    if not isinstance(raw, Mapping):
        _bad(source_of(prefix[:-1]), prefix[:-1], raw, f"must be a table [{prefix[:-1]}]")
    fields = dataclasses.fields(cls)
    by_name = {f.name: f for f in fields}
    for key, value in raw.items():
        if key not in by_name:
            _unknown(source_of(prefix + key), prefix, key, fields, isinstance(value, Mapping))
    kwargs = {}
    for f in fields:
        dotted = prefix + f.name
        if _is_section(f):
            kwargs[f.name] = _build(f.type, raw.get(f.name, {}), dotted + ".", source_of)
        elif f.name in raw:
            kwargs[f.name] = _coerce(raw[f.name], f, dotted, source_of(dotted))
    obj = cls(**kwargs)
    if not hasattr(obj, "_resolve"):
        return obj

    def fail(key: str, requirement: str, *related: str) -> NoReturn:
        # Blame an override if one of the keys involved came from one.
        sources = [source_of(prefix + k) for k in (key, *related)]
        src = next((s for s in sources if s != source_of("")), sources[0])
        _bad(src, prefix + key, getattr(obj, key), requirement)

    return obj._resolve(fail)


def build_validated(cls: type, raw: Mapping[str, Any], source: str, prefix: str = "") -> Any:
    """Validate a raw mapping against any schema dataclass declared with :func:`option`.

    The same rules and messages as run configs (unknown keys with the nearest valid key,
    types, ranges, cross-field ``_resolve`` rules); used for device profiles.

    Raises
    ------
    ConfigError
        Naming ``source``, the dotted key (with ``prefix``), the value and what is allowed.
    """
    return _build(cls, raw, prefix, lambda dotted: source)


def _set_dotted(d: dict, dotted: str, value: Any, source: str) -> None:
    """Set ``d[a][b] = value`` for ``dotted = "a.b"``, rejecting keys the schema lacks."""
    cls, prefix, parts = RunConfig, "", dotted.split(".")
    for i, part in enumerate(parts):
        fields = dataclasses.fields(cls)
        f = next((f for f in fields if f.name == part), None)
        if f is None:
            _unknown(source, prefix, part, fields)
        last = i == len(parts) - 1
        if _is_section(f) == last:  # a section named as a key, or a key used as a section
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


def _to_plain(obj: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        out[f.name] = _to_plain(v) if _is_section(f) else list(v) if isinstance(v, tuple) else v
    return out


def config_markdown() -> str:
    """Return the Markdown reference for the run config (the content of docs/config.md).

    Returns
    -------
    str
        A preamble (file format, ``--set`` syntax, type rules, run length) and one table
        per section, generated from the schema metadata.
    """
    from hwsim._configdoc import markdown  # lazy: only the docs need the generator

    return markdown()


if __name__ == "__main__":
    sys.stdout.reconfigure(encoding="utf-8")
    sys.stdout.write(config_markdown())
