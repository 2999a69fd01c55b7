"""The chip's signal path between the cost and the synapses: the global cost broadcast line
and the local lock-in integrators, as nonideal stage options (docs/chip.md, issue 13).

:func:`cost_line_params` and :func:`integrator_params` turn the settings of the config
sections ``[chip.cost_line]`` and ``[chip.integrator]`` (given as mappings with the same
keys; missing keys take the ideal value) into the kernels' parameter records
(:class:`hwsim.kernels.cost_line.CostLineParams`,
:class:`hwsim.kernels.integrator.IntegratorParams`). With every key at its default the
records equal the ideal ones and the chip's results are bit-identical to an ideal chip.
"""

import math
from collections.abc import Mapping

import numpy as np

from hwsim.exceptions import ConfigError
from hwsim.kernels import integrator as _int

#: The ideal value of every cost-line setting (the config defaults).
COST_LINE_DEFAULTS = {"latency": 0, "latency_s": 0.0, "match_delay": False, "noise_std": 0.0,
                      "bits": 0, "range": 0.0, "bandwidth_tau": 0.0}
#: The ideal value of every integrator setting (the config defaults).
INTEGRATOR_DEFAULTS = {"tau_leak": 0.0, "saturation": 0.0, "offset": 0.0, "gain_dtod": 0.0,
                       "bits": 0, "lsb": 0.0, "reset_keep": 0.0}


def _spec(spec, defaults, section):
    out = dict(defaults)
    for k, v in dict(spec or {}).items():
        if k not in defaults:
            raise ConfigError(f"{section}.{k}: unknown key (valid keys: {', '.join(defaults)})")
        out[k] = v
    for k, v in out.items():
        if k == "match_delay":
            if not isinstance(v, (bool, np.bool_)):
                raise ConfigError(f"{section}.{k} = {v!r}: must be true or false")
            continue
        if k in ("latency", "bits"):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ConfigError(f"{section}.{k} = {v!r}: must be an integer ≥ 0")
        elif isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)) \
                or not math.isfinite(v) or v < 0 and k != "offset":
            raise ConfigError(f"{section}.{k} = {v!r}: must be a finite number"
                              + ("" if k == "offset" else " ≥ 0"))
    if out["bits"] == 1 or out["bits"] > 52:
        raise ConfigError(f"{section}.bits = {out['bits']}: must be 0 (off) or in [2, 52]")
    return out


#: Most steps a cost-line value may be in flight (the bound of ``chip.cost_line.latency``).
MAX_LATENCY = 2**24


def latency_steps(latency, latency_s, dt):
    """L in steps from ``latency`` (steps) or ``latency_s`` (seconds): a value sent at step n
    arrives at the first step at or after n·dt + latency_s (x = latency_s/dt rounded when
    within 1e-6 of an integer, else rounded up).

    Raises
    ------
    ConfigError
        Both given, or more than :data:`MAX_LATENCY` steps.
    """
    if latency and latency_s:
        raise ConfigError(f"chip.cost_line.latency = {latency} and chip.cost_line.latency_s = "
                          f"{latency_s}: give one of them")
    if not latency_s:
        return int(latency)
    x = latency_s / dt
    n = round(x)
    steps = int(n if abs(x - n) <= 1e-6 else math.ceil(x))
    if steps > MAX_LATENCY:
        raise ConfigError(f"chip.cost_line.latency_s = {latency_s}: {steps} steps of "
                          f"sim.dt = {dt} s; allowed: at most {MAX_LATENCY} steps (the line "
                          "holds every value in flight)")
    return steps


def cost_line_params(base, spec: Mapping | None, *, dt: float, seed: int, target: str):
    """The cost line's record with the ``[chip.cost_line]`` settings ``spec`` applied.

    Parameters
    ----------
    base : CostLineParams
        The ideal line (mode, high-pass, two-sided).
    spec : mapping or None
        Keys of :data:`COST_LINE_DEFAULTS`: ``latency`` (steps) or ``latency_s`` (s),
        ``match_delay``, ``noise_std`` (cost units), ``bits`` with ``range`` (cost units),
        ``bandwidth_tau`` (steps).
    dt : float
        Seconds per step (for ``latency_s``).
    seed : int
        Master seed (the noise stream STREAM_COST_NOISE).
    target : {"weights", "nodes"}

    Returns
    -------
    CostLineParams

    Raises
    ------
    ConfigError
        A value of the wrong type or range, ``bits`` without ``range``, both latencies, or a
        latency with node perturbation (each synapse multiplies by its current presynaptic
        activity, which a delayed line does not match).
    """
    s = _spec(spec, COST_LINE_DEFAULTS, "chip.cost_line")
    L = latency_steps(s["latency"], s["latency_s"], dt)
    if s["bits"] and not s["range"] > 0:
        raise ConfigError(f"chip.cost_line.bits = {s['bits']}: needs chip.cost_line.range > 0 "
                          "(the quantiser's full scale ±range)")
    if L > 0 and target == "nodes":
        raise ConfigError(f"chip.cost_line.latency = {L} steps: needs mgd.target = 'weights' "
                          "(node perturbation multiplies by the current presynaptic activity)")
    tau = float(s["bandwidth_tau"])
    on = bool(L or s["noise_std"] or s["bits"] or tau)
    return base._replace(
        nonideal=np.int64(on), latency=np.int64(L), match=np.int64(bool(s["match_delay"])),
        noise_std=float(s["noise_std"]), q_bits=np.int64(s["bits"]),
        q_range=float(s["range"]), lp_keep=tau / (tau + 1.0), seed=np.int64(seed))


def integrator_params(base, spec: Mapping | None, *, seed: int, P: int, mode: str,
                      target: str):
    """The integrators' record with the ``[chip.integrator]`` settings ``spec`` applied.

    Parameters
    ----------
    base : IntegratorParams
        The ideal integrator (1/Δ², analog low-pass weights).
    spec : mapping or None
        Keys of :data:`INTEGRATOR_DEFAULTS`: ``tau_leak`` (steps, 0 = none), ``saturation``
        (G units, 0 = none), ``offset`` (G units per step), ``gain_dtod`` (relative),
        ``bits`` with ``lsb`` (G units), ``reset_keep`` (fraction kept at an update).
    seed : int
        Master seed (the gain stream STREAM_INT_GAIN).
    P : int
        Synapses (integrators).
    mode, target : str
        The nonideal integrator needs discrete mode and weight perturbation.

    Returns
    -------
    IntegratorParams

    Raises
    ------
    ConfigError
        A value of the wrong type or range, ``bits`` without ``lsb``, ``reset_keep`` above
        1, or a nonideal integrator in analog mode or with node perturbation.
    """
    s = _spec(spec, INTEGRATOR_DEFAULTS, "chip.integrator")
    if s["bits"] and not s["lsb"] > 0:
        raise ConfigError(f"chip.integrator.bits = {s['bits']}: needs chip.integrator.lsb > 0 "
                          "(the counter's step in G units)")
    if s["reset_keep"] > 1:
        raise ConfigError(f"chip.integrator.reset_keep = {s['reset_keep']}: must be in [0, 1]")
    on = any(s[k] for k in ("tau_leak", "saturation", "offset", "gain_dtod", "bits",
                            "reset_keep"))
    if not on:
        return base
    if mode != "discrete" or target != "weights":
        raise ConfigError("chip.integrator: the nonideal integrator needs mgd.mode = 'discrete' "
                          "and mgd.target = 'weights'")
    keep, lam = _int.leak_factors(float(s["tau_leak"]))
    gain = (_int.gain_mismatch(seed, float(s["gain_dtod"]), P) if s["gain_dtod"]
            else np.zeros(0))
    return base._replace(nonideal=np.int64(1), leak_keep=keep, leak_in=lam,
                         offset=float(s["offset"]), gain=gain, q_bits=np.int64(s["bits"]),
                         q_lsb=float(s["lsb"]), sat=float(s["saturation"]),
                         reset_keep=float(s["reset_keep"]))
