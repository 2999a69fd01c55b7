"""One call from a config file to a finished run folder (what ``hwsim run`` does)."""

from pathlib import Path

from hwsim.analysis.plots import learning_curve
from hwsim.config import load_config
from hwsim.exceptions import DivergenceError, HwsimError
from hwsim.learn.trainer import RESUMABLE_KEYS, MGDTrainer
from hwsim.runs import CONFIG_NAME, CURVE_NAME


def _finish(trainer, out):
    cfg = trainer.config
    if out is not None and getattr(trainer, "metrics_", None) and Path(out).is_dir():
        held_out = trainer.dataset_.held_out
        learning_curve(trainer.metrics_, Path(out) / CURVE_NAME, target=cfg.sim.target_accuracy,
                       held_out=held_out,
                       title=f"{cfg.task.name} {list(cfg.network.sizes)}, {cfg.mgd.perturbation} "
                             f"MGD, seed {cfg.seed}")


def _train(trainer, out, resume):
    try:
        trainer.run(resume=resume)
    except (DivergenceError, KeyboardInterrupt):
        _finish(trainer, out)
        raise
    _finish(trainer, out)
    return trainer


def run_experiment(config, out_dir=None, overrides=(), *, progress=False, force=False):
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
        Progress bar; replace a run already in ``out_dir``.

    Returns
    -------
    MGDTrainer
        With ``summary_``, ``metrics_``, ``chip_``.

    Raises
    ------
    ConfigError, HwsimError, DivergenceError
    """
    if isinstance(config, (str, Path)):
        cfg = load_config(config, overrides)
    elif overrides:
        raise HwsimError("overrides apply to a config file; for a RunConfig use "
                         "cfg.with_overrides({'section.key': value})")
    else:
        cfg = config
    trainer = MGDTrainer(cfg, out_dir=out_dir, progress=progress, force=force)
    return _train(trainer, out_dir, resume=False)


def resume_experiment(run_dir, overrides=(), *, progress=False):
    """Continue the run in ``run_dir`` from its checkpoint, bit-identically.

    Only ``sim.steps``, ``sim.time_limit_s``, ``sim.target_accuracy`` and
    ``sim.stop_at_target`` may be overridden (to extend or stop a run); any other change would
    make a different run.

    Raises
    ------
    HwsimError
        No checkpoint, or an override of a key that defines the run.
    """
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_NAME).is_file():
        raise HwsimError(f"{run_dir}: not a run folder (no {CONFIG_NAME})")
    cfg = load_config(run_dir / CONFIG_NAME, overrides)  # typos get the nearest-key error
    for ov in overrides:
        key = ov.split("=", 1)[0].strip()
        if key not in RESUMABLE_KEYS:
            raise HwsimError(f"--set {ov}: a resumed run may only change "
                             f"{', '.join(sorted(RESUMABLE_KEYS))}; start a new run instead")
    trainer = MGDTrainer(cfg, out_dir=run_dir, progress=progress)
    return _train(trainer, run_dir, resume=True)
