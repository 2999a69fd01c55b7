"""Config sections of the chip's signal path: ``[chip.cost_line]`` and ``[chip.integrator]``.

Nested under ``[chip]`` (:class:`hwsim.sections.chip.ChipConfig`); every key is off by default, and
with all keys at their defaults a run is bit-identical to one without these sections. The
chip turns them into the kernels' records (:mod:`hwsim.chip.signal_path`); docs/chip.md
describes each nonideality, its physical origin and its measured effect.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from hwsim._schema import Schema, option


@dataclass(frozen=True)
class CostLineConfig(Schema, section="chip.cost_line"):
    """The global cost broadcast line between the cost circuit and every synapse
    (docs/chip.md). In order: the value C̃ formed at a step gets additive noise, passes a
    first-order low-pass, is quantised by a symmetric mid-tread ADC over ±range (clipped
    values counted in the counter `cost_clipped`, clipped fraction in summary.json) and
    arrives `latency` steps later. Rules: `bits` needs `range > 0`; give `latency` or
    `latency_s`, not both; a latency needs `mgd.target = "weights"`."""

    latency: int = option(0, "L: steps between sending C̃ and every synapse receiving it "
                          "(0 = instant). Origin: wire RC and repeaters of a chip-wide line, "
                          "pipelined cost circuits.", unit="steps", ge=0, le=2**24)
    latency_s: float = option(0.0, "The latency in seconds instead of steps: a value sent at "
                              "step n arrives at the first step at or after n·dt + latency_s "
                              "(0 = use `latency`).", unit="s", ge=0.0)
    match_delay: bool = option(False, "Delay each synapse's reference by the same L, so it "
                               "correlates C̃_{n−L} with the code of step n − L (regenerated "
                               "from the code's counter hash, not stored); false = a "
                               "mismatched delay, a real design error.")
    noise_std: float = option(0.0, "σ of additive Gaussian noise on the broadcast C̃, one draw "
                              "per step (own stream). Origin: thermal and coupling noise on a "
                              "long analog line.", unit="cost units", ge=0.0)
    bits: int = option(0, "b: the broadcast is quantised to b bits (symmetric mid-tread, LSB = "
                       "range/(2^(b−1) − 1)); 0 = analog, unquantised. Origin: a digital "
                       "broadcast bus or the ADC of the cost circuit.", unit="bits", ge=0,
                       le=52)
    range: float = option(0.0, "R: full scale ±R of the quantiser; abs(C̃) > R is clipped to ±R "
                          "and counted.", unit="cost units", ge=0.0)
    bandwidth_tau: float = option(0.0, "τ of a first-order low-pass on the line, y_n = "
                                  "a·y_{n−1} + (1 − a)·x_n with a = τ/(τ + 1) (0 = infinite "
                                  "bandwidth). Origin: the line's RC.", unit="steps", ge=0.0)

    def _resolve(self, fail: Callable[..., NoReturn]) -> "CostLineConfig":
        if self.bits == 1:
            fail("bits", "must be 0 (off) or at least 2 (a symmetric quantiser needs a sign "
                 "and one magnitude bit)")
        if self.bits and not self.range > 0:
            fail("bits", "needs chip.cost_line.range > 0 (the quantiser's full scale)", "range")
        if self.latency and self.latency_s:
            fail("latency_s", "must be 0 when chip.cost_line.latency > 0 (give one of them)",
                 "latency")
        return self


@dataclass(frozen=True)
class IntegratorConfig(Schema, section="chip.integrator"):
    """The local lock-in integrator of every synapse, G (docs/chip.md; discrete mode and
    weight perturbation only). Per step: u = γ_i·(C̃·θ̃_ref/Δ²) + offset; G ← κ·G + λ·u
    (leak, κ = e^(−1/τ), λ = τ(1 − κ)); G rounded to a counter of `bits` bits with step
    `lsb`; G clipped to ±saturation. At an update G ← reset_keep·G. Rules: `bits` needs
    `lsb > 0`; any key on needs `mgd.mode = "discrete"` and `mgd.target = "weights"`."""

    tau_leak: float = option(0.0, "τ_leak: leak time constant of the integrator (0 = no "
                             "leak). τ_leak ≫ τθ is the ideal integrator; τ_leak → 0 forgets "
                             "everything. Origin: capacitor leakage.", unit="steps", ge=0.0)
    saturation: float = option(0.0, "Max abs(G) (0 = none): G is clipped to ±saturation every "
                               "step. Origin: the integrator's output swing.",
                               unit="G units (cost/weight)", ge=0.0)
    offset: float = option(0.0, "Input-referred offset o added to every step's input. Origin: "
                           "amplifier/comparator offset, charge injection.",
                           unit="G units per step")
    gain_dtod: float = option(0.0, "σ_γ: each synapse's integrator gain γ_i = 1 + σ_γ·ξ_i, "
                              "drawn once from its own stream (dtod). Origin: capacitor and "
                              "transconductance mismatch.", ge=0.0)
    bits: int = option(0, "b: G is held in a b-bit up/down counter, G = k·lsb with "
                       "abs(k) ≤ 2^(b−1) − 1 (rounded to nearest every step, saturating); "
                       "0 = continuous. Origin: a digital accumulator.", unit="bits", ge=0,
                       le=52)
    lsb: float = option(0.0, "The counter's step (one count) when bits > 0.",
                        unit="G units", ge=0.0)
    reset_keep: float = option(0.0, "ρ: share of G kept at an update (0 = full reset, as the "
                               "ideal integrator; 1 = never reset). Origin: incomplete "
                               "discharge of the integration capacitor.", ge=0.0, le=1.0)

    def _resolve(self, fail: Callable[..., NoReturn]) -> "IntegratorConfig":
        if self.bits == 1:
            fail("bits", "must be 0 (off) or at least 2 (sign and one magnitude bit)")
        if self.bits and not self.lsb > 0:
            fail("bits", "needs chip.integrator.lsb > 0 (the counter's step)", "lsb")
        return self

    def is_ideal(self) -> bool:
        """True when every key is at its ideal default."""
        return not any((self.tau_leak, self.saturation, self.offset, self.gain_dtod,
                        self.bits, self.reset_keep))


@dataclass(frozen=True)
class SourceConfig(Schema, section="chip.perturbation"):
    """The perturbation source: what the synapses get differs from the code the generators
    meant (docs/chip.md; weight perturbation added on the read path only). Per code period
    the nominal code ν comes from the generators (shared, biased); the target is
    ν_i·α_i·(1 + σ_c·ζ) plus cross-talk χ from the two neighbouring lines (FDMA: its own
    frequency error and phase jitter); the applied perturbation follows the target through a
    first-order low-pass. Each integrator correlates with the nominal code or a measured copy
    of the applied one. Rules: `p_plus` needs CDMA, the `fdma_` keys need FDMA; "row" and
    "column" need a network."""

    kind: str = option("code", 'The source: "code" a generated code (mgd.perturbation); '
                       '"write_noise" no code: each code period writes a pair of pulses '
                       "(+dw_min, −dw_min) to every device and reads back what they did "
                       "(2 reads per device, counter noise_readback_reads); that change stays "
                       "in the devices as the perturbation and is each synapse's reference, "
                       "G scaled by 1/(P·v), v = 2(dw_min_std·dw_min)² + "
                       "2(write_noise_std·dw_min)². Needs a pulsed profile with write noise, "
                       "discrete mode, weight perturbation, one-sided estimate, τx and τθ "
                       "multiples of τp, and the other keys here at their defaults. Origin: "
                       "in-memory zeroth-order training with intrinsic device noise.",
                       choices=("code", "write_noise"))
    amp_dtod: float = option(0.0, "σ_d: each line's amplitude α_i = 1 + σ_d·ξ_i, drawn once "
                             "(dtod). Origin: driver and DAC gain mismatch.", ge=0.0)
    amp_c2c: float = option(0.0, "σ_c: relative amplitude noise, one draw per line per code "
                            "period (c2c). Origin: supply and reference noise of the drivers.",
                            ge=0.0)
    p_plus: float = option(0.5, "p₊: probability that a CDMA generator draws + (½ = fair). "
                           "Origin: a biased random bit generator.", gt=0.0, lt=1.0)
    bandwidth_tau: float = option(0.0, "τ of a first-order low-pass of the applied code, "
                                  "a = τ/(τ + 1) per step (0 = infinite bandwidth). Origin: "
                                  "the RC of the perturbation lines.", unit="steps", ge=0.0)
    shared: str = option("none", 'Shared code generators: "row" one per neuron (its weights '
                         'and bias), "column" one per input (and one for a layer\'s biases), '
                         '"group" one per group_size consecutive parameters; "none" one per '
                         "parameter. Shared codes are identical, so each synapse's estimate "
                         "is the sum of the gradients of its generator's synapses.",
                         choices=("none", "row", "column", "group"))
    group_size: int = option(1, 'Parameters per generator with shared = "group".',
                             unit="parameters", ge=1, le=2**31)
    crosstalk: float = option(0.0, "χ: each line also carries χ times the targets of its two "
                              "neighbours (parameter order). Origin: capacitive coupling of "
                              "adjacent lines.", ge=-1.0, le=1.0)
    fdma_freq_dtod: float = option(0.0, "ε: each FDMA generator's frequency is f·(1 + ε·ξ), "
                                   "drawn once (dtod); the reference keeps the nominal one. "
                                   "Origin: oscillator mismatch.", ge=0.0)
    fdma_phase_jitter: float = option(0.0, "σ_φ: FDMA phase jitter, one normal draw per "
                                      "generator per code period. Origin: oscillator phase "
                                      "noise.", unit="rad", ge=0.0)
    reference: str = option("nominal", 'What each integrator correlates with: "nominal" the '
                            'code the generator meant, "measured" a measured copy of the '
                            "applied perturbation (a design choice: it costs a sense "
                            "circuit per line).", choices=("nominal", "measured"))
