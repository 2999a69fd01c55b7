"""The MGD trainer: build a chip from a run config, drive it on the timeline, log a run folder.

Follows the scikit-learn estimator contract: ``__init__`` stores its arguments, ``run``
validates, builds and trains, and learned state lands in trailing-underscore attributes.
"""

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import filelock
import numpy as np
import tomli_w

from hwsim import __version__
from hwsim.chip.chip import Chip, kernels_on_disk
from hwsim.chip.devices import DeviceArray
from hwsim.chip.profiles import load_profile, profile_to_toml
from hwsim.chip.network import MLP, n_params
from hwsim.energy import energy_summary
from hwsim.exceptions import ConfigError, DivergenceError, HwsimError, HwsimWarning
from hwsim.kernels import step as _k
from hwsim.learn.diagnostics import diagnostics_for, metrics_columns
from hwsim.learn.converters import adc_warnings, calibrate_config
from hwsim.runs import (
    CHECKPOINT_NAME, CONFIG_NAME, CURVE_NAME, DEVICE_NAME, METRICS_NAME, SUMMARY_NAME, MetricsWriter,
    atomic_write_bytes, curve_summary, load_checkpoint, probe_writable, read_metrics,
    save_checkpoint, target_hit, write_error, write_json,
)
from hwsim.sim import Timeline, periodic
from hwsim.tasks import changed_files, describe_dataset, load_dataset


class StopToken:
    """A request to stop one run at its next safe point (between kernel calls).

    Give the same token to a trainer (``MGDTrainer(..., stop=token)``) and to whatever decides
    to stop it (a signal handler, a GUI button, a sweep driver). Each run has its own token,
    so stopping one run never stops another in the same process.

    A plain attribute rather than a ``threading.Event``: ``Event.set`` takes a lock that the
    interrupted thread may be holding, so calling it from a signal handler can deadlock.
    """

    def __init__(self):
        self.requested = False

    def request(self) -> None:
        """Ask the run to stop; never raises, so it is safe inside a signal handler."""
        self.requested = True


class TimelineProcessError(HwsimError):
    """A timeline process (evaluation, checkpoint, drift) raised; the run ended "failed".

    The message names the process, the step and the original error (kept as ``__cause__``).
    """


# The statuses a run ends with (summary.json "status"); see docs/reliability.md.
STATUSES = ("completed", "target_reached", "unstable", "diverged", "interrupted", "failed")

# A finished run is "unstable" when its end is far worse than its best (train cost above
# UNSTABLE_COST_RATIO x its best and above its initial cost) or its weights left their initial
# scale (max |theta| above UNSTABLE_THETA_RATIO x max(1, initial max |theta|)). The shipped
# examples stay below 1.3x and 10x; eta = 1e300 on xor and eta = 1e4 on digits go far beyond.
UNSTABLE_COST_RATIO = 10.0
UNSTABLE_THETA_RATIO = 1e3


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
                  "learn.write_threshold", "learn.write_residue", "chip.transfer")


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


def check_memory(cfg, profile, n_train, n_test):
    """Refuse a run whose arrays cannot fit in this machine's memory, before allocating any.

    Counts every array the run allocates: the chip's state, the device arrays (none for
    ideal synapses), the training and test data as float64, the activation buffers, and one
    copy of the state for writing a checkpoint.

    Raises
    ------
    ConfigError
        Naming ``network.sizes``, the estimate and the machine's memory.
    """
    sizes = list(cfg.network.sizes)
    P = n_params(sizes)
    dtype = np.dtype(cfg.sim.dtype)
    state = Chip.estimate_bytes(P, n_train, dtype)
    dev = 0 if profile.model == "Ideal" else DeviceArray.estimate_bytes(profile.params, P, dtype)
    data = 8 * (n_train + n_test) * (sizes[0] + sizes[-1]) + 8 * 4 * sum(sizes)
    need = state + dev + data + state + dev // 2  # + one checkpoint's copy of the state
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return
    if need > 0.8 * have:
        raise ConfigError(
            f"network.sizes = {sizes}: needs about {need / 2**30:.1f} GiB for {P:,} parameters "
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
    ds = dataset or load_dataset(cfg.task, seed=cfg.seed, sizes=cfg.network.sizes)
    cfg = calibrate_config(cfg, ds)  # converter ranges measured at start (converter_range)
    n = cfg.network
    profile = profile or load_profile(cfg.chip.device, cfg.chip.device_set)
    check_memory(cfg, profile, len(ds.X_train), len(ds.X_test))
    net = MLP(n.sizes, n.activation, n.output_activation, n.cost, periphery=cfg.chip.converters(),
              seed=cfg.seed, weight_scale=cfg.chip.weight_scale)
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


def _config_text(cfg) -> bytes:
    import numba
    import simpy

    # Versions go in a comment so the file stays a valid config for ``hwsim run``.
    head = (f"# fully resolved by hwsim {__version__} (numpy {np.__version__}, "
            f"numba {numba.__version__}, simpy {simpy.__version__})\n")
    # surrogateescape: a path the OS gave as undecodable bytes (strict C locale) is written
    # back as those bytes, which were UTF-8 (case C3)
    return (head + tomli_w.dumps(cfg.to_dict())).encode("utf-8", "surrogateescape")


class MGDTrainer:
    """Train an emulated chip with MGD as a run config says, writing a run folder.

    Parameters
    ----------
    config : hwsim.config.RunConfig
        Validated run configuration.
    out_dir : path or None
        Run folder (config.toml, metrics.csv, summary.json, checkpoint.npz); None keeps
        everything in memory.
    progress : bool
        Show a tqdm progress bar (steps/s, hardware time, test accuracy) and a notice while
        the kernels compile, on stderr.
    force : bool
        Allow starting a new run in a folder that already holds one (its files are replaced).
    max_chunk : int or None
        Longest single kernel call in steps (None: about 0.1 s of work). Results do not depend
        on it.
    stop : StopToken or None
        Stop request shared with a signal handler; None gives the trainer its own (see
        :meth:`request_stop`).

    Attributes
    ----------
    chip_ : Chip
    network_ : MLP
    dataset_ : hwsim.tasks.Dataset
    metrics_ : list of dict
        One row per evaluation tick (columns of :data:`hwsim.runs.METRICS_COLUMNS`).
    summary_ : dict
        What summary.json holds.
    status_ : {"completed", "target_reached", "unstable", "diverged", "interrupted", "failed"}
        "unstable": the run finished but ended far worse than its best or with runaway
        weights (see ``summary_["warnings"]``).
    warnings_ : list of str
        Why a finished run is "unstable" (also in summary.json ``warnings``).
    """

    def __init__(self, config, *, out_dir=None, progress=False, force=False, stop=None,
                 max_chunk=None):
        self.max_chunk = max_chunk
        self.config = config
        self.out_dir = out_dir
        self.progress = progress
        self.force = force
        self.stop = stop

    # -- stopping ---------------------------------------------------------------------------
    def _stop_token(self):
        if self.stop is not None:
            return self.stop
        if "_own_stop" not in self.__dict__:
            self._own_stop = StopToken()
        return self._own_stop

    def request_stop(self) -> None:
        """Ask this trainer to stop at its next safe point, save a checkpoint and raise
        KeyboardInterrupt. Safe to call from a signal handler or another thread: it never
        raises, so an interrupt cannot land inside the compiler or a half-written file."""
        self._stop_token().request()

    def _check_stop(self):
        token = self._stop_token()
        if token.requested:
            token.requested = False
            raise KeyboardInterrupt

    def _in_process(self, name, func):
        """Wrap a timeline callback so that its failure names the process.

        SimPy re-raises a process's exception from ``env.step`` with nothing saying which
        process it was; errors that already explain themselves (a full disk, an interrupt)
        pass through unchanged.
        """
        def call(step):
            try:
                return func(step)
            except (HwsimError, OSError, KeyboardInterrupt):
                raise
            except Exception as e:
                raise TimelineProcessError(
                    f"the {name} process failed at step {step}: {type(e).__name__}: {e}; "
                    "metrics.csv keeps the rows measured so far (a bug: please report it)"
                ) from e
        return call

    # -- run folder -------------------------------------------------------------------------
    _RUN_FILES = (CONFIG_NAME, METRICS_NAME, SUMMARY_NAME, CHECKPOINT_NAME, DEVICE_NAME, CURVE_NAME)

    def _check_folder(self, resume):
        """Refuse unusable folders before any work; writes nothing."""
        if self.out_dir is None:
            return None
        out = Path(self.out_dir)
        if resume:
            if not (out / CHECKPOINT_NAME).exists():
                raise HwsimError(f"{out}: no {CHECKPOINT_NAME} to resume from")
            return out
        if out.exists() and not out.is_dir():
            raise HwsimError(f"{out}: exists and is not a folder; choose another output "
                             "folder")
        if (out / "sweep.json").exists() or (out / "results.csv").exists():
            raise HwsimError(f"{out}: is a sweep folder (it holds sweep.json or results.csv); "
                             "a run there would be mixed with the sweep's files: choose another "
                             "output folder")
        if out.is_dir() and not self.force and any((out / f).exists() for f in self._RUN_FILES):
            raise HwsimError(f"{out}: already holds a run (or a {CONFIG_NAME}); choose another "
                             "output folder, resume it, or replace it with force=True (the "
                             "CLI's --force)")
        return out

    def _claim_folder(self, out):
        """Before the slow compile: create the folder, prove it writable, take its lock.

        Writes no run file (the probe file is removed), so a run that fails or is interrupted
        later still leaves an existing folder as it was; folders created here are removed by
        :meth:`_release_folder` if the run never wrote into them.
        """
        self._created = []
        try:
            for d in reversed([out, *out.parents]):
                if not d.exists():
                    d.mkdir()
                    self._created.append(d)
        except OSError as e:
            self._release_folder()
            raise HwsimError(f"{out}: cannot create the run folder: {e.strerror or e}") from e
        try:
            probe_writable(out)
        except HwsimError:
            self._release_folder()
            raise
        # filelock: an OS lock (flock on POSIX, msvcrt on Windows) that dies with the process,
        # so a crashed run never leaves the folder locked.
        self._lock = filelock.FileLock(out / ".hwsim.lock", timeout=0)
        try:
            self._lock.acquire()
        except filelock.Timeout:
            self._lock = None
            self._release_folder()
            raise HwsimError(f"{out}: another hwsim run is using this folder") from None

    def _open_folder(self, out, resume):
        """On a forced new run, remove the old run's files (the folder is already locked)."""
        self._created = []  # from here on the folder holds this run
        if not resume:
            try:
                for f in self._RUN_FILES:
                    (out / f).unlink(missing_ok=True)
            except OSError as e:
                raise HwsimError(f"{out}: cannot replace the old run: {e.strerror or e}") from e

    def _release_folder(self):
        if getattr(self, "_lock", None) is not None:
            self._lock.release()
            if getattr(self, "_created", None):
                Path(self._lock.lock_file).unlink(missing_ok=True)
            self._lock = None
        for d in reversed(getattr(self, "_created", None) or []):
            try:
                d.rmdir()
            except OSError:
                break  # not empty: someone else put something there
        self._created = []

    def _check_resumable(self, out, cfg, start):
        """Refuse a resume that would do nothing, or repeat a divergence."""
        try:
            prev = json.loads((out / SUMMARY_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            prev = {}
        total = cfg.sim.total_steps()
        if prev.get("status") == "diverged":
            raise HwsimError(f"{out}: the run diverged at step {prev.get('steps')} "
                             f"({prev.get('message')}); resuming would diverge again: start a "
                             "new run with other settings")
        if prev.get("status") == "target_reached" and cfg.sim.stop_at_target:
            raise HwsimError(f"{out}: the run already reached its target at step "
                             f"{prev.get('steps')}; override sim.stop_at_target=false (and a "
                             "larger sim.steps) to continue it")
        if start >= total:
            raise HwsimError(f"{out}: the run is already at step {start}; nothing to resume "
                             f"(the run ends at step {total}: extend it by overriding "
                             "sim.steps=N)")
        return prev

    # -- evaluation tick --------------------------------------------------------------------
    def _evaluate(self, step):
        chip, net, ds = self.chip_, self.network_, self.dataset_
        # Evaluation reads the chip through its periphery; noise draws are keyed by the step
        # (and kept apart from training reads by their sub-coordinates).
        train_cost, train_acc = net.evaluate(chip.theta, ds.X_train, ds.Y_train, ds.labels_train,
                                             counter=2 * step)
        test_cost, test_acc = net.evaluate(chip.theta, ds.X_test, ds.Y_test, ds.labels_test,
                                           counter=2 * step + 1)
        st = chip.device_stats()
        row = {"step": int(step), "hardware_time_s": step * self.config.sim.dt,
               "updates": chip.updates, "pulses": st.get("pulses", 0),
               "clipped_writes": st.get("clipped_writes", 0), "train_cost": train_cost,
               "train_accuracy": train_acc, "test_cost": test_cost, "test_accuracy": test_acc,
               **chip.counters()}
        if self._diag is not None:
            row.update(self._diag.measure(step))
        self.metrics_.append(row)
        if self._writer is not None:
            self._writer.write(row)
            k = self.config.sim.checkpoint_every
            if k and step > 0 and (step // self.config.sim.eval_every) % k == 0:
                self._in_process("checkpoint", lambda s: self._save_checkpoint())(step)
        if not (math.isfinite(train_cost) and np.isfinite(chip.theta).all()
                and np.isfinite(chip.grad).all()):
            self._diverge(step, "non-finite " + chip.nonfinite_component())
        elif train_cost > self.config.sim.max_cost:
            if step == self.chip_.step and chip.updates == 0:
                self.divergence_ = (f"stopped at step {step}: the initial train cost "
                                    f"{train_cost:.4g} already exceeds sim.max_cost = "
                                    f"{self.config.sim.max_cost:g}; raise sim.max_cost")
                if self._timeline is not None:
                    self._timeline.stop("diverged")
            else:
                self._diverge(step, f"train cost {train_cost:.4g} > sim.max_cost = "
                                    f"{self.config.sim.max_cost:g}")
        elif (self.config.sim.stop_at_target
              and test_acc >= self.config.sim.target_accuracy):
            self._timeline.stop("target_reached")
        self._last_acc = test_acc

    def _save_checkpoint(self):
        state = self.chip_.get_state()
        state["config_sha256"] = np.array(defining_hash(self.config, self.profile_))
        save_checkpoint(Path(self.out_dir) / CHECKPOINT_NAME, state)

    def _diverge(self, step, component):
        if self.divergence_ is not None:
            return  # the first cause found is the one reported
        self.divergence_ = (f"diverged at step {step}: {component}; likely cause: the "
                            f"learning rate mgd.eta = {self.config.mgd.eta} (or mgd.amplitude = "
                            f"{self.config.mgd.amplitude}) is too high, or the chip was given a "
                            "non-finite value")
        if self._timeline is not None:
            self._timeline.stop("diverged")

    # -- main -------------------------------------------------------------------------------
    def run(self, *, resume=False):
        """Train; returns ``self``.

        Parameters
        ----------
        resume : bool
            Continue the run in ``out_dir`` from its checkpoint (bit-identical to a run that
            was never stopped).

        Raises
        ------
        HwsimError
            The folder already holds a run (without ``force``), is locked by another run,
            cannot be written, or has nothing (or a damaged checkpoint) to resume.
        hwsim.runs.WriteError
            A write failed (a full disk); summary status "failed", the files already there
            are intact and the run can be resumed once there is room.
        TimelineProcessError
            An evaluation, checkpoint or drift callback raised; summary status "failed",
            metrics.csv keeps the rows measured so far.
        DivergenceError
            NaN/Inf in the cost, weights or accumulators, after saving everything measured
            (summary status "diverged"; ``summary_`` and ``metrics_`` stay readable).
        KeyboardInterrupt
            Re-raised after saving a checkpoint and summary with status "interrupted".
        """
        cfg = self.config
        wall0 = time.perf_counter()
        self.metrics_, self._writer, self._bar, self._timeline = [], None, None, None
        self.divergence_, self.summary_, self.status_ = None, None, "not started"
        self.warnings_, self._failure, self._prev_summary = [], None, {}
        out = self._check_folder(resume)
        # A resumed run uses the profile it started with, even if the file changed since.
        saved = out / DEVICE_NAME if out is not None else None
        self.profile_ = (load_profile(saved) if resume and saved.exists() else
                         load_profile(cfg.chip.device, cfg.chip.device_set))
        if any(cfg.chip.needs_calibration()):  # recorded in config.toml (issue 13)
            self.config = cfg = calibrate_config(cfg, load_dataset(
                cfg.task, seed=cfg.seed, sizes=cfg.network.sizes))
        self.chip_, self.network_, self.dataset_ = build_chip(cfg, profile=self.profile_)
        self.dataset_info_ = describe_dataset(self.dataset_)
        chip = self.chip_
        # Gradient diagnostics ([diagnostics], hwsim/learn/diagnostics.py): None when off.
        self._diag = diagnostics_for(cfg, chip, self.network_, self.dataset_, lambda c: build_chip(
            c, self.dataset_, self.profile_)[0])
        self.startup_warnings_ = (startup_warnings(chip, cfg, self.profile_)
                                  + adc_warnings(cfg, chip, self.dataset_))
        for w in self.startup_warnings_:
            warnings.warn(w, HwsimWarning, stacklevel=2)
        # Taken before set_state: a fresh chip holds the run's initial weights, also on resume.
        self._theta0_max = float(np.max(np.abs(chip.theta), initial=0.0))
        every = cfg.sim.eval_every
        if out is not None:
            # Before the compile, which takes 10-40 s: a folder that is busy or read-only
            # should be refused at once, not after the wait.
            self._claim_folder(out)
        try:
            if resume:
                state = load_checkpoint(out / CHECKPOINT_NAME)
                if "config_sha256" not in state:
                    raise HwsimError(f"{out}: {CHECKPOINT_NAME} is damaged or not an hwsim "
                                     "checkpoint (it has no config_sha256)")
                if str(state["config_sha256"]) != defining_hash(cfg, self.profile_):
                    raise HwsimError(f"{out / CONFIG_NAME}: differs from the run its checkpoint "
                                     "was made with (only "
                                     f"{', '.join(sorted(RESUMABLE_KEYS))} may change on "
                                     "resume); start a new run instead")
                try:
                    chip.set_state(state)
                except KeyError as e:
                    raise HwsimError(f"{out}: {CHECKPOINT_NAME} is damaged or not an hwsim "
                                     f"checkpoint (it has no '{e.args[0]}')") from None
                self._prev_summary = self._check_resumable(out, cfg, chip.step)
                changed = changed_files(self._prev_summary.get("dataset"), self.dataset_info_)
                if changed:
                    raise HwsimError(f"{changed[0]}: the dataset file changed (or is gone) "
                                     f"since the run in {out} started; resuming would train "
                                     "on other data: restore the file or start a new run")
                # Keep exactly the rows an uninterrupted run has by this step (drops a torn
                # line and the extra end-of-run row of a shorter run).
                self.metrics_ = [r for r in read_metrics(out / METRICS_NAME)
                                 if r["step"] <= chip.step and r["step"] % every == 0]
            total = cfg.sim.total_steps()
            start = chip.step

            # Compile before timing so steps_per_s measures the training loop only.
            if self.progress and not _k.run_steps.signatures and not kernels_on_disk():
                # Not yet loaded in this process: from the on-disk cache in about a second, or
                # compiled once per hwsim version and machine.
                print("hwsim: compiling kernels (first run only: 10-40 s)...", file=sys.stderr,
                      flush=True)
            t0 = time.perf_counter()
            chip.advance(0)
            self.network_.evaluate(chip.theta, self.dataset_.X_test[:1], self.dataset_.Y_test[:1],
                                   self.dataset_.labels_test[:1])
            compile_s = time.perf_counter() - t0
            # An interrupt while compiling stops here, before any file is written.
            self._check_stop()

            # Everything is validated and built: only now write into the folder.
            if out is not None:
                self._open_folder(out, resume)
                atomic_write_bytes(out / CONFIG_NAME, _config_text(cfg))
                atomic_write_bytes(out / DEVICE_NAME,
                                   profile_to_toml(self.profile_, resolved=True).encode(
                                       "utf-8", "surrogateescape"))
                self._writer = MetricsWriter(out / METRICS_NAME, keep_rows=list(self.metrics_),
                                             columns=metrics_columns(self._diag))
                if not resume:
                    self._save_checkpoint()  # resumable from the first moment
        except BaseException as e:
            self._release_folder()
            if isinstance(e, OSError):
                raise self._folder_error(e, out) from e
            raise

        kernel_s = [0.0]

        def advance(n):
            t = time.perf_counter()
            status = chip.advance(n)
            took = time.perf_counter() - t
            kernel_s[0] += took
            if self.max_chunk is None and n > 0 and took > 0:
                # Size the next call to ~0.1 s of work, whatever a step costs on this chip
                # (devices can be 100x slower than ideal synapses): Ctrl-C and SIGTERM are
                # polled between calls. Chunking never changes results.
                per_step = took / n
                tl.max_chunk = int(min(max(0.1 / per_step, 1), 2 * tl.max_chunk + 1, 10**7))
            return status

        if self.progress:
            from tqdm.auto import tqdm
            self._bar = tqdm(total=total, initial=start, unit="step", unit_scale=True,
                             dynamic_ncols=True, desc="hwsim")
        self._last_acc = float("nan")

        def on_chunk(step):
            if self._bar is not None:
                self._bar.set_postfix_str(f"hw {step * cfg.sim.dt:.4g} s, test acc "
                                          f"{self._last_acc:.3f}", refresh=False)
                self._bar.update(step - self._bar.n)
            self._check_stop()
        # The longest kernel call (progress and Ctrl-C are handled between calls); results do
        # not depend on it.
        max_chunk = self.max_chunk or max(1, int(3e6 // (2 * chip.P + 50)))
        self._timeline = tl = Timeline(cfg.sim.dt, advance, lambda: chip.step, start_step=start,
                                       max_chunk=max_chunk,
                                       on_chunk=on_chunk)
        if chip.has_devices and self.profile_.params.drift != "none":
            # Drift epochs: a slow SimPy event on its own grid (never the evaluation cadence,
            # which must not change the physics), registered first so that it precedes an
            # evaluation that falls on the same step.
            tl.process(periodic(tl.env, cfg.sim.drift_every, self._in_process(
                "drift", lambda s: chip.drift_to(s * cfg.sim.dt))))
        evaluate = self._in_process("evaluation", self._evaluate)
        tl.process(periodic(tl.env, every, evaluate))
        status = "failed"
        try:
            if start % every == 0 and not (self.metrics_ and self.metrics_[-1]["step"] == start):
                # step 0, or a resume that stopped on a tick before logging it
                evaluate(start)
            if self.divergence_ is None and start < total:
                tl.run(total)
            if tl.status != _k.STATUS_OK and self.divergence_ is None:
                which = "cost" if tl.status == _k.STATUS_NONFINITE_COST else "baseline cost"
                self._diverge(chip.bad_step, f"non-finite {which} ({chip.nonfinite_component()})")
            if not self.metrics_ or self.metrics_[-1]["step"] != chip.step:
                evaluate(chip.step)  # the end of the run, once
            if self.divergence_ is not None:
                status = "diverged"
            elif tl.stop_reason == "target_reached":
                status = "target_reached"
            else:
                status = "completed"
            self.warnings_ = self._instability()
            if self.warnings_:
                status = "unstable"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except OSError as e:
            err = self._folder_error(e, out)
            self._failure = str(err)
            raise err from e
        except Exception as e:
            self._failure = str(e) or type(e).__name__
            raise
        finally:
            if self._bar is not None:
                self._bar.set_postfix_str(f"hw {chip.step * cfg.sim.dt:.4g} s, test acc "
                                          f"{self._last_acc:.3f}", refresh=False)
                self._bar.update(chip.step - self._bar.n)
                self._bar.close()
            timing = (start, wall0, kernel_s[0], compile_s)
            if out is None:
                self.status_ = status
                self.summary_ = self._summary(status, *timing)
            else:
                try:
                    self._finish_files(status, timing,
                                       failing=status in ("failed", "interrupted"))
                finally:
                    self._release_folder()
        if self.divergence_ is not None:
            raise DivergenceError(self.divergence_)
        return self

    def _folder_error(self, exc, out):
        """The one-line error for a failed write, saying whether the run can be resumed."""
        err = write_error(getattr(exc, "filename", None) or out, exc)
        if out is not None and (Path(out) / CHECKPOINT_NAME).exists():
            hint = f"; the run can be resumed once there is room: hwsim run --resume {out}"
        else:
            hint = "; nothing to resume yet: start the run again once there is room"
        return type(err)(str(err) + hint)

    def _finish_files(self, status, timing, failing):
        """Close metrics, then checkpoint and summary, each atomically; sets ``summary_``.

        A failed close or checkpoint turns a finished run into "failed" and keeps the previous
        checkpoint (resuming replays from it); summary.json is still attempted, so the folder
        says what happened. While an error is already propagating (``failing``), a write that
        fails too (a full disk) must not mask it.
        """
        out = Path(self.out_dir)
        error = None
        other = None  # not a write error (no memory left for the state's copy, a 2nd Ctrl-C)
        try:
            self._writer.close()
            self._save_checkpoint()
        except OSError as e:
            error = self._folder_error(e, out)
            if not failing:
                status, self._failure = "failed", str(error)
        except BaseException as e:  # noqa: B902 - summary.json must still be written
            other = e
            if not failing and not isinstance(e, KeyboardInterrupt):
                status = "failed"
        self.status_ = status
        self.summary_ = self._summary(status, *timing)
        if other is not None:
            self.summary_["message"] = (
                f"{self.summary_['message'] + '; ' if self.summary_['message'] else ''}the "
                f"final checkpoint was not written ({type(other).__name__}: {other}); "
                f"{CHECKPOINT_NAME} holds an earlier step")
        try:
            write_json(out / SUMMARY_NAME, self.summary_)
        except OSError as e:
            error = error or self._folder_error(e, out)
        if other is not None:
            raise other
        if error is not None and not failing:
            raise error

    def _instability(self):
        """Warnings for a run that finished but blew up slowly (see UNSTABLE_COST_RATIO)."""
        cfg, rows, found = self.config, self.metrics_, []
        if self.divergence_ is not None:
            return found
        if rows:
            costs = [r["train_cost"] for r in rows]
            best, first, last = min(costs), costs[0], costs[-1]
            if last > UNSTABLE_COST_RATIO * best and last > first:
                found.append(f"the train cost ended at {last:.4g}, above its initial "
                             f"{first:.4g} and more than {UNSTABLE_COST_RATIO:g}x its best "
                             f"{best:.4g}")
        theta = float(np.max(np.abs(self.chip_.theta), initial=0.0))
        if theta > UNSTABLE_THETA_RATIO * max(1.0, self._theta0_max):
            found.append(f"the weights ended at max |theta| = {theta:.3g}, more than "
                         f"{UNSTABLE_THETA_RATIO:g}x their initial scale "
                         f"(max(1, {self._theta0_max:.3g}))")
        cause = (f"likely cause: the learning rate mgd.eta = {cfg.mgd.eta} (or mgd.amplitude = "
                 f"{cfg.mgd.amplitude}) is too high")
        return [f"unstable run: {w}; {cause}" for w in found]

    def _summary(self, status, start, wall0, kernel_s, compile_s):
        cfg, chip = self.config, self.chip_
        rows = self.metrics_
        hit = target_hit(rows, cfg.sim.target_accuracy)
        done = chip.step - start
        segment = time.perf_counter() - wall0
        return {
            "status": status,
            "message": self.divergence_ or self._failure,
            "warnings": list(self.warnings_),
            "startup_warnings": list(getattr(self, "startup_warnings_", [])),
            **curve_summary(rows, cfg.sim.target_accuracy),
            "time_to_target_s": hit["hardware_time_s"] if hit else None,
            "steps": chip.step,
            "hardware_time_s": chip.step * cfg.sim.dt,
            "updates": chip.updates,
            "n_params": chip.P,
            "device": self.profile_.name,
            "device_model": chip.device.model if chip.device is not None else "Ideal",
            "device_stats": chip.device_stats(),
            "counters": chip.counters(),
            "cost_clipped_fraction": chip.cost_clipped_fraction(),
            "perturbation_clipped_fraction": chip.perturbation_clipped_fraction(),
            "perturbation_zero_fraction": chip.perturbation_zero_fraction(),
            "pulse_settings": chip.pulse_settings(),
            **energy_summary(cfg, chip.counters(), rows),  # [hardware] model: hwsim.energy
            # Totals over every segment of a resumed run; segment_wall_s is this one alone.
            "wall_s": (self._prev_summary.get("wall_s") or 0.0) + segment,
            "segment_wall_s": segment,
            "compile_s": compile_s,
            "steps_per_s": done / kernel_s if kernel_s > 0 else None,
            "seed": cfg.seed,
            "dataset": getattr(self, "dataset_info_", None),
            "hwsim_version": __version__,
        }
