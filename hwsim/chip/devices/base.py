"""Fields shared by every pulsed device model, with aihwkit's names and defaults.

Each field is one :func:`hwsim._schema.option` carrying its meaning, unit, allowed range and
when it is sampled ("dtod": drawn once per device at construction; "c2c": fresh each pulse;
"per write"; "per read"; "fixed": the same for every device). Spreads are relative to their
parameter unless the unit says otherwise (docs/devices.md).

hwsim's extra nonidealities (drift, read noise, finite states, one-sided pairs, pulse rounding)
each have their own switch, and switching one changes nothing else (case D5).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from hwsim._schema import Schema, option

DTOD = "dtod: drawn once per device at construction"
C2C = "c2c: fresh each pulse"
PER_WRITE = "per write: redrawn each time the device is written"
PER_READ = "per read"
FIXED = "fixed: the same for every device"


@dataclass(frozen=True)
class PulsedParams(Schema, section="device"):
    """Parameters common to pulsed devices: weights move by write pulses of state-dependent,
    noisy size between per-device bounds (docs/devices.md, "Weights live on devices")."""

    # ------------------------------------------------------------------ steps
    dw_min: float = option(
        0.001, "Mean step of one pulse across devices and directions; also the step the "
        "controller assumes when it converts a requested change into a pulse count.",
        unit="weight units", gt=0.0, sampled=FIXED)
    dw_min_dtod: float = option(
        0.3, "Device-to-device spread of the step: gain g = 1 + dw_min_dtod·ξ (or "
        "exp(dw_min_dtod·ξ) when dw_min_dtod_log_normal).", unit="relative to dw_min", ge=0.0,
        sampled=DTOD)
    dw_min_dtod_log_normal: bool = option(
        False, "Draw the gain log-normally, g = exp(dw_min_dtod·ξ), so it is never negative.",
        sampled=DTOD)
    dw_min_std: float = option(
        0.3, "Cycle-to-cycle spread of each pulse's step (the model's ξ term per pulse).",
        unit="relative to the step", ge=0.0, sampled=C2C)
    up_down: float = option(
        0.0, "Systematic up/down asymmetry β: Δw⁺ = dw_min·(g + min(β, 0) + r), "
        "Δw⁻ = dw_min·(g − max(β, 0) − r). β > 0 shrinks the down step and leaves the up step "
        "at dw_min; β < 0 shrinks the up step.", unit="relative to dw_min", gt=-1.0, lt=1.0,
        why="the mean step dw_min·(1 − |β|) of one direction must stay positive: at |β| ≥ 1 "
        "the device cannot move that way", sampled=FIXED)
    up_down_dtod: float = option(
        0.01, "Device-to-device spread of the asymmetry: r = up_down_dtod·ξ per device.",
        unit="relative to dw_min", ge=0.0, sampled=DTOD)
    # ------------------------------------------------------------------ bounds
    w_max: float = option(
        0.6, "Mean upper bound of a device's weight; b_max = w_max·(1 + w_max_dtod·ξ).",
        unit="weight units", sampled=DTOD)
    w_min: float = option(
        -0.6, "Mean lower bound of a device's weight; b_min = w_min·(1 + w_min_dtod·ξ).",
        unit="weight units", sampled=DTOD)
    w_max_dtod: float = option(
        0.3, "Device-to-device spread of the upper bound.", unit="relative to w_max", ge=0.0,
        sampled=DTOD)
    w_min_dtod: float = option(
        0.3, "Device-to-device spread of the lower bound.", unit="relative to w_min", ge=0.0,
        sampled=DTOD)
    enforce_consistency: bool = option(
        True, "At construction take step sizes in absolute value and force the bounds to "
        "straddle zero (b_max ≥ 0 ≥ b_min; one-sided devices: 0 ≤ b_min ≤ b_max), swapping "
        "them if drawn crossed.", sampled=DTOD)
    # ------------------------------------------------------------------ write noise
    write_noise_std: float = option(
        0.0, "Write noise: the weight the network reads differs from the stored one by "
        "write_noise_std·dw_min·ξ, redrawn at each write (0 = off).",
        unit="relative to dw_min", ge=0.0, sampled=PER_WRITE)
    # ------------------------------------------------------------------ reset and decay
    reset: float = option(
        0.01, "Mean reset value: where a refresh resets a device and where decay leads.",
        unit="weight units", sampled=DTOD)
    reset_dtod: float = option(
        0.0, "Device-to-device spread of the reset value: r = reset + reset_dtod·ξ (absolute, "
        "as in aihwkit).", unit="weight units", ge=0.0, sampled=DTOD)
    reset_std: float = option(
        0.01, "Cycle-to-cycle spread of each reset around the device's reset value.",
        unit="weight units", ge=0.0, sampled="c2c: fresh each reset")
    lifetime: float = option(
        0.0, "Decay (leak) time constant: after each update every device moves toward its "
        "reset value, w ← r + (w − r)·(1 − 1/lifetime) (0 = no decay; capacitors).",
        unit="updates", ge=0.0, sampled=FIXED)
    lifetime_dtod: float = option(
        0.0, "Device-to-device spread of the lifetime.", unit="relative to lifetime", ge=0.0,
        sampled=DTOD)
    # ------------------------------------------------------------------ broken devices
    corrupt_devices_prob: float = option(
        0.0, "Probability that a device is stuck: its bounds collapse to one value and it "
        "ignores every write.", ge=0.0, le=1.0, sampled=DTOD)
    corrupt_devices_range: int = option(
        1000, "Range of stuck values: a stuck device holds dw_min·corrupt_devices_range·U(−1, 1), "
        "clipped into its drawn bounds.", unit="dw_min steps", ge=0, sampled=DTOD)
    # ------------------------------------------------------------------ pulse delivery
    pulse_rounding: str = option(
        "stochastic", "How a requested change Δ becomes a pulse count n from x = |Δ|/dw_min: "
        "\"stochastic\" = floor(x) + Bernoulli(x − floor(x)) (unbiased), \"nearest\" = round.",
        choices=("stochastic", "nearest"), sampled="per update and device")
    max_pulses: int = option(
        0, "Most pulses one update may send to one device (0 = no cap).", unit="pulses",
        ge=0, sampled=FIXED)
    perturbation_by_write: bool = option(
        False, "How the MGD perturbation reaches the synapse: false = a separate small signal "
        "added on the read path (the device is never written for it); true = written into "
        "the device as pulses at each code change and removed (as pulses) before each "
        "baseline read, so its quantisation, noise and asymmetry act on the weights. "
        "Discrete mode only.", sampled=FIXED)
    # ------------------------------------------------------------------ drift
    drift: str = option(
        "none", "Conductance drift after programming: \"power\" = w(t) = w_prog·((t − t_prog)/"
        "drift_t0)^(−ν) with ν = drift_nu·(1 + drift_nu_dtod·ξ); \"pcm\" = the same law with "
        "the PCM ν(g) of Nandakumar/Joshi; \"none\" = off.",
        choices=("none", "power", "pcm"), sampled=FIXED)
    drift_nu: float = option(
        0.05, "Mean drift exponent ν (drift = \"power\" only).", ge=0.0, sampled=DTOD)
    drift_nu_dtod: float = option(
        0.0, "Device-to-device spread of ν (drift = \"power\" only).",
        unit="relative to drift_nu", ge=0.0, sampled=DTOD)
    drift_t0: float = option(
        20.0, "Reference time t0 after programming at which the programmed weight is read; "
        "drift acts after it. Also t0 of the PCM read-noise time dependence.", unit="s",
        gt=0.0, sampled=FIXED)
    # ------------------------------------------------------------------ read noise
    read_noise: str = option(
        "none", "Noise on every read of the weights: \"additive\" = read_noise_std·ξ; "
        "\"pcm\" = 1/f-like, σ = |g|·min(0.0088/(g/g_max)^0.65, 0.2)·√ln((t + t_read)/"
        "(2·t_read))·read_noise_scale, growing (relative) as the conductance falls; "
        "\"none\" = off.", choices=("none", "additive", "pcm"), sampled=PER_READ)
    read_noise_std: float = option(
        0.01, "Standard deviation of additive read noise (read_noise = \"additive\").",
        unit="weight units", ge=0.0, sampled=PER_READ)
    read_noise_scale: float = option(
        1.0, "Multiplier of the published PCM read-noise σ (read_noise = \"pcm\"; 1 = as "
        "published).", ge=0.0, sampled=PER_READ)
    read_noise_frozen_per_step: bool = option(
        False, "Use the same read-noise draw for both reads of one MGD step (perturbed and "
        "unperturbed cost; case D12); false = independent draws.", sampled=PER_READ)
    # ------------------------------------------------------------------ finite states
    n_states: int = option(
        0, "Number of conductance levels, equally spaced over each device's own "
        "[b_min, b_max]; every write lands on the nearest (0 = continuous).", unit="levels",
        ge=0, sampled=FIXED)
    # ------------------------------------------------------------------ one-sided pairs
    one_sided: bool = option(
        False, "Each weight is a pair G⁺ − G⁻ of potentiation-only devices (PCM): Δ > 0 pulses "
        "G⁺ up, Δ < 0 pulses G⁻ up. w_min/w_max then bound each conductance (needs "
        "w_min ≥ 0).", sampled=FIXED)
    refresh_every: int = option(
        0, "Refresh period of one-sided pairs: reset both devices and re-program their "
        "difference by write-verify (0 = never).", unit="updates", ge=0, sampled=FIXED)
    refresh_iterations: int = option(
        10, "Write-verify cycles used to re-program a pair after a refresh.", unit="cycles",
        ge=1, sampled=FIXED)

    # ------------------------------------------------------------------ predicates
    def has_write_noise(self) -> bool:
        """Whether reads of the weights differ from the stored value after a write."""
        return self.write_noise_std > 0.0

    def has_decay(self) -> bool:
        """Whether devices leak toward their reset value after every update."""
        return self.lifetime > 0.0

    def has_drift(self) -> bool:
        """Whether weights drift with hardware time."""
        return self.drift != "none"

    def has_read_noise(self) -> bool:
        """Whether each read adds noise."""
        return self.read_noise != "none"

    def is_quantized(self) -> bool:
        """Whether conductances take finitely many levels."""
        return self.n_states > 0

    def number_of_states(self) -> float:
        """(w_max − w_min)/dw_min: steps from bound to bound (case D7)."""
        return (self.w_max - self.w_min) / self.dw_min

    def suspicious_values(self) -> list[tuple[str, str]]:
        """Return the values that are valid but unlike any real device, with the reason.

        Validation refuses what no device could do (a step larger than the whole range,
        noise wider than it, a negative decay factor); this lists what is merely doubtful.
        :func:`hwsim.chip.profiles.load_profile` issues each as a
        :class:`~hwsim.exceptions.HwsimWarning` and ``hwsim devices validate`` prints them.

        Returns
        -------
        list of (str, str)
            Field name and reason, in schema order.
        """
        out = []
        states = self.number_of_states()
        if states < 2:
            out.append(("dw_min", f"only {states:.2f} steps between w_min and w_max: the "
                        "device is at best binary, hardly a trainable analog synapse"))
        if self.dw_min_std > 10:
            out.append(("dw_min_std", "cycle-to-cycle spread above 10 steps per pulse, twice "
                        "the noisiest published device shipped (reram_es, 5.0)"))
        spreads = (("dw_min_dtod", "step gain", not self.dw_min_dtod_log_normal),
                   ("w_max_dtod", "upper bound", True), ("w_min_dtod", "lower bound", True),
                   ("lifetime_dtod", "lifetime", self.lifetime > 0),
                   ("drift_nu_dtod", "drift exponent", self.drift == "power"))
        for key, what, applies in spreads:
            if applies and getattr(self, key) > 1:
                out.append((key, f"relative spread above 1: more than 16 % of devices draw a "
                            f"{what} of the wrong sign (then flipped or clipped)"))
        if not self.one_sided and not self.w_min <= self.reset <= self.w_max:
            out.append(("reset", f"outside [w_min, w_max] = [{self.w_min!r}, {self.w_max!r}]: "
                        "refresh and decay would aim at a weight the device cannot hold"))
        return out

    # ------------------------------------------------------------------ cross-field rules
    def _resolve(self, fail: Callable[..., NoReturn]) -> "PulsedParams":
        if not self.w_min < self.w_max:
            fail("w_max", f"must be > w_min = {self.w_min!r}", "w_min")
        span = self.w_max - self.w_min
        if self.dw_min > span:
            fail("dw_min", f"must be ≤ w_max − w_min = {span!r}: one pulse would overshoot the "
                 f"whole weight range ({span / self.dw_min:.1g} states)", "w_max", "w_min")
        # Noise wider than the whole range leaves a device holding noise, not a weight.
        for key, sigma in (("dw_min_std", self.dw_min_std * self.dw_min),
                           ("dw_min_dtod", self.dw_min_dtod * self.dw_min),
                           ("up_down_dtod", self.up_down_dtod * self.dw_min),
                           ("write_noise_std", self.write_noise_std * self.dw_min),
                           ("reset_std", self.reset_std), ("reset_dtod", self.reset_dtod),
                           ("read_noise_std", self.read_noise_std if self.read_noise ==
                            "additive" else 0.0)):
            if sigma > span:
                fail(key, f"gives a spread of {sigma:g} weight units, wider than the whole "
                     f"range w_max − w_min = {span!r}: the device would hold noise, not a "
                     "weight", "w_max", "w_min")
        if 0 < self.lifetime < 1:
            fail("lifetime", "must be 0 (no decay) or ≥ 1: below 1 the decay factor "
                 "1 − 1/lifetime is negative and would flip the weight's sign every update")
        if self.one_sided and self.w_min < 0:
            fail("w_min", "must be ≥ 0 when one_sided = true (each device of the pair is a "
                 "conductance)", "one_sided")
        if self.enforce_consistency and not self.one_sided and not self.w_min <= 0 <= self.w_max:
            fail("w_min" if self.w_min > 0 else "w_max",
                 "must leave 0 inside [w_min, w_max]: enforce_consistency makes a two-sided "
                 "device's bounds straddle zero (use one_sided = true for conductances, or "
                 "enforce_consistency = false)", "enforce_consistency")
        if (self.w_max - self.w_min) / self.dw_min > 1e10:
            # Pulses are simulated one by one: a bound-to-bound write must stay countable.
            fail("dw_min", f"must be ≥ (w_max − w_min)/1e10 = {(self.w_max - self.w_min) / 1e10:g}"
                 " (at most 10¹⁰ steps between the bounds)", "w_max", "w_min")
        if self.n_states == 1:
            fail("n_states", "must be 0 (continuous) or ≥ 2 levels")
        if self.refresh_every > 0 and not self.one_sided:
            fail("refresh_every", "must be 0 unless one_sided = true (only pairs are refreshed)",
                 "one_sided")
        if self.read_noise_frozen_per_step and self.read_noise == "none":
            fail("read_noise_frozen_per_step",
                 'needs read_noise = "additive" or "pcm" (there is no read noise to freeze)',
                 "read_noise")
        return self
