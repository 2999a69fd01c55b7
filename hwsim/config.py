"""Run configuration: one validated TOML file, described by one schema.

The schema is the frozen dataclasses below. Every setting is one :func:`option` declaration
carrying its default, doc, unit and allowed values; validation, error messages and
``docs/config.md`` are all derived from that metadata, so the docs cannot drift. To add a
setting, add one ``option(...)`` line; to add a section, write a dataclass (its docstring is
its documentation) and add one ``field(default_factory=...)`` line to :class:`RunConfig`.
Cross-field rules live in a section's ``_resolve`` method. Regenerate the docs with
``python -m hwsim.config > docs/config.md`` (a test fails until you do).

Every section validates when it is built (the engine is :mod:`hwsim._schema`), so
``MgdConfig(eta=-5)`` and ``dataclasses.replace(cfg.sim, steps=-1)`` raise a
:class:`~hwsim.exceptions.ConfigError` naming the dotted key. :func:`load_config`,
:meth:`RunConfig.from_dict` and :meth:`RunConfig.with_overrides` add where each value came
from (the file, or the ``--set`` argument) at the start of the message.
"""

import dataclasses
import math
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
    looks_like_path, option, read_toml, to_plain, unknown_key_error,
)
from hwsim.diagnostics_config import DiagnosticsConfig
from hwsim.exceptions import ConfigError
from hwsim.hwconfig import HardwareConfig
from hwsim.signal_config import CostLineConfig, IntegratorConfig, SourceConfig
from hwsim.transfer_config import TransferConfig

__all__ = [
    "RunConfig", "TaskConfig", "NetworkConfig", "MgdConfig", "LearnConfig", "ChipConfig",
    "CostLineConfig", "IntegratorConfig", "SourceConfig",
    "SimConfig", "HardwareConfig", "DiagnosticsConfig",
    "load_config", "dump_config", "config_markdown", "iter_fields", "option", "read_toml",
    "build_validated", "fmt", "parse_override", "set_dotted", "MAX_STEPS", "DEVICE_PREFIX",
    "check_device_set", "device_set_entries",
]


MAX_STEPS = 2**62  # step counters are int64 in the kernels; products must not overflow


# ---------------------------------------------------------------------------- schema

#: Tasks read from dataset files (hwsim.tasks.files), and the built-in ones.
FILE_TASKS = ("mnist", "fashion_mnist", "cifar10", "files")
BUILTIN_TASKS = ("xor", "parity", "digits")
#: The [task] keys holding paths (relative ones are read from task.root).
TASK_PATH_KEYS = ("path", "train", "test")


@dataclass(frozen=True)
class TaskConfig(Schema, section="task"):
    """What the network learns: a built-in task, or dataset files (nothing is downloaded;
    the README says where to get MNIST, Fashion-MNIST and CIFAR-10). Images are flattened
    into rows of `network.sizes[0]` inputs (28·28 = 784 for MNIST, 3·32·32 = 3072 for
    CIFAR-10, channel-first). Rules: `path` only with `name` = `"mnist"`,
    `"fashion_mnist"` or `"cifar10"` (and needed there when the data are loaded); `train`
    (needed then) and `test` only with `name = "files"`; `n_train`, `n_test` not with xor
    or parity."""

    name: str = option("digits", 'Task to learn: a built-in task ("xor", "parity", "digits"), '
                       'the standard files of "mnist", "fashion_mnist" (IDX) or "cifar10" '
                       '(binary batches) in folder `path`, or "files": the files `train` and '
                       "`test`.", choices=BUILTIN_TASKS + FILE_TASKS)
    bits: int = option(4, "Input bits of the parity task (parity only).", unit="bits", ge=1, le=20)
    test_fraction: float = option(
        0.25, "Share of samples held out for testing, stratified by class (digits, and "
        '"files" without `test`; the split of digits, so a digits .npz gives the built-in '
        "split).", gt=0.0, lt=1.0)
    path: str = option("", 'Folder holding the standard files: for "mnist" and '
                       '"fashion_mnist" train-images-idx3-ubyte, train-labels-idx1-ubyte, '
                       "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; for \"cifar10\" "
                       "data_batch_1.bin … data_batch_5.bin, test_batch.bin (or its "
                       "cifar-10-batches-bin subfolder); each may be gzipped (.gz).")
    train: tuple[str, ...] = option(
        (), 'Training files of name = "files", concatenated; the format from the name '
        "(each may end in .gz): .npz with arrays X (N, …) and y (N,); .csv with a header "
        "row and the `label` column; .bin CIFAR-10 batches; IDX pairs, an images file "
        "(name holding idx3) then its labels file (idx1).")
    test: tuple[str, ...] = option(
        (), 'Test files of name = "files", like `train`; empty: a stratified '
        "`test_fraction` of `train` is held out.")
    root: str = option("", "Folder that relative `path`, `train` and `test` are read from. "
                       "Set by the loader to the config file's folder (relative paths from "
                       "`--set` are made absolute against the working folder instead); "
                       "empty = the working folder when the config is built. A run folder's "
                       "config.toml keeps the paths as given plus this folder, so a resume "
                       "finds the same files.")
    label: str = option("label", "Header name of the label column of .csv files.")
    normalize: str = option(
        "unit", 'Input scaling of data files, from training-set statistics: "none" as '
        'stored; "unit" (x − min)/(max − min) over all training inputs (0..255 pixels '
        '→ x/255); "standard" per input (x − mean)/std. Built-in tasks come scaled.',
        choices=("none", "unit", "standard"))
    n_train: int = option(0, "Train on a stratified random subset of this many training "
                          "samples (from the seed); 0 = all.", unit="samples", ge=0)
    n_test: int = option(0, "Evaluate on a stratified random subset of this many test "
                         "samples (from the seed); 0 = all.", unit="samples", ge=0)

    def _resolve(self, fail: Callable[..., NoReturn]) -> "TaskConfig":
        # An empty task.path (mnist, ...) or task.train (files) is reported when the data
        # are loaded, so that task.name can be switched by one override.
        standard = self.name in FILE_TASKS and self.name != "files"
        if self.path and not standard:
            fail("path", 'is only used with task.name = "mnist", "fashion_mnist" or '
                 '"cifar10"; for your own files use task.name = "files" with task.train',
                 "name")
        for key in ("train", "test"):
            if getattr(self, key) and self.name != "files":
                fail(key, 'is only used with task.name = "files"', "name")
        if self.name in ("xor", "parity"):
            for key in ("n_train", "n_test"):
                if getattr(self, key):
                    fail(key, f"must be 0 for task.name = {fmt(self.name)} (a truth table "
                         "has no subsets)", "name")
        if self.root and not Path(self.root).is_absolute():
            return dataclasses.replace(self, root=os.path.abspath(self.root))
        paths = [self.path, *self.train, *self.test]
        if not self.root and any(p and not Path(p).is_absolute() for p in paths):
            # Fix the folder now, so the recorded config names the same files from anywhere.
            return dataclasses.replace(self, root=os.getcwd())
        return self


@dataclass(frozen=True)
class NetworkConfig(Schema, section="network"):
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
            fail("init_high", f"must be > network.init_low = {fmt(self.init_low)}", "init_low")
        if self.cost == "cross_entropy":
            if self.output_activation not in ("auto", "softmax"):
                fail("output_activation",
                     'must be "auto" or "softmax" when network.cost = "cross_entropy"', "cost")
            if self.sizes[-1] < 2:
                fail("sizes", 'must end in at least 2 outputs when network.cost = "cross_entropy"',
                     "cost")
        return self


@dataclass(frozen=True)
class MgdConfig(Schema, section="mgd"):
    """Multiplexed gradient descent: how parameters are perturbed and updated. Rule:
    `mode = "analog"` needs `tau_x > 1`: the cost high-pass filter restarts on every new
    input, so with one step per input the filtered cost change C~ is always 0 and nothing
    is learned."""

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
    target: str = option(
        "weights", "What the code perturbs: every weight and bias (weight perturbation, P "
        "quantities), or every neuron's pre-activation (node perturbation, M = Σ n_{l+1} "
        "nodes, with M in place of P in the code's amplitude and period); with nodes each "
        "synapse integrates its node's correlation times its own presynaptic activity "
        "(Williams 1992; Flower & Jabri 1993; Oripov et al. 2025). For ± codes E[G per step] "
        "is ∇C/P with weights and ∇C/M with nodes, so the same η moves further with nodes. "
        "Through the periphery the node code is added to each neuron's analog "
        "pre-activation before its ADC, and each synapse multiplies by its DAC's output.",
        choices=("weights", "nodes"))
    batch: int = option(
        1, "B, minibatch costs: every τx steps the next B samples of the data order are "
        "presented together, and each step's cost C(θ + θ̃) and the baseline C₀ are means "
        "over that batch (as the MGD authors' GPU code, with batch 1000), so E[G per step] "
        "is the batch-mean ∇C/P; B inferences per pass. 1 = one sample, as before. B > 1 "
        "needs mgd.target = \"weights\", no periphery and no device read noise.",
        unit="samples", ge=1, le=1_000_000)
    estimate: str = option(
        "one_sided", 'How C̃ is formed: "one_sided" C̃ = C(θ + θ̃) − C₀, the baseline C₀ '
        'remeasured only when stale; "two_sided" C̃ = (C(θ + θ̃) − C(θ − θ̃))/2, the central '
        "difference of SPSA-style hardware demonstrations (Spall 1992): one more inference "
        "per step, no baseline, no O(Δ) bias. Two-sided needs discrete mode.",
        choices=("one_sided", "two_sided"))

    def _resolve(self, fail: Callable[..., NoReturn]) -> "MgdConfig":
        if self.batch > 1 and self.target != "weights":
            fail("batch", 'must be 1 with mgd.target = "nodes" (each synapse integrates its '
                 "own presynaptic activity, which a batch mean does not have)", "target")
        if self.estimate == "two_sided" and self.mode != "discrete":
            fail("estimate", 'must be "one_sided" in analog mode (mgd.mode = "analog"): the '
                 "analog cost line high-passes one continuous cost signal", "mode")
        if self.mode == "analog" and self.tau_x < 2:
            # Checked here, not only in Chip, so the message names the file or --set
            # argument and comes before the dataset is loaded.
            fail("tau_x", 'must be > 1 in analog mode (mgd.mode = "analog"): the cost '
                 "high-pass restarts on every new input, so with one step per input the "
                 "filtered cost change C~ is always 0 and nothing is learned", "mode")
        return self


@dataclass(frozen=True)
class LearnConfig(Schema, section="learn"):
    """The local update rule applied to the MGD estimate G every update (hwsim/kernels/
    optimizer.py). Each rule keeps at most two numbers per synapse, so a chip can implement
    it next to the integrator; the state is checkpointed."""

    optimizer: str = option(
        "plain", 'The rule: "plain" Δθ = −η·G (McCaughan, Oripov et al. 2023); "momentum" '
        "heavy ball v ← β·v + G, Δθ = −η·v (Polyak 1964); \"nesterov\" v ← β·v + G, "
        "Δθ = −η·(G + β·v) (Sutskever et al. 2013); \"adam\" (Kingma & Ba 2015), the "
        "digital reference, with bias-corrected moments; \"sign\" Δθ = −sign_step·dw_min·"
        "sign(G) (signSGD, Bernstein et al. 2018: the one-pulse baseline; needs a pulsed "
        "device).",
        choices=("plain", "momentum", "nesterov", "adam", "sign"))
    momentum: float = option(0.9, "β of momentum and Nesterov, and Adam's β₁.", ge=0.0, lt=1.0)
    beta2: float = option(0.999, "Adam's β₂ (second-moment decay).", ge=0.0, lt=1.0)
    eps: float = option(1e-8, "Adam's ε.", unit="weight units", gt=0.0)
    clip: float = option(0.0, "Clip of each synapse's update request to [−clip, clip] "
                         "(a local limiter); 0 = off.", unit="weight units", ge=0.0)
    algorithm: str = option(
        "mgd", 'What trains the network: "mgd" the emulated chip (the [mgd] section); '
        '"backprop" the digital baseline: minibatch SGD on the exact gradient '
        "(backpropagation) of the same network, task, split and initialisation, with the "
        "rule above applied to the minibatch gradient (hwsim/learn/backprop.py). Backprop "
        "trains ideal float64 weights: it refuses a non-ideal chip.device, the periphery and "
        "sim.dtype = \"float32\"; it ignores [mgd] and sim.steps, sim.dt, sim.eval_every; "
        "its hardware time is not defined.", choices=("mgd", "backprop"))
    batch_size: int = option(32, "Backprop only: samples per minibatch (the last one of an "
                             "epoch may be smaller).", unit="samples", ge=1, le=MAX_STEPS)
    epochs: int = option(30, "Backprop only: passes over the training set, each in the "
                         "seeded order of MGD's data-order stream; one evaluation per epoch.",
                         unit="epochs", ge=1, le=10**6)
    lr: float = option(0.5, "Backprop only: learning rate η of the update Δθ = −η·(rule "
                       "applied to the minibatch mean gradient).", ge=0.0)
    sign_step: float = option(1.0, "Step of sign updates (optimizer = \"sign\").",
                              unit="dw_min", gt=0.0)
    write_threshold: float = option(
        0.0, "Threshold writes k (issue 12): each synapse adds its request to a residue and "
        "writes only when the residue reaches k·dw_min; what was written is subtracted and "
        "the rest kept (checkpointed). 0 = off (every request is written); needs a pulsed "
        "device.", unit="dw_min", ge=0.0)
    write_residue: str = option(
        "nominal", "What threshold writes subtract from the residue: \"nominal\" = pulses "
        "sent × dw_min; \"read_back\" = the change read back from the device (two reads per "
        "write, counted in readback_reads).", choices=("nominal", "read_back"))


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
        "periphery, else per_weight. PCM read noise is always per weight.",
        choices=("auto", "per_neuron", "per_weight"))
    device_set: tuple[str, ...] = option(
        (), "Overrides of the device profile's `[device]` keys, one `\"key = value\"` TOML "
        "line each, applied to the profile named by `device` and validated like the profile "
        "itself (the run's device.toml holds the result). Written by `--set device.KEY=VALUE` "
        "and by sweep axes over `device.KEY`.")

    # The signal path (hwsim/signal_config.py, docs/chip.md): nested sections, off by default.
    cost_line: CostLineConfig = field(default_factory=CostLineConfig)
    integrator: IntegratorConfig = field(default_factory=IntegratorConfig)
    perturbation: SourceConfig = field(default_factory=SourceConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)  # hwsim/transfer_config.py

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


@dataclass(frozen=True)
class SimConfig(Schema, section="sim"):
    """Simulation clock and stopping. Rule: when `time_limit_s > 0`, `steps` must be 0 or left
    at its default (an explicit default value counts as left), and is stored as 0; the run
    then lasts round(x) steps for x = time_limit_s / dt when x is within 1e-6 of a step
    (absolute) of an integer, else floor(x) steps."""

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
    plot_time_axis: str = option(
        "auto", "Time axis of learning_curve.png: \"log\", \"linear\", or \"auto\" (log when "
        "the first 5 % of the run holds 80 % of the drop in train cost). Output only: a resume "
        "may change it.", choices=("auto", "linear", "log"))

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
                fail("steps", "must be 0 or omitted when sim.time_limit_s > 0 (one budget "
                     "rules: add --set sim.steps=0 to run by time)", "time_limit_s")
            # Store 0 so to_dict() shows which budget rules and round-trips unambiguously.
            return dataclasses.replace(self, steps=0)
        return self


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
        raw["chip"] = {**chip, "device": _resolve_device(chip["device"], base, from_file,
                                                         source_of("chip.device"))}
    task = raw.get("task")
    if isinstance(task, Mapping):
        raw["task"] = _resolve_task_paths(task, key_sources, Path(source).resolve().parent)
    cfg = build_validated(RunConfig, raw, source, source_of=source_of)
    return check_device_set(cfg, _device_source(key_sources, source))


def _device_source(key_sources: Mapping[str, str], default: str) -> str:
    """Origin of the device overrides: the first ``--set device.KEY`` given, else ``default``."""
    return next((v for k, v in key_sources.items() if k.startswith(DEVICE_PREFIX)), default)


def _resolve_task_paths(task: Mapping, key_sources: Mapping[str, str], base: Path) -> dict:
    """Dataset paths of [task]: kept as written in the file, with ``root`` = the file's
    folder; relative paths (and root) from ``--set`` made absolute against the working
    folder. Values of the wrong type are left for validation to reject."""
    out = dict(task)

    def absolute(v, folder):
        if isinstance(v, str) and v and not Path(v).is_absolute():
            return os.path.normpath(folder / v)
        if isinstance(v, list):
            return [absolute(x, folder) for x in v]
        return v

    for key in (*TASK_PATH_KEYS, "root"):
        if f"task.{key}" in key_sources and key in out:
            out[key] = absolute(out[key], Path.cwd())
    if "task.root" not in key_sources:
        if isinstance(out.get("root"), str) and out["root"]:
            out["root"] = absolute(out["root"], base)
        elif not out.get("root"):
            in_file = [out.get(k) for k in TASK_PATH_KEYS if f"task.{k}" not in key_sources]
            flat = [x for v in in_file for x in (v if isinstance(v, list) else [v])]
            if any(isinstance(x, str) and x and not Path(x).is_absolute() for x in flat):
                out["root"] = str(base)
    return out


def _resolve_device(device: str, base: Path, from_file: bool, source: str) -> str:
    """An absolute profile path for a relative path-like ``chip.device``; names unchanged."""
    if not device or not looks_like_path(device) or Path(device).is_absolute():
        return device
    resolved = os.path.normpath(base / device)
    if not os.path.isfile(resolved):
        where = "the config file's folder" if from_file else "the working folder"
        raise ConfigError(f"{source}: chip.device = {fmt(device)}: device profile not found "
                          f"in {base} ({where}; relative profile paths are read from it)")
    return resolved


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

#: Prefix of a dotted key naming a ``[device]`` key of the resolved profile (``device.dw_min``).
DEVICE_PREFIX = "device."


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


def _set_device_key(d: dict, key: str, value: Any, source: str) -> None:
    if not key or "." in key:
        raise ConfigError(f"{source}: {DEVICE_PREFIX}{key}: name one key of the device "
                          "profile's [device] table, e.g. device.dw_min")
    try:
        line = tomli_w.dumps({key: value}).strip()
    except TypeError:
        raise ConfigError(f"{source}: {DEVICE_PREFIX}{key} = {fmt(value)}: not a TOML "
                          "value") from None
    chip = d.get("chip")
    if not isinstance(chip, dict):
        chip = d["chip"] = {}
    old = chip.get("device_set", [])
    kept = [e for e in old if isinstance(e, str) and _entry_key(e) != key] \
        if isinstance(old, (list, tuple)) else []
    chip["device_set"] = kept + [line]


def _entry_key(entry: str) -> str | None:
    try:
        doc = tomllib.loads(entry)
    except tomllib.TOMLDecodeError:
        return None
    return next(iter(doc), None) if len(doc) == 1 else None


def check_device_set(cfg: RunConfig, source: str) -> RunConfig:
    """Validate ``cfg.chip.device_set`` against the profile ``cfg.chip.device`` names.

    Parameters
    ----------
    cfg : RunConfig
    source : str
        Label that starts error messages (the ``--set`` argument or the file).

    Returns
    -------
    RunConfig
        ``cfg`` itself.

    Raises
    ------
    ConfigError
        An unknown device key (naming the nearest valid key of the profile's model), a key of
        another model, or a value the model's schema rejects; as :func:`load_profile`.
    """
    if cfg.chip.device_set:
        from hwsim.chip.profiles import load_profile  # lazy: needs the device models

        label = f"{source} (device profile {cfg.chip.device})"
        load_profile(cfg.chip.device, cfg.chip.device_set, label)
    return cfg


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
        _set_device_key(d, dotted[len(DEVICE_PREFIX):], value, source)
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
