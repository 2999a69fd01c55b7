"""The backpropagation baseline: minibatch SGD on the exact gradient of the same network.

``[learn] algorithm = "backprop"`` trains the network an MGD run would train (same task,
split, layer sizes, activations, cost, weight_scale and initial θ0 from the same seed) by
minibatch stochastic gradient descent on its exact gradient
(:func:`hwsim.chip.gradient.backprop`), with the run's ``[learn] optimizer`` (plain,
momentum, Nesterov, Adam, clip: :func:`hwsim.kernels.optimizer.request`, the very rule
MGD's synapses apply to G) on the minibatch mean gradient. Each epoch visits the training
set in the permutation of MGD's data-order stream for that epoch, in minibatches of
``learn.batch_size`` (the last one may be smaller). The weights are ideal float64 numbers:
a non-ideal device, the periphery or float32 state are refused, since this is the digital
reference every MGD result is put next to, not an emulation of hardware.

The run folder has the MGD format: config.toml, metrics.csv (the same first columns, then
``epoch``; ``step`` and ``updates`` count minibatch updates; ``hardware_time_s`` is NaN),
summary.json (``hardware_time_s`` and ``time_to_target_s`` null, with a ``note`` saying
why) and learning_curve.png (against updates). There is no checkpoint: a run takes seconds,
so ``--resume`` is refused with a one-line error.
"""

import math
import time
from pathlib import Path

import numpy as np
import tomli_w

from hwsim import __version__
from hwsim.chip.chip import OPTIMIZERS
from hwsim.chip.gradient import backprop
from hwsim.chip.network import MLP
from hwsim.chip.profiles import load_profile
from hwsim.exceptions import ConfigError, DivergenceError, HwsimError
from hwsim.kernels.clocks import shuffle_order
from hwsim.kernels.optimizer import OptimizerParams, request
from hwsim.runs import (
    CHECKPOINT_NAME, CONFIG_NAME, CURVE_NAME, METRICS_COLUMNS, METRICS_NAME, SUMMARY_NAME,
    MetricsWriter, atomic_write_bytes, curve_summary, flatten, target_hit, write_json,
)
from hwsim.tasks import load_task

#: metrics.csv columns of a backprop run: MGD's first nine, then the epoch.
BACKPROP_COLUMNS = METRICS_COLUMNS[:9] + ("epoch",)

NOTE = ("learn.algorithm = 'backprop': digital minibatch SGD on the exact gradient; hardware "
        "time is not defined for it (hardware_time_s and time_to_target_s are null); steps "
        "count minibatch updates")


def check_backprop_config(cfg, profile=None):
    """Refuse settings the backprop baseline cannot honour, with a one-line error.

    Raises
    ------
    ConfigError
        A non-ideal ``chip.device``, any periphery (``chip.inp_bound``, ``out_bound``,
        neuron variation), ``sim.dtype = "float32"``, ``diagnostics.enabled``, or any other
        ``[chip]`` key away from its default (converters, the cost line, the integrator, the
        perturbation source, Tiki-Taka transfer, ...): the baseline would ignore it.
    """
    profile = profile or load_profile(cfg.chip.device)
    if profile.model != "Ideal":
        raise ConfigError(f"chip.device = {cfg.chip.device!r}: learn.algorithm = 'backprop' "
                          "trains ideal float weights; set chip.device = 'ideal' (the "
                          "baseline is the digital network, not a device emulation)")
    if cfg.chip.has_periphery():
        raise ConfigError("chip.inp_bound/out_bound/neuron_*_dtod: learn.algorithm = "
                          "'backprop' trains the ideal network; set them to 0")
    if cfg.sim.dtype != "float64":
        raise ConfigError(f"sim.dtype = {cfg.sim.dtype!r}: learn.algorithm = 'backprop' "
                          "trains in float64; set sim.dtype = 'float64'")
    if cfg.network.layers:
        raise ConfigError("network.layers: learn.algorithm = 'backprop' trains the dense stack "
                          "network.sizes only; remove network.layers or use learn.algorithm = "
                          "'mgd'")
    if cfg.diagnostics.enabled:
        raise ConfigError("diagnostics.enabled = true: measures the MGD estimate; a backprop "
                          "run has none (its gradient is exact): set it to false")
    chip, default = flatten(cfg.to_dict()["chip"]), flatten(type(cfg)().to_dict()["chip"])
    for key, value in chip.items():  # every other hardware setting would be silently ignored
        if key not in BACKPROP_CHIP_KEYS and value != default.get(key):
            raise ConfigError(f"chip.{key} = {value!r}: learn.algorithm = 'backprop' trains the "
                              "digital network and would ignore this chip setting; remove it "
                              "or use learn.algorithm = 'mgd'")


#: The [chip] keys the backprop baseline honours (the network's weight scale) or checks above.
BACKPROP_CHIP_KEYS = {"device", "weight_scale", "inp_bound", "out_bound", "neuron_gain_dtod",
                      "neuron_offset_dtod"}


class BackpropTrainer:
    """Train the run's network by minibatch backpropagation, writing an MGD-style run folder.

    Parameters
    ----------
    config : hwsim.config.RunConfig
        With ``learn.algorithm = "backprop"``.
    out_dir : path or None
        Run folder; None keeps everything in memory.
    progress : bool
        Unused (a run takes seconds); accepted for the same call as
        :class:`hwsim.learn.trainer.MGDTrainer`.
    force : bool
        Replace a run already in ``out_dir``.
    stop : hwsim.learn.trainer.StopToken or None
        Checked between minibatches: a request stops the run ("interrupted").

    Attributes
    ----------
    network_ : MLP
    dataset_ : hwsim.tasks.Dataset
    theta0_ : array (P,)
        The initial parameters (those of an MGD run of the same config).
    theta_ : array (P,)
        The trained parameters.
    metrics_, summary_, status_, warnings_
        As :class:`~hwsim.learn.trainer.MGDTrainer`.
    """

    curve_axis_ = ("updates", "minibatch updates")

    def __init__(self, config, *, out_dir=None, progress=False, force=False, stop=None):
        self.config = config
        self.out_dir = out_dir
        self.progress = progress
        self.force = force
        self.stop = stop

    def _folder(self, resume):
        if resume:
            raise HwsimError(f"{self.out_dir}: learn.algorithm = 'backprop' runs are not "
                             "checkpointed (they take seconds): start the run again instead "
                             "of --resume")
        if self.out_dir is None:
            return None
        out = Path(self.out_dir)
        if out.exists() and not out.is_dir():
            raise HwsimError(f"{out}: exists and is not a folder; choose another output folder")
        names = (CONFIG_NAME, METRICS_NAME, SUMMARY_NAME, CHECKPOINT_NAME, CURVE_NAME)
        if out.is_dir() and any((out / f).exists() for f in names):
            if not self.force:
                raise HwsimError(f"{out}: already holds a run (or a {CONFIG_NAME}); choose "
                                 "another output folder or replace it with force=True (the "
                                 "CLI's --force)")
            for f in names:
                (out / f).unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        return out

    def _evaluate(self, updates, epoch):
        ds, net = self.dataset_, self.network_
        tr_c, tr_a = net.evaluate(self.theta_, ds.X_train, ds.Y_train, ds.labels_train)
        te_c, te_a = net.evaluate(self.theta_, ds.X_test, ds.Y_test, ds.labels_test)
        row = {"step": updates, "hardware_time_s": float("nan"), "updates": updates,
               "pulses": 0, "clipped_writes": 0, "train_cost": tr_c, "train_accuracy": tr_a,
               "test_cost": te_c, "test_accuracy": te_a, "epoch": epoch}
        self.metrics_.append(row)
        if self._writer is not None:
            self._writer.write(row)
        return row

    def run(self, *, resume=False):
        """Train; returns ``self``.

        Raises
        ------
        ConfigError
            Settings the baseline refuses (:func:`check_backprop_config`).
        HwsimError
            ``resume`` (not supported), or a folder that already holds a run.
        DivergenceError
            A non-finite or > ``sim.max_cost`` train cost, after writing the run folder.
        KeyboardInterrupt
            A stop request, after writing the run folder (status "interrupted").
        """
        cfg = self.config
        wall0 = time.perf_counter()
        check_backprop_config(cfg)
        out = self._folder(resume)
        n, lc = cfg.network, cfg.learn
        self.dataset_ = ds = load_task(cfg.task.name, bits=cfg.task.bits,
                                       test_fraction=cfg.task.test_fraction, seed=cfg.seed)
        self.network_ = net = MLP(n.sizes, n.activation, n.output_activation, n.cost,
                                  seed=cfg.seed, weight_scale=cfg.chip.weight_scale)
        net.sense_model(ds.X_train[:1], ds.Y_train[:1])  # sizes must fit the task
        self.theta0_ = net.init_params(cfg.seed, n.init, n.init_low, n.init_high)
        self.theta_ = theta = self.theta0_.copy()
        P, N = net.n_params, len(ds.X_train)
        opt = OptimizerParams(np.int64(OPTIMIZERS[lc.optimizer]), float(lc.lr),
                              float(lc.momentum), float(lc.beta2), float(lc.eps), float(lc.clip))
        m1, m2, req = np.zeros(P), np.zeros(P), np.zeros(P)
        order = np.empty(N, np.int64)
        self.metrics_, self.warnings_, self._writer = [], [], None
        self.status_, message, updates, epoch = "failed", None, 0, 0
        if out is not None:
            head = f"# fully resolved by hwsim {__version__} (learn.algorithm = backprop)\n"
            atomic_write_bytes(out / CONFIG_NAME, (head + tomli_w.dumps(cfg.to_dict())).encode(
                "utf-8", "surrogateescape"))
            self._writer = MetricsWriter(out / METRICS_NAME, columns=BACKPROP_COLUMNS)
        try:
            row = self._evaluate(0, 0)
            status = "completed"
            for epoch in range(1, lc.epochs + 1):
                shuffle_order(order, np.int64(cfg.seed), np.int64(epoch - 1))
                for start in range(0, N, lc.batch_size):
                    if self.stop is not None and self.stop.requested:
                        self.stop.requested = False
                        raise KeyboardInterrupt
                    idx = order[start:start + lc.batch_size]
                    g = backprop(net, theta, ds.X_train[idx], ds.Y_train[idx]).grad
                    updates += 1
                    request(opt, g, req, m1, m2, updates)
                    theta += req
                row = self._evaluate(updates, epoch)
                if not (math.isfinite(row["train_cost"]) and np.isfinite(theta).all()):
                    status, message = "diverged", (f"diverged at epoch {epoch}: non-finite "
                                                   f"cost or weights; lower learning.lr = "
                                                   f"{lc.lr}")
                    break
                if row["train_cost"] > cfg.sim.max_cost:
                    status, message = "diverged", (f"diverged at epoch {epoch}: train cost "
                                                   f"{row['train_cost']:.4g} > sim.max_cost; "
                                                   f"lower learn.lr = {lc.lr}")
                    break
                if cfg.sim.stop_at_target and row["test_accuracy"] >= cfg.sim.target_accuracy:
                    status = "target_reached"
                    break
            self.status_ = status
        except KeyboardInterrupt:
            self.status_ = "interrupted"
            raise
        finally:
            self.summary_ = self._summary(self.status_, message, updates, epoch,
                                          time.perf_counter() - wall0)
            if out is not None:
                self._writer.close()
                write_json(out / SUMMARY_NAME, self.summary_)
        if self.status_ == "diverged":
            raise DivergenceError(message)
        return self

    def _summary(self, status, message, updates, epoch, wall):
        cfg, rows = self.config, self.metrics_
        hit = target_hit(rows, cfg.sim.target_accuracy)
        return {
            "status": status, "message": message, "warnings": [], "algorithm": "backprop",
            "note": NOTE,
            **curve_summary(rows, cfg.sim.target_accuracy),
            "epochs_to_target": hit["epoch"] if hit else None,
            "time_to_target_s": None, "steps": updates, "updates": updates, "epochs": epoch,
            "hardware_time_s": None, "n_params": self.network_.n_params if rows else None,
            "optimizer": cfg.learn.optimizer, "lr": cfg.learn.lr,
            "batch_size": cfg.learn.batch_size, "device": "ideal", "wall_s": wall,
            "seed": cfg.seed, "hwsim_version": __version__,
        }
