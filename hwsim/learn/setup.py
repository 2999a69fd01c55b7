"""Setting up one MGD run: the chip from a config, the checks before it starts, and the hash
that says whether a run folder may be resumed.

:func:`build_chip` is the one place a run config becomes a :class:`hwsim.chip.chip.Chip`
(the trainer, ``hwsim devices diagnose`` and the studies use it); :func:`defining_hash`
is what a checkpoint is checked against on resume.
"""

import dataclasses
import hashlib
import math
import os

import numpy as np
import tomli_w

from hwsim.chip.chip import Chip
from hwsim.chip.devices import DeviceArray
from hwsim.chip.layers import build_network, check_layer_run, io_widths
from hwsim.chip.network import n_params
from hwsim.chip.profiles import load_profile, profile_to_toml
from hwsim.exceptions import ConfigError
from hwsim.learn.converters import calibrate_config
from hwsim.tasks import load_dataset

__all__ = ["RESUMABLE_KEYS", "KEYS_SINCE_0_2", "defining_hash", "check_memory",
           "startup_warnings", "build_chip"]


# Keys a resumed run may change: only how far it goes and when it stops.
RESUMABLE_KEYS = {"sim.steps", "sim.time_limit_s", "sim.target_accuracy", "sim.stop_at_target",
                  "sim.plot_time_axis"}


#: Keys added after hwsim 0.2.0 (checkpoint schema 2): hashed only when set away from their
#: defaults, so a checkpoint written before they existed still resumes.
KEYS_SINCE_0_2 = ("task.path", "task.train", "task.test", "task.root", "task.label",
                  "task.normalize", "task.n_train", "task.n_test", "mgd.batch",
                  "chip.device_set", "chip.dac_bits", "chip.adc_bits", "chip.converter_range",
                  "chip.calibration_samples", "chip.cost_line", "chip.integrator",
                  "chip.perturbation", "chip.symmetry_reference", "learn.sign_step",
                  "learn.write_threshold", "learn.write_residue", "network.layers",
                  "network.input_shape", "chip.transfer")


def defining_hash(cfg, profile) -> str:
    """SHA-256 of the config without the keys a resume may change (see RESUMABLE_KEYS) and of
    the resolved device profile."""
    d = cfg.to_dict()
    d.pop("hardware", None)  # accounting only (hwsim.energy): never changes the trajectory
    # Off, [diagnostics] and the backprop-only [learn] keys hash as before they existed, so
    # older checkpoints resume (hwsim/learn/diagnostics.py, hwsim/learn/backprop.py).
    if not d["diagnostics"]["enabled"]:
        d.pop("diagnostics")
    for name in ("algorithm", "batch_size", "epochs", "lr"):
        d["learn"].pop(name)
    for key in RESUMABLE_KEYS:
        sec, name = key.split(".")
        d[sec].pop(name, None)
    default = type(cfg)().to_dict()
    for key in KEYS_SINCE_0_2:  # at their defaults, hashed as before they existed
        sec, name = key.split(".")
        if d[sec].get(name) == default[sec][name]:
            d[sec].pop(name, None)
    pert = d["chip"].get("perturbation")
    if isinstance(pert, dict) and pert.get("kind") == "code":
        pert.pop("kind")  # the default source, hashed as before chip.perturbation.kind existed
    text = tomli_w.dumps(d) + profile_to_toml(profile, resolved=True)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def check_memory(cfg, profile, n_train, n_test, net=None):
    """Refuse a run whose arrays cannot fit in this machine's memory, before allocating any.

    Counts every array the run allocates: the chip's state, the device arrays (none for
    ideal synapses), the training and test data as float64, the activation buffers, and one
    copy of the state for writing a checkpoint.

    Raises
    ------
    ConfigError
        Naming ``network.sizes``, the estimate and the machine's memory.
    """
    sizes = list(cfg.network.sizes) if net is None else [int(v) for v in net.sizes]
    P = n_params(sizes) if net is None else net.n_params
    dtype = np.dtype(cfg.sim.dtype)
    state = Chip.estimate_bytes(P, n_train, dtype)
    dev = 0 if profile.model == "Ideal" else DeviceArray.estimate_bytes(profile.params, P, dtype)
    if cfg.chip.transfer.enabled:  # Tiki-Taka: a second array C and the tt_* state
        dev, state = 2 * dev, state + 5 * 8 * P
    data = 8 * (n_train + n_test) * (sizes[0] + sizes[-1]) + 8 * 4 * sum(sizes)
    data += 8 * getattr(net, "work_size", 0)  # a layer network's scratch (im2col, chunks)
    need = state + dev + data + state + dev // 2  # + one checkpoint's copy of the state
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return
    if need > 0.8 * have:
        what = (f"network.layers (layer widths {sizes})" if getattr(net, "work_size", 0) else
                f"network.sizes = {sizes}")
        raise ConfigError(
            f"{what}: needs about {need / 2**30:.1f} GiB for {P:,} parameters "
            f"(chip state {state / 2**30:.1f} GiB, device arrays of '{profile.name}' "
            f"{dev / 2**30:.1f} GiB, data {data / 2**30:.1f} GiB); this machine has "
            f"{have / 2**30:.1f} GiB")


def startup_warnings(chip, cfg, profile) -> list:
    """Settings that drown the gradient signal, found before the run starts (issue 8, fault 11).

    A per-weight perturbation A (Δ/√P for CDMA and Walsh) below the device's additive read
    noise makes every C̃ mostly read noise; a perturbation written into the devices below one
    pulse (dw_min) rounds to nothing. Each message names the keys and the ratio.

    Returns
    -------
    list of str
    """
    if not chip.has_devices or chip.target != "weights":
        return []
    p, A, out = profile.params, float(chip.source.code_amp), []
    if chip.source_kind == "write_noise":  # the perturbation's rms is that of the pulse pair
        A = math.sqrt(chip.write_noise_variance)
    name = f"'{profile.name}'"
    given = (f"mgd.amplitude = {cfg.mgd.amplitude:g} gives" if chip.source_kind == "code" else
             "chip.perturbation.kind = 'write_noise' (√v of the pulse pair) gives")
    if p.read_noise == "additive" and p.read_noise_std > 0 and A < p.read_noise_std:
        out.append(f"{given} each weight a perturbation "
                   f"A = {A:.3g}, below the read noise device.read_noise_std = "
                   f"{p.read_noise_std:g} of {name} (A/σ = {A / p.read_noise_std:.2g}): the "
                   "cost change will be mostly read noise; raise mgd.amplitude, or set "
                   "device.read_noise_frozen_per_step")
    if p.perturbation_by_write and A < p.dw_min:
        out.append(f"mgd.amplitude = {cfg.mgd.amplitude:g} gives each weight a perturbation "
                   f"A = {A:.3g}, below one write pulse device.dw_min = {p.dw_min:g} of {name} "
                   f"(A/dw_min = {A / p.dw_min:.2g}): a written perturbation rounds to few or "
                   f"no pulses ({_zero_pulse_note(A, p.dw_min, chip.pulse_settings())}); "
                   "raise mgd.amplitude")
    return out


def _zero_pulse_note(A, dw_min, pulses) -> str:
    """The expected share of code writes of size A that round to zero pulses, with the
    pulse rounding in effect (nearest: all below dw_min/2; stochastic: 1 − A/dw_min)."""
    if pulses.get("pulse_rounding") == "nearest":
        z = 1.0 if A < 0.5 * dw_min else 0.0
        why = "A < dw_min/2" if z else "A ≥ dw_min/2"
        return (f"nearest rounding, {why}: expected perturbation_zero_fraction {z:g} for "
                "code writes of size A")
    return (f"stochastic rounding: expected perturbation_zero_fraction 1 − A/dw_min = "
            f"{1.0 - A / dw_min:.2g} for code writes of size A")


def build_chip(cfg, dataset=None, profile=None):
    """Build ``(chip, network, dataset)`` for a run config.

    Parameters
    ----------
    cfg : hwsim.config.RunConfig
    dataset : hwsim.tasks.Dataset, optional
        Reuse an already loaded dataset.
    profile : hwsim.chip.profiles.Profile, optional
        The device profile (default: ``load_profile(cfg.chip.device, cfg.chip.device_set)``).

    Raises
    ------
    ConfigError
        Unknown profile, a network that does not fit the task or the machine's memory, a
        missing or malformed dataset file.
    """
    check_layer_run(cfg)
    ds = dataset or load_dataset(cfg.task, seed=cfg.seed,
                                 sizes=io_widths(cfg.network, cfg.task.name))
    cfg = calibrate_config(cfg, ds)  # converter ranges measured at start (converter_range)
    n = cfg.network
    profile = profile or load_profile(cfg.chip.device, cfg.chip.device_set)
    # network.sizes, or the [[network.layers]] (a dense-only list is the same MLP).
    net = build_network(n, ds.sample_shape or (ds.n_in,), periphery=cfg.chip.converters(),
                        seed=cfg.seed, weight_scale=cfg.chip.weight_scale, dtype=cfg.sim.dtype)
    check_memory(cfg, profile, len(ds.X_train), len(ds.X_test), net)
    dtype = np.dtype(cfg.sim.dtype)
    theta0 = net.init_params(cfg.seed, n.init, n.init_low, n.init_high, dtype=dtype)
    # Exact synapses need no per-device arrays (a DeviceArray of the Ideal model is not built).
    device = (None if profile.model == "Ideal" else
              DeviceArray(profile.params, net.n_params, cfg.seed, dtype=dtype))
    m, c = cfg.mgd, cfg.chip
    chip = Chip(net, ds.X_train, ds.Y_train, theta0, seed=cfg.seed, perturbation=m.perturbation,
                mode=m.mode, amplitude=m.amplitude, eta=m.eta, tau_p=m.tau_p, tau_x=m.tau_x,
                tau_theta=m.tau_theta, tau_hp=m.tau_hp, fdma_period=m.fdma_period,
                dt=cfg.sim.dt, target=m.target, estimate=m.estimate,
                optimizer=cfg.learn.optimizer,
                momentum=cfg.learn.momentum, beta2=cfg.learn.beta2, eps=cfg.learn.eps,
                clip=cfg.learn.clip, sign_step=cfg.learn.sign_step,
                write_threshold=cfg.learn.write_threshold,
                write_residue=cfg.learn.write_residue, device=device,
                update_rounding=c.update_rounding, max_pulses=c.max_pulses, dtype=dtype,
                read_noise_model=c.read_noise_model, symmetry_reference=c.symmetry_reference,
                batch=m.batch,
                cost_line=dataclasses.asdict(c.cost_line),
                integrator=dataclasses.asdict(c.integrator),
                source_noise=dataclasses.asdict(c.perturbation),
                transfer=dataclasses.asdict(c.transfer))
    return chip, net, ds
