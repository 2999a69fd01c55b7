"""The MGD trainer: build a chip from a run config, drive it on the timeline, log a run folder.

Follows the scikit-learn estimator contract: ``__init__`` stores its arguments, ``run``
validates, builds and trains, and learned state lands in trailing-underscore attributes.
"""

import fcntl
import hashlib
import json
import math
import os
import threading
import time
from pathlib import Path

import numpy as np
import tomli_w

from hwsim import __version__
from hwsim.chip.chip import Chip
from hwsim.chip.devices import DeviceArray
from hwsim.chip.profiles import load_profile, profile_to_toml
from hwsim.chip.network import MLP, n_params
from hwsim.exceptions import ConfigError, DivergenceError, HwsimError
from hwsim.kernels import step as _k
from hwsim.runs import (
    CHECKPOINT_NAME, CONFIG_NAME, CURVE_NAME, DEVICE_NAME, METRICS_NAME, SUMMARY_NAME, MetricsWriter,
    atomic_write_bytes, load_checkpoint, read_metrics, save_checkpoint, write_json,
)
from hwsim.sim import Timeline, periodic
from hwsim.tasks import load_task

_STOP = threading.Event()


def request_stop() -> None:
    """Ask a running trainer to stop at its next safe point (between kernel calls), save a
    checkpoint and raise KeyboardInterrupt. Safe to call from a signal handler: it never
    raises, so an interrupt cannot land inside the compiler or a half-written file."""
    _STOP.set()


def _check_stop() -> None:
    if _STOP.is_set():
        _STOP.clear()
        raise KeyboardInterrupt


# Keys a resumed run may change: only how far it goes and when it stops.
RESUMABLE_KEYS = {"sim.steps", "sim.time_limit_s", "sim.target_accuracy", "sim.stop_at_target"}


def defining_hash(cfg, profile) -> str:
    """SHA-256 of the config without the keys a resume may change (see RESUMABLE_KEYS) and of
    the resolved device profile."""
    d = cfg.to_dict()
    for key in RESUMABLE_KEYS:
        sec, name = key.split(".")
        d[sec].pop(name, None)
    text = tomli_w.dumps(d) + profile_to_toml(profile, resolved=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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


def build_chip(cfg, dataset=None, profile=None):
    """Build ``(chip, network, dataset)`` for a run config.

    Parameters
    ----------
    cfg : hwsim.config.RunConfig
    dataset : hwsim.tasks.Dataset, optional
        Reuse an already loaded dataset.
    profile : hwsim.chip.profiles.Profile, optional
        The device profile (default: ``load_profile(cfg.chip.device)``).

    Raises
    ------
    ConfigError
        Unknown profile, a network that does not fit the task or the machine's memory.
    """
    ds = dataset or load_task(cfg.task.name, bits=cfg.task.bits,
                              test_fraction=cfg.task.test_fraction, seed=cfg.seed)
    n = cfg.network
    profile = profile or load_profile(cfg.chip.device)
    check_memory(cfg, profile, len(ds.X_train), len(ds.X_test))
    net = MLP(n.sizes, n.activation, n.output_activation, n.cost, periphery=cfg.chip,
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
                dt=cfg.sim.dt, device=device, update_rounding=c.update_rounding, max_pulses=c.max_pulses,
                dtype=dtype)
    return chip, net, ds


def _config_text(cfg) -> bytes:
    import numba
    import simpy

    # Versions go in a comment so the file stays a valid config for ``hwsim run``.
    head = (f"# fully resolved by hwsim {__version__} (numpy {np.__version__}, "
            f"numba {numba.__version__}, simpy {simpy.__version__})\n")
    return (head + tomli_w.dumps(cfg.to_dict())).encode("utf-8")


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
        Show a tqdm progress bar (steps/s, hardware time, test accuracy) on stderr.
    force : bool
        Allow starting a new run in a folder that already holds one (its files are replaced).
    max_chunk : int or None
        Longest single kernel call in steps (None: about 0.1 s of work). Results do not depend
        on it.

    Attributes
    ----------
    chip_ : Chip
    network_ : MLP
    dataset_ : hwsim.tasks.Dataset
    metrics_ : list of dict
        One row per evaluation tick (columns of :data:`hwsim.runs.METRICS_COLUMNS`).
    summary_ : dict
        What summary.json holds.
    status_ : {"completed", "target_reached", "diverged", "interrupted"}
    """

    def __init__(self, config, *, out_dir=None, progress=False, force=False, max_chunk=None):
        self.max_chunk = max_chunk
        self.config = config
        self.out_dir = out_dir
        self.progress = progress
        self.force = force

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
            raise HwsimError(f"{out}: exists and is not a folder; choose another --out")
        if out.is_dir() and not self.force and any((out / f).exists() for f in self._RUN_FILES):
            raise HwsimError(f"{out}: already holds a run (or a {CONFIG_NAME}); choose another "
                             "--out, --resume it, or pass --force to replace it")
        return out

    def _open_folder(self, out, resume):
        """Create and lock the folder; on a forced new run, remove the old run's files."""
        try:
            out.mkdir(parents=True, exist_ok=True)
            self._lock = open(out / ".hwsim.lock", "w")
        except OSError as e:
            raise HwsimError(f"{out}: cannot create the run folder: {e.strerror or e}") from e
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            self._lock = None
            raise HwsimError(f"{out}: another hwsim run is using this folder") from None
        if not resume:
            for f in self._RUN_FILES:
                (out / f).unlink(missing_ok=True)

    def _release_folder(self):
        if getattr(self, "_lock", None) is not None:
            self._lock.close()
            self._lock = None

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
                             f"{prev.get('steps')}; --set sim.stop_at_target=false (and a larger "
                             "sim.steps) to continue it")
        if start >= total:
            raise HwsimError(f"{out}: the run is already at step {start}; nothing to resume "
                             f"(the run ends at step {total}: extend it with --set sim.steps=N)")

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
        self.metrics_.append(row)
        if self._writer is not None:
            self._writer.write(row)
            k = self.config.sim.checkpoint_every
            if k and step > 0 and (step // self.config.sim.eval_every) % k == 0:
                self._save_checkpoint()
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
            The folder already holds a run (without ``force``) or has nothing to resume.
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
        out = self._check_folder(resume)
        # A resumed run uses the profile it started with, even if the file changed since.
        saved = out / DEVICE_NAME if out is not None else None
        self.profile_ = load_profile(saved if resume and saved.exists() else cfg.chip.device)
        self.chip_, self.network_, self.dataset_ = build_chip(cfg, profile=self.profile_)
        chip = self.chip_
        every = cfg.sim.eval_every
        if resume:
            state = load_checkpoint(out / CHECKPOINT_NAME)
            if str(state.get("config_sha256", "")) != defining_hash(cfg, self.profile_):
                raise HwsimError(f"{out / CONFIG_NAME}: differs from the run its checkpoint was "
                                 "made with (only sim.steps, sim.time_limit_s, "
                                 "sim.target_accuracy and sim.stop_at_target may change on "
                                 "resume); start a new run instead")
            chip.set_state(state)
            self._check_resumable(out, cfg, chip.step)
            # Keep exactly the rows an uninterrupted run has by this step (drops a torn line
            # and the extra end-of-run row of a shorter run).
            self.metrics_ = [r for r in read_metrics(out / METRICS_NAME)
                             if r["step"] <= chip.step and r["step"] % every == 0]
        total = cfg.sim.total_steps()
        start = chip.step

        # Compile before timing so steps_per_s measures the training loop only.
        t0 = time.perf_counter()
        chip.advance(0)
        self.network_.evaluate(chip.theta, self.dataset_.X_test[:1], self.dataset_.Y_test[:1],
                               self.dataset_.labels_test[:1])
        compile_s = time.perf_counter() - t0
        _check_stop()  # an interrupt during compilation stops here, before any file is written

        # Everything is validated and built: only now touch the folder.
        if out is not None:
            self._open_folder(out, resume)
            try:
                atomic_write_bytes(out / CONFIG_NAME, _config_text(cfg))
                atomic_write_bytes(out / DEVICE_NAME,
                                   profile_to_toml(self.profile_, resolved=True).encode("utf-8"))
                self._writer = MetricsWriter(out / METRICS_NAME, keep_rows=list(self.metrics_))
                if not resume:
                    self._save_checkpoint()  # resumable from the first moment
            except OSError as e:
                self._release_folder()
                raise HwsimError(f"{out}: cannot write the run folder: {e}") from e

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
            _check_stop()
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
            tl.process(periodic(tl.env, cfg.sim.drift_every,
                                lambda s: chip.drift_to(s * cfg.sim.dt)))
        tl.process(periodic(tl.env, every, self._evaluate))
        status = "failed"
        try:
            if start % every == 0 and not (self.metrics_ and self.metrics_[-1]["step"] == start):
                # step 0, or a resume that stopped on a tick before logging it
                self._evaluate(start)
            if self.divergence_ is None and start < total:
                tl.run(total)
            if tl.status != _k.STATUS_OK and self.divergence_ is None:
                which = "cost" if tl.status == _k.STATUS_NONFINITE_COST else "baseline cost"
                self._diverge(chip.bad_step, f"non-finite {which} ({chip.nonfinite_component()})")
            if not self.metrics_ or self.metrics_[-1]["step"] != chip.step:
                self._evaluate(chip.step)  # the end of the run, once
            if self.divergence_ is not None:
                status = "diverged"
            elif tl.stop_reason == "target_reached":
                status = "target_reached"
            else:
                status = "completed"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except OSError as e:
            raise HwsimError(f"{out}: cannot write the run folder: {e}; the files already "
                             "there are intact and the run can be resumed") from e
        finally:
            if self._bar is not None:
                self._bar.set_postfix_str(f"hw {chip.step * cfg.sim.dt:.4g} s, test acc "
                                          f"{self._last_acc:.3f}", refresh=False)
                self._bar.update(chip.step - self._bar.n)
                self._bar.close()
            self.status_ = status
            self.summary_ = self._summary(status, start, wall0, kernel_s[0], compile_s)
            if out is not None:
                try:
                    self._finish_files(failing=status in ("failed", "interrupted"))
                finally:
                    self._release_folder()
        if self.divergence_ is not None:
            raise DivergenceError(self.divergence_)
        return self

    def _finish_files(self, failing):
        """Close metrics, then checkpoint and summary, each atomically.

        While an error is already propagating, a write that fails too (a full disk) must not
        mask it: the previous checkpoint and summary stay valid and the run can be resumed.
        """
        try:
            self._writer.close()
            self._save_checkpoint()
            write_json(Path(self.out_dir) / SUMMARY_NAME, self.summary_)
        except OSError:
            if not failing:
                raise

    def _summary(self, status, start, wall0, kernel_s, compile_s):
        cfg, chip = self.config, self.chip_
        rows = self.metrics_
        acc = [r["test_accuracy"] for r in rows]
        hit = next((r for r in rows if r["test_accuracy"] >= cfg.sim.target_accuracy), None)
        done = chip.step - start
        return {
            "status": status,
            "message": self.divergence_,
            "final_test_accuracy": acc[-1] if acc else None,
            "best_test_accuracy": max(acc) if acc else None,
            "final_train_cost": rows[-1]["train_cost"] if rows else None,
            "final_test_cost": rows[-1]["test_cost"] if rows else None,
            "target_accuracy": cfg.sim.target_accuracy,
            "steps_to_target": hit["step"] if hit else None,
            "time_to_target_s": hit["hardware_time_s"] if hit else None,
            "steps": chip.step,
            "hardware_time_s": chip.step * cfg.sim.dt,
            "updates": chip.updates,
            "n_params": chip.P,
            "device": self.profile_.name,
            "device_model": chip.device.model if chip.device is not None else "Ideal",
            "device_stats": chip.device_stats(),
            "counters": chip.counters(),
            "pulse_settings": chip.pulse_settings(),
            "wall_s": time.perf_counter() - wall0,
            "compile_s": compile_s,
            "steps_per_s": done / kernel_s if kernel_s > 0 else None,
            "seed": cfg.seed,
            "hwsim_version": __version__,
        }
