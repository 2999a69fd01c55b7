"""Rules across config sections: the chip's signal path against the ``[mgd]`` section.

The chip checks the same rules when it is built (for library use without a config); here
they run when a :class:`hwsim.config.RunConfig` is built, raised as a
:class:`hwsim._schema.FieldError` on the dotted keys, so the loader names where each key
came from (the file or ``--set``) and the error comes before any data or kernel is loaded.
"""

import dataclasses
from typing import Any, NoReturn

from hwsim._schema import FieldError
from hwsim.sections.signal import SourceConfig

__all__ = ["check_cross_section"]


def check_cross_section(cfg: Any) -> None:
    """Check the rules that span sections of a run config.

    Parameters
    ----------
    cfg : RunConfig
        Its sections already validated each on its own.

    Raises
    ------
    FieldError
        (a :class:`~hwsim.exceptions.ConfigError`) on the first broken rule: a cost-line
        latency (L > 0 steps) or a nonideal perturbation source with ``mgd.target =
        "nodes"``; a nonideal integrator outside discrete mode with weight perturbation;
        ``chip.perturbation.p_plus`` without CDMA; the ``fdma_`` keys without FDMA.
    """

    def broken(key: str, value: Any, requirement: str, *related: str) -> NoReturn:
        raise FieldError(key, value, requirement, related)

    mgd, line, integ, src = cfg.mgd, cfg.chip.cost_line, cfg.chip.integrator, \
        cfg.chip.perturbation
    if mgd.target == "nodes":
        if line.latency > 0 or line.latency_s / cfg.sim.dt > 1e-6:  # L > 0 steps
            key = "latency" if line.latency > 0 else "latency_s"
            broken(f"chip.cost_line.{key}", getattr(line, key), 'needs mgd.target = '
                   '"weights" (node perturbation multiplies by the current presynaptic '
                   "activity, which a delayed line does not match)", "mgd.target")
        if src != SourceConfig():
            key = next(f.name for f in dataclasses.fields(src)
                       if getattr(src, f.name) != f.default)
            broken(f"chip.perturbation.{key}", getattr(src, key), "a nonideal perturbation "
                   'source needs mgd.target = "weights"', "mgd.target")
    # The keys that make the integrator nonideal (lsb alone does not: it needs bits).
    on = next((k for k in ("tau_leak", "saturation", "offset", "gain_dtod", "bits",
                           "reset_keep") if getattr(integ, k)), None)
    if on and (mgd.mode != "discrete" or mgd.target != "weights"):
        broken(f"chip.integrator.{on}", getattr(integ, on), "the nonideal integrator needs "
               'mgd.mode = "discrete" and mgd.target = "weights"', "mgd.mode", "mgd.target")
    if src.p_plus != 0.5 and mgd.perturbation != "cdma":
        broken("chip.perturbation.p_plus", src.p_plus, 'a code bias needs mgd.perturbation '
               '= "cdma"', "mgd.perturbation")
    for key in ("fdma_freq_dtod", "fdma_phase_jitter"):
        if getattr(src, key) and mgd.perturbation != "fdma":
            broken(f"chip.perturbation.{key}", getattr(src, key), "needs mgd.perturbation "
                   '= "fdma"', "mgd.perturbation")
