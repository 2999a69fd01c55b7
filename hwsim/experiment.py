"""One call from a config file to a finished run folder (what ``hwsim run`` does)."""

from pathlib import Path

from hwsim.analysis.plots import learning_curve
from hwsim.config import RunConfig, load_config
from hwsim.exceptions import DivergenceError, HwsimError
from hwsim.learn.backprop import BackpropTrainer
from hwsim.learn.trainer import RESUMABLE_KEYS, MGDTrainer, TimelineProcessError
from hwsim.runs import CONFIG_NAME, CURVE_NAME, flatten
from hwsim.sections.layers import layer_text

# Shown in the title itself, or about how long the run lasts rather than what it is.
_TITLE_KEYS = {"task.name", "network.sizes", "network.layers", "mgd.perturbation", "chip.device", "seed",
               "sim.steps", "sim.time_limit_s", "sim.eval_every", "sim.checkpoint_every",
               "sim.target_accuracy", "sim.stop_at_target"}



def plot_title(cfg):
    """Title and subtitle of a run's learning curve.

    The title names the task, the network, the perturbation code, the device and the seed;
    the subtitle lists every other setting that differs from :class:`RunConfig`'s defaults,
    so two curves of one example with different settings never look alike.

    Parameters
    ----------
    cfg : RunConfig

    Returns
    -------
    (str, str)
    """
    net = (" ".join(layer_text(s) for s in cfg.network.layers) if cfg.network.layers
           else str(list(cfg.network.sizes)))
    title = (f"{cfg.task.name} {net}, {cfg.mgd.perturbation} MGD on "
             f"{cfg.chip.device}, seed {cfg.seed}")
    default = flatten(RunConfig().to_dict())
    diff = [f"{k} = {v}" for k, v in flatten(cfg.to_dict()).items()
            if k not in _TITLE_KEYS and default.get(k) != v]
    # Paths the OS gave as undecodable bytes (strict C locale) carry surrogates no font has.
    def shown(text):
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

    return shown(title), shown(", ".join(diff))


def _finish(trainer, out, quiet_errors=False):
    """Write the learning curve; while another error propagates, a failed plot stays silent."""
    cfg = trainer.config
    if out is not None and getattr(trainer, "metrics_", None) and Path(out).is_dir():
        title, subtitle = plot_title(cfg)
        try:
            learning_curve(trainer.metrics_, Path(out) / CURVE_NAME,
                           target=cfg.sim.target_accuracy, held_out=trainer.dataset_.held_out,
                           title=title, subtitle=subtitle,
                           log_time={"auto": None, "log": True, "linear": False}[
                               cfg.sim.plot_time_axis],
                           **({"x_axis": trainer.curve_axis_}
                              if hasattr(trainer, "curve_axis_") else {}))
        except HwsimError:
            if not quiet_errors:
                raise


def _train(trainer, out, resume):
    try:
        trainer.run(resume=resume)
    except (DivergenceError, TimelineProcessError, KeyboardInterrupt):
        _finish(trainer, out, quiet_errors=True)
        raise
    _finish(trainer, out)
    return trainer


def run_experiment(config, out_dir=None, overrides=(), *, progress=False, force=False,
                   stop=None):
    """Train as ``config`` says and write the run folder.

    Parameters
    ----------
    config : path or RunConfig
        A TOML run config (see docs/config.md) or an already loaded config.
    out_dir : path or None
        Run folder; None trains in memory only.
    overrides : sequence of str
        ``"section.key=value"`` overrides applied to a config file.
    progress, force : bool
        Progress bar (and the compile notice) on stderr; replace a run already in ``out_dir``.
    stop : hwsim.learn.trainer.StopToken, optional
        Calling ``stop.request()`` (e.g. from a signal handler) stops this run at its next
        safe point with a checkpoint.

    Returns
    -------
    MGDTrainer or hwsim.learn.backprop.BackpropTrainer
        (the latter for ``learn.algorithm = "backprop"``) With ``summary_``, ``metrics_``, ``chip_``; ``status_`` may be "unstable" (see
        ``warnings_``).

    Raises
    ------
    ConfigError, HwsimError, DivergenceError
        See :meth:`MGDTrainer.run`.
    TimelineProcessError
        An evaluation, checkpoint or drift callback failed.
    """
    if isinstance(config, (str, Path)):
        cfg = load_config(config, overrides)
    elif overrides:
        raise HwsimError("overrides apply to a config file; for a RunConfig use "
                         "cfg.with_overrides({'section.key': value})")
    else:
        cfg = config
    # learn.algorithm = "backprop": the digital baseline (hwsim/learn/backprop.py)
    make = BackpropTrainer if cfg.learn.algorithm == "backprop" else MGDTrainer
    trainer = make(cfg, out_dir=out_dir, progress=progress, force=force, stop=stop)
    return _train(trainer, out_dir, resume=False)


def resume_experiment(run_dir, overrides=(), *, progress=False, stop=None):
    """Continue the run in ``run_dir`` from its checkpoint, bit-identically.

    Only ``sim.steps``, ``sim.time_limit_s``, ``sim.target_accuracy`` and
    ``sim.stop_at_target`` may be overridden (to extend or stop a run); any other change would
    make a different run.

    Parameters
    ----------
    run_dir : path
    overrides : sequence of str
        ``"section.key=value"``, resumable keys only.
    progress : bool
    stop : hwsim.learn.trainer.StopToken, optional

    Returns
    -------
    MGDTrainer

    Raises
    ------
    HwsimError
        No checkpoint, a damaged one or one of another schema version, or an override of a
        key that defines the run.
    """
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_NAME).is_file():
        raise HwsimError(f"{run_dir}: not a run folder (no {CONFIG_NAME})")
    cfg = load_config(run_dir / CONFIG_NAME, overrides)  # typos get the nearest-key error
    for ov in overrides:
        key = ov.split("=", 1)[0].strip()
        if key not in RESUMABLE_KEYS and not key.startswith("hardware."):
            raise HwsimError(f"override {ov}: a resumed run may only change "
                             f"{', '.join(sorted(RESUMABLE_KEYS))} and the accounting keys "
                             "hardware.*; start a new run instead")
    make = BackpropTrainer if cfg.learn.algorithm == "backprop" else MGDTrainer
    trainer = make(cfg, out_dir=run_dir, progress=progress, stop=stop)
    return _train(trainer, run_dir, resume=True)
