"""Why a device does or does not train: measure a short MGD run update by update (issue 12).

:func:`diagnose` runs a run config (or the digits default) on a device profile for a short
budget, stepping the chip to each update and recording, per synapse and update, the request
Δθ (the optimizer's output), the change the network then sees and the pulses sent; and
measures every device's symmetry point once by alternating pulses
(:meth:`hwsim.chip.devices.DeviceArray.symmetry_point`). It answers the two questions of the
literature: does a zero-mean train of ± pulses walk the weights to their symmetry point
(asymmetric devices), and are the requested updates small against dw_min and the write
noise (noisy devices)? Used by ``hwsim devices diagnose``; numbers in docs/devices.md.

References
----------
Gokmen & Haensch, "Algorithm for training neural networks on resistive device arrays",
Front. Neurosci. 14:103 (2020); Rasch et al., Nat. Commun. 15, 7133 (2024).
"""

import math
from dataclasses import dataclass

import numpy as np

from hwsim.chip.profiles import load_profile
from hwsim.config import RunConfig
from hwsim.exceptions import ConfigError
from hwsim.learn.trainer import build_chip

#: The setting of docs/devices.md's per-profile study, used without ``--config``.
DEFAULT_SETTINGS = {"task.name": "digits", "network.sizes": [64, 32, 10],
                    "network.activation": "sigmoid", "network.cost": "cross_entropy",
                    "mgd.amplitude": 0.05, "mgd.eta": 0.5, "mgd.tau_theta": 50, "seed": 1}


@dataclass(frozen=True)
class Diagnosis:
    """What :func:`diagnose` measured. Weight changes are in units of dw_min unless named
    ``*_w`` (weight units); "per update" means per synapse and update, averaged."""

    profile: str
    model: str
    dw_min: float
    steps: int
    updates: int
    n_params: int
    symmetry_point_mean_w: float      # mean over devices of the measured symmetry point
    symmetry_point_std_w: float       # its device-to-device spread
    distance_to_sp_start_w: float     # mean |w − w*| of the stored w at the first update
    distance_to_sp_end_w: float       # ... after the last
    walk_toward_sp: float             # mean of Δw·sign(w* − w) per update, stored w (dw_min)
    move: float                       # mean |Δw| per update, stored w (dw_min)
    request: float                    # mean |Δθ_requested| per update (dw_min)
    request_median: float             # median |Δθ_requested|/dw_min
    request_to_write_noise: float     # median |request|/(write_noise_std·dw_min); inf if none
    request_to_pulse_noise: float     # median |request|/(dw_min_std·dw_min·√n), n its pulses
    pulses_per_update: float          # pulses per synapse and update
    pulses_per_write: float           # pulses per synapse that was written
    zero_pulse_fraction: float        # requests ≠ 0 that round to 0 pulses (expected)
    written_fraction: float           # requests ≠ 0 that were written (device_writes)
    sign_agreement: float             # written synapses whose Δθ has the request's sign
    one_sided: bool

    def lines(self) -> list[str]:
        """The report as text lines (``hwsim devices diagnose``)."""
        f = _fmt
        sp = ("n/a (one-sided pairs only potentiate)" if self.one_sided else
              f"{f(self.symmetry_point_mean_w)} ± {f(self.symmetry_point_std_w)} weight units "
              "(alternating pulses, per device)")
        rw = ("no write noise" if math.isinf(self.request_to_write_noise)
              else f(self.request_to_write_noise))
        head = [f"profile {self.profile} ({self.model}), dw_min {f(self.dw_min)}: "
                f"{self.steps} steps, {self.updates} updates, {self.n_params} synapses",
                f"symmetry point w*:                  {sp}"]
        if not self.one_sided:
            head += [f"mean |w − w*|, first → last update: "
                     f"{f(self.distance_to_sp_start_w)} → {f(self.distance_to_sp_end_w)} "
                     "weight units",
                     f"walk toward w* per update:          {f(self.walk_toward_sp)} dw_min "
                     f"(of a mean move |Δw| of {f(self.move)} dw_min; stored w)"]
        else:
            head += [f"mean move |Δw| per update:          {f(self.move)} dw_min"]
        return head + [
            f"requested |Δθ| per update:          mean {f(self.request)}, median "
            f"{f(self.request_median)} dw_min",
            f"request / write noise (median):     {rw}",
            f"request / pulse noise (median):     {f(self.request_to_pulse_noise)} "
            "(dw_min_std·dw_min·√pulses)",
            f"pulses per synapse and update:      {f(self.pulses_per_update)} "
            f"({f(self.pulses_per_write)} per written synapse)",
            f"requests rounding to zero pulses:   {100 * self.zero_pulse_fraction:.1f} % "
            f"(written: {100 * self.written_fraction:.1f} %)",
            f"writes moving θ the requested way:  {100 * self.sign_agreement:.1f} %",
        ]


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def default_config(profile: str) -> RunConfig:
    """docs/devices.md's study setting (digits 64-32-10, τθ = 50, η = 0.5) on ``profile``."""
    return RunConfig().with_overrides({**DEFAULT_SETTINGS, "chip.device": profile})


def diagnose(profile: str | None = None, cfg: RunConfig | None = None,
             steps: int = 20_000) -> Diagnosis:
    """Measure a short run of ``cfg`` (default :func:`default_config`) on ``profile``.

    Parameters
    ----------
    profile : str, optional
        Shipped name or profile file; default ``cfg.chip.device``.
    cfg : hwsim.config.RunConfig, optional
        The run to diagnose (its ``sim.steps`` is replaced by ``steps``).
    steps : int
        Hardware steps to run (>= 2·τθ); about steps/τθ updates are measured.

    Returns
    -------
    Diagnosis

    Raises
    ------
    ConfigError
        An ideal device (nothing to diagnose), too few steps, or a bad config or profile.
    """
    if cfg is None:
        cfg = default_config(profile or "ideal")
    elif profile is not None:
        cfg = cfg.with_overrides({"chip.device": profile})
    prof = load_profile(cfg.chip.device)
    if prof.model == "Ideal":
        raise ConfigError(f"chip.device = {cfg.chip.device!r}: an Ideal device delivers every "
                          "request exactly; nothing to diagnose")
    period = 1 if cfg.mgd.mode == "analog" else int(cfg.mgd.tau_theta)
    if not isinstance(steps, int) or steps < 2 * period:
        raise ConfigError(f"--steps {steps}: must be an integer >= 2·τθ = {2 * period}")
    chip, _, _ = build_chip(cfg, profile=prof)
    p = prof.params
    dw = float(p.dw_min)
    P = chip.P
    one_sided = bool(p.one_sided)
    states = chip.device.n_states()
    sp = chip.device.symmetry_point(int(min(max(10 * states, 1000), 20_000)))[:P].astype(
        np.float64)
    if one_sided:
        sp[:] = np.nan  # a potentiation-only pair has no symmetry point
    chip.advance(period)  # the first update is due at the next step
    n_upd = steps // period - 1
    toward = move = req_abs = 0.0
    reqs = []
    zero = nonzero = agree = written = 0.0
    pulses0 = chip.device_stats()["pulses"]
    writes0 = chip.device_stats()["device_writes"]
    stochastic = chip.pulse_settings()["pulse_rounding"] == "stochastic"
    W = chip.device.dev[5]  # stored weights (no write-noise offset): what drifts to w*
    d_start = float(np.abs(W[:P] - sp).mean())
    for _ in range(n_upd):
        before = chip.theta.astype(np.float64)
        stored = W[:P].astype(np.float64)
        chip.advance(1)
        req = chip.state.req.copy()
        d = chip.theta.astype(np.float64) - before
        ds = W[:P].astype(np.float64) - stored
        toward += float((ds * np.sign(sp - stored)).sum())
        move += float(np.abs(ds).sum())
        a = np.abs(req)
        req_abs += float(a.sum())
        reqs.append(a / dw)
        x = a[a > 0] / dw
        nonzero += x.size
        zero += float(np.clip(1.0 - x, 0.0, 1.0).sum()) if stochastic else float((x < 0.5).sum())
        w = (d != 0) & (req != 0)
        written += float(w.sum())
        agree += float((np.sign(d[w]) == np.sign(req[w])).sum())
        if period > 1:
            chip.advance(period - 1)
    st = chip.device_stats()
    n = n_upd * P
    x = np.concatenate(reqs)
    pulses = st["pulses"] - pulses0
    writes = st["device_writes"] - writes0
    n_pulses = np.maximum(np.rint(x), 1.0)
    wn = float(p.write_noise_std)
    pulse_noise = float(p.dw_min_std) * np.sqrt(n_pulses)
    return Diagnosis(
        profile=prof.name, model=prof.model, dw_min=dw, steps=int(chip.step), updates=n_upd,
        n_params=P, symmetry_point_mean_w=float(sp.mean()), symmetry_point_std_w=float(sp.std()),
        distance_to_sp_start_w=d_start,
        distance_to_sp_end_w=float(np.abs(W[:P] - sp).mean()),
        walk_toward_sp=toward / n / dw, move=move / n / dw, request=req_abs / n / dw,
        request_median=float(np.median(x)),
        request_to_write_noise=float(np.median(x) / wn) if wn > 0 else math.inf,
        request_to_pulse_noise=float(np.median(x / pulse_noise)) if p.dw_min_std > 0
        else math.inf,
        pulses_per_update=pulses / n, pulses_per_write=pulses / writes if writes else 0.0,
        zero_pulse_fraction=zero / nonzero if nonzero else 0.0,
        written_fraction=writes / nonzero if nonzero else 0.0,
        sign_agreement=agree / written if written else 0.0, one_sided=one_sided)
