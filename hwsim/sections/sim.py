"""The ``[sim]`` config section: simulation clock, run length, evaluation and stopping.

Registered in :class:`hwsim.config.RunConfig`; the timeline is :mod:`hwsim.sim`.
"""

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from hwsim._schema import Schema, option
from hwsim.sections.limits import MAX_STEPS

__all__ = ["SimConfig"]


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
