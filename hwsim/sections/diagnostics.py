"""The ``[diagnostics]`` config section (gradient diagnostics at evaluation ticks).

One module of :mod:`hwsim.sections` (:mod:`hwsim.config` registers it in
:class:`~hwsim.config.RunConfig`); the measurement is :mod:`hwsim.learn.diagnostics`.
"""

from dataclasses import dataclass

from hwsim._schema import Schema, option

MAX_WINDOW = 10**7


@dataclass(frozen=True)
class DiagnosticsConfig(Schema, section="diagnostics"):
    """Gradient diagnostics, measured at every evaluation tick and written to metrics.csv
    (docs/algorithms.md, "Gradient diagnostics"). At a tick a copy of the chip, started from
    the tick's exact state (codes, sample order, noise coordinates), runs `window` steps with
    θ frozen (η = 0, no update, no write); the per-step estimates g_n it integrates are
    compared with the true gradient of the emulated network at the tick's θ (analytic
    backpropagation through the same forward pass: read weights, weight_scale, periphery;
    noise off). Training itself is untouched: a run's other columns are bit-identical with
    and without diagnostics. Columns (only when enabled): `grad_cos`, `grad_angle_deg`
    between Σ g_n and ∇C; `grad_snr` = |mean_n s_n| / std_n s_n of the projections
    s_n = g_n·∇C/‖∇C‖ (std with 1/(n−1)); with `mgd.target = "nodes"` also `node_cos`,
    `node_angle_deg`, `node_snr`, the same for the node estimates against ∂C/∂z. Not with
    an analytic cost, nor with `learn.algorithm = "backprop"`."""

    enabled: bool = option(False, "Measure the diagnostics (extra metrics.csv columns). Off: "
                           "no column and no cost.")
    window: int = option(200, "Steps of the frozen-θ probe at each tick: the window the "
                         "estimate is integrated over and the SNR is taken across.",
                         unit="steps", ge=2, le=MAX_WINDOW)
    samples: str = option(
        "window", 'Samples of the true gradient: "window" the mean of ∇C_i over the '
        "window's steps (each step's presented sample, so a sample held τx steps counts τx "
        'times: what the estimate averages); "train" the mean over the whole training set.',
        choices=("window", "train"))
    angle: bool = option(True, "Write the cosine and the angle (degrees) between the "
                         "integrated estimate and the true gradient.")
    snr: bool = option(True, "Write the gradient SNR of the per-step estimates.")
    quantizer_gradient: str = option(
        "exact", "Derivative of a converter's rounding (chip.inp_res, chip.out_res > 0) in "
        'the true gradient: "exact" 0 (nothing upstream of a quantising converter has a '
        'gradient), "straight_through" 1 inside the range (Bengio et al. 2013). Clipping '
        "always has derivative 1 inside the range and 0 outside.",
        choices=("exact", "straight_through"))
