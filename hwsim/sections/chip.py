"""The ``[chip]`` config section: device profile, pulse writing and the crossbar periphery.

Registered in :class:`hwsim.config.RunConfig`; its nested signal-path sections are
:mod:`hwsim.sections.signal`. :func:`device_set_entries` is the canonical form of
``chip.device_set`` (also used by :mod:`hwsim.config` for ``--set device.KEY=VALUE``).
"""

import dataclasses
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import tomli_w

from hwsim._schema import Schema, fmt, option
from hwsim.sections.limits import MAX_STEPS
from hwsim.sections.signal import CostLineConfig, IntegratorConfig, SourceConfig
from hwsim.sections.transfer import TransferConfig

__all__ = ["ChipConfig", "device_set_entries"]


@dataclass(frozen=True)
class ChipConfig(Schema, section="chip"):
    """The emulated hardware: which synapse device stores the weights, how updates become
    write pulses, and the periphery of each crossbar layer (DACs on inputs, ADCs on outputs,
    neuron variation). Converters quantise signals, never weights; a bound of 0 switches a
    converter off. See docs/devices.md."""

    device: str = option("ideal", "Device profile: a shipped name (`hwsim devices list`) or a "
                         "path to a profile TOML file (ending in .toml or holding a `/`). "
                         "A relative path is read from the config file's folder (from the "
                         "working folder for `--set`) and stored as an absolute path, so a "
                         "run folder's config.toml names the same file from anywhere.")
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
    symmetry_reference: bool = option(
        False, "Measure each device's symmetry point once by alternating up/down pulses "
        "(counted in reference_pulses) and subtract it through a reference device per weight, "
        "so a zero-mean pulse train holds the weight at 0 instead of walking it to the "
        "symmetry point (Kim et al. 2019, zero-shifting; issue 12). Two-sided pulsed devices "
        "only; every inference then reads two devices per weight.")
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
    dac_bits: int = option(0, "DAC resolution as a bit count: 2^b levels over ±inp_bound, the "
                           "same as inp_res = 1/(2^b − 1); 0 = use inp_res. Give dac_bits or "
                           "inp_res, not both.", unit="bits", ge=0, le=52)
    adc_bits: int = option(0, "ADC resolution as a bit count: 2^b levels over ±out_bound, the "
                           "same as out_res = 1/(2^b − 1); 0 = use out_res. Give adc_bits or "
                           "out_res, not both.", unit="bits", ge=0, le=52)
    converter_range: str = option(
        "given", '"given": the converter ranges are inp_bound and out_bound as set; '
        '"calibrate": a converter with a resolution (bits or res) and a bound of 0 gets its '
        "range from one unperturbed pass at the initial weights over the first "
        "calibration_samples training samples: 1.1 × the largest abs(layer input) for the DAC, "
        "1.1 × the largest abs(pre-activation) for the ADC; the values are written into the "
        "run folder's config.toml (docs/chip.md).", choices=("given", "calibrate"))
    calibration_samples: int = option(256, "Training samples of the calibration pass "
                                      '(converter_range = "calibrate").', unit="samples", ge=1,
                                      le=2**31)
    neuron_gain_dtod: float = option(0.0, "Relative spread of each neuron's fixed activation gain "
                                     "g = 1 + neuron_gain_dtod·ξ (drawn once).", ge=0.0)
    neuron_offset_dtod: float = option(0.0, "Spread of each neuron's fixed pre-activation offset "
                                       "o = neuron_offset_dtod·ξ (drawn once).", ge=0.0)
    read_noise_model: str = option(
        "auto", 'How a profile\'s additive Gaussian read noise is drawn: "per_weight" a normal '
        'per weight per read (as hwsim 0.1.0); "per_neuron" one normal per neuron and pass on '
        "the pre-activation, σ·‖(x, 1)‖·ζ, exactly the same distribution for far fewer draws "
        "(correlated between the two passes when the noise is frozen per step); \"auto\" "
        "per_neuron when the read noise is additive, mgd.target is weights and there is no "
        "periphery (and, with mgd.batch > 1, the noise is not frozen per step), else "
        "per_weight. PCM read noise is always per weight.",
        choices=("auto", "per_neuron", "per_weight"))
    device_set: tuple[str, ...] = option(
        (), "Overrides of the device profile's `[device]` keys, one `\"key = value\"` TOML "
        "line each, applied to the profile named by `device` and validated like the profile "
        "itself (the run's device.toml holds the result). Written by `--set device.KEY=VALUE` "
        "and by sweep axes over `device.KEY`.")

    # The signal path (hwsim/sections/signal.py, docs/chip.md): nested sections, off by default.
    cost_line: CostLineConfig = field(default_factory=CostLineConfig)
    integrator: IntegratorConfig = field(default_factory=IntegratorConfig)
    perturbation: SourceConfig = field(default_factory=SourceConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)  # sections/transfer.py

    def _resolve(self, fail: Callable[..., NoReturn]) -> "ChipConfig":
        for entry in self.device_set:
            try:
                doc = tomllib.loads(entry)
            except tomllib.TOMLDecodeError:
                doc = None
            if not isinstance(doc, dict) or len(doc) != 1 or isinstance(
                    next(iter(doc.values())), dict):
                fail("device_set", f"entry {fmt(entry)} must be one 'key = value' TOML line "
                     "(as --set device.KEY=VALUE writes it)")
        canonical = device_set_entries(self.device_set)
        if len(canonical) != len(self.device_set):
            fail("device_set", "names a device key twice")
        if canonical != self.device_set:
            # One spelling per set of overrides: sorted by key, values as tomli_w writes them.
            return dataclasses.replace(self, device_set=canonical)
        if self.dac_bits and self.inp_res:
            fail("dac_bits", "must be 0 when chip.inp_res > 0 (give the DAC resolution once, "
                 "as bits or as a fraction)", "inp_res")
        if self.adc_bits and self.out_res:
            fail("adc_bits", "must be 0 when chip.out_res > 0 (give the ADC resolution once, "
                 "as bits or as a fraction)", "out_res")
        if self.dac_bits == 1 or self.adc_bits == 1:
            fail("dac_bits" if self.dac_bits == 1 else "adc_bits",
                 "must be 0 (off) or at least 2")
        calibrate = self.converter_range == "calibrate"
        for bits, bound in (("dac_bits", "inp_bound"), ("adc_bits", "out_bound")):
            if getattr(self, bits) and getattr(self, bound) == 0 and not calibrate:
                fail(bits, f"needs chip.{bound} > 0 or chip.converter_range = \"calibrate\" "
                     "(the converter's range)", bound)
        # A range still to be calibrated counts as given (it is measured at start).
        dac = self.inp_bound > 0 or (calibrate and bool(self.dac_bits or self.inp_res))
        adc = self.out_bound > 0 or (calibrate and bool(self.adc_bits or self.out_res))
        if self.inp_noise > 0 and not dac:
            fail("inp_noise", "needs chip.inp_bound > 0 (noise is relative to the DAC range)",
                 "inp_bound")
        if self.inp_res > 0 and not dac:
            fail("inp_res", "needs chip.inp_bound > 0 (the resolution is a fraction of the DAC "
                 "range)", "inp_bound")
        if self.out_res > 0 and not adc:
            fail("out_res", "needs chip.out_bound > 0 (the resolution is a fraction of the ADC "
                 "range)", "out_bound")
        if self.out_noise > 0 and not adc:
            fail("out_noise", "needs chip.out_bound > 0 (noise is relative to the ADC range)",
                 "out_bound")
        return self

    def converters(self) -> "ChipConfig":
        """This section with ``dac_bits``/``adc_bits`` turned into ``inp_res``/``out_res``
        (1/(2^b − 1): 2^b levels over the range), what the periphery stage takes."""
        rep: dict[str, Any] = {}
        if self.dac_bits:
            rep.update(inp_res=1.0 / (2.0 ** self.dac_bits - 1.0), dac_bits=0)
        if self.adc_bits:
            rep.update(out_res=1.0 / (2.0 ** self.adc_bits - 1.0), adc_bits=0)
        return dataclasses.replace(self, **rep) if rep else self

    def needs_calibration(self) -> tuple[bool, bool]:
        """(DAC, ADC): whether each converter's range is still to be calibrated."""
        if self.converter_range != "calibrate":
            return False, False
        return (bool(self.dac_bits or self.inp_res) and self.inp_bound == 0,
                bool(self.adc_bits or self.out_res) and self.out_bound == 0)

    def has_periphery(self) -> bool:
        """True when any converter or neuron variation is switched on."""
        return any((self.inp_bound, self.out_bound, self.neuron_gain_dtod,
                    self.neuron_offset_dtod))



def device_set_entries(entries: Iterable[str]) -> tuple[str, ...]:
    """Canonical form of ``chip.device_set`` lines: one per key (the last wins), sorted.

    Parameters
    ----------
    entries : iterable of str
        ``"key = value"`` TOML lines, each already checked to parse.

    Returns
    -------
    tuple of str
        Each line re-written by tomli_w (``"dw_min = 0.01"``), sorted by key.
    """
    by_key: dict[str, Any] = {}
    for entry in entries:
        by_key.update(tomllib.loads(entry))
    return tuple(tomli_w.dumps({k: by_key[k]}).strip() for k in sorted(by_key))
