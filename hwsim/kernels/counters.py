"""Stage 8, event counters: every training event that costs energy or time, counted exactly.

One record per chip (:data:`COUNTERS`), incremented by the stages as the events happen. The
per-inference counts (multiply-accumulates, device reads, converter conversions) are the
network's fixed numbers per inference (:class:`CounterParams`), added once per inference.
Write pulses, write-verify programming and refreshes are counted by the device kernels
(:data:`hwsim.kernels.devices.STAT_NAMES`) and reported next to these. Evaluation ticks are
measurements of the emulator, not training events: they are not counted here.
"""

from collections import namedtuple

import numpy as np

#: (name, what one count is). Order is the column order of metrics.csv and summary.json.
COUNTER_DOCS = (
    ("steps", "hardware steps (one perturbed inference each)"),
    ("perturbed_inferences", "inferences with θ + θ̃ applied"),
    ("baseline_inferences", "inferences of the unperturbed network for C₀ (only when stale)"),
    ("macs", "weight multiply-accumulates in training inferences (Σ n_l·n_{l+1} per MLP inference)"),
    ("device_reads", "synapse device reads in training inferences (every device cell read once per inference)"),
    ("dac_conversions", "DAC conversions on layer inputs in training inferences (0 without a DAC)"),
    ("adc_conversions", "ADC conversions of pre-activations in training inferences (0 without an ADC)"),
    ("cost_broadcasts", "values of C̃ sent on the global cost line (one per step)"),
    ("cost_clipped", "broadcasts of C̃ clipped by the cost line's quantiser range "
                     "(chip.cost_line.bits > 0; else 0)"),
    ("code_generations", "per-parameter code values generated (P per new code period)"),
    ("integrator_ops", "local correlations C̃·θ̃ of the perturbed quantities (P per step; M with node perturbation, M·B with B per-sample node codes)"),
    ("synapse_multiplies", "node perturbation: local products g_i·x_j into each synapse's G (P per step; P·B with a minibatch of B)"),
    ("update_requests", "per-parameter update requests Δθ computed by the optimizer (P per update)"),
    ("updates_sent", "weight updates sent to the synapses (discrete: every τθ; analog: every "
                     "step; none when η = 0)"),
    ("readback_reads", "threshold writes with write_residue = read_back: device reads of a "
                       "writing synapse before and after its write (2 per write)"),
    ("pert_writes", "write-based perturbation (device.perturbation_by_write): synapse "
                    "perturbation writes with a non-zero change (code in, code out, or the "
                    "change to the next code; else 0)"),
    ("pert_clipped", "perturbation writes in which a pulse hit a device bound (the written "
                     "perturbation was clipped)"),
    ("pert_zero_pulses", "perturbation writes whose change rounded to zero pulses (nothing "
                         "written: |Δ| < dw_min/2 with nearest rounding, or a stochastic 0)"),
    ("noise_readback_reads", "write-noise perturbation source (chip.perturbation.kind = "
                             "write_noise): device reads before and after each period's pulse "
                             "pair (2 per device per code period; else 0)"),
    ("transfers", "Tiki-Taka transfers from the fast array A to the slow array C "
                  "(chip.transfer; one per transfer_every updates; else 0)"),
    ("transfer_reads", "Tiki-Taka: device reads of A's transferred columns (each weight of "
                       "a column read once per transfer; else 0)"),
    ("transfer_resets", "Tiki-Taka: hard resets of a device of A after its column was "
                        "transferred (chip.transfer.reset_prob; one per weight; else 0)"),
    ("transfer_pulses_up", "Tiki-Taka: potentiating pulses written into C by transfers "
                           "(included in write_pulses_up; else 0)"),
    ("transfer_pulses_down", "Tiki-Taka: depressing pulses written into C by transfers "
                             "(included in write_pulses_down; else 0)"),
)
COUNTER_NAMES = tuple(n for n, _ in COUNTER_DOCS)
COUNTERS = np.dtype([(n, np.int64) for n in COUNTER_NAMES])

#: Fixed counts per inference: MACs, device reads, DAC and ADC conversions; ``batch`` the
#: inferences of one pass (a minibatch of B samples is B inferences).
CounterParams = namedtuple("CounterParams", "macs reads dacs adcs batch", defaults=(np.int64(1),))


def counters() -> np.ndarray:
    """A zeroed counter record (shape (1,))."""
    return np.zeros(1, COUNTERS)


def as_dict(rec) -> dict:
    """The counter record as ``{name: int}``."""
    return {n: int(rec[0][n]) for n in COUNTER_NAMES}
