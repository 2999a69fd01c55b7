"""Hardware energy and time of a run: a pure function of its event counters and ``[hardware]``.

The engine counts every event that costs energy or time
(:data:`hwsim.chip.chip.COUNTER_COLUMNS`: the counters of :mod:`hwsim.kernels.counters`
plus the device write and verify pulses). This module prices them with a
:class:`hwsim.hwconfig.HardwareConfig`:

* energy: E = Σ_k n_k · e_k over the event kinds k of :data:`ENERGY_EVENTS` (one per
  counter, each with its per-event energy key);
* hardware time: T = steps·dt + (inferences − steps)·extra_inference_s
  + cost_broadcasts·broadcast_latency_s + T_write (when writes stall inference)
  + write_verify_pulses·(write_pulse_s + verify_read_s), with
  T_write = write_pulse_s · (up + down) for serial writes and
  T_write = write_pulse_s · max(updates_sent · n_rows, (up + down) · n_rows / n_devices)
  for row-parallel writes (rows one after another, a row's devices at once: at least one
  pulse width per row per update, and at least the row's pulses spread over its devices).

Both the trainer (summary.json) and ``hwsim energy`` call :func:`energy_summary`, so a
summary and a recomputation agree. Model, defaults and sources: docs/energy.md.
"""

import math
from collections.abc import Mapping, Sequence

from hwsim.hwconfig import HardwareConfig

__all__ = ["ENERGY_EVENTS", "TIME_PARTS", "energy_breakdown", "time_breakdown", "write_busy_s",
           "crossbar_rows", "target_row", "energy_summary", "breakdown_table"]

#: (event kind = counter name, [hardware] key of its energy per event, what one event is).
ENERGY_EVENTS = (
    ("steps", "step_j", "a hardware step (clock, control)"),
    ("perturbed_inferences", "inference_j", "a perturbed inference (neurons, control)"),
    ("baseline_inferences", "inference_j", "a baseline inference for C₀ (neurons, control)"),
    ("macs", "mac_j", "a multiply-accumulate beyond its device read"),
    ("device_reads", "read_j", "a synapse device cell read"),
    ("transfer_reads", "read_j", "a Tiki-Taka read of a fast-array device (chip.transfer)"),
    ("dac_conversions", "dac_j", "a DAC conversion"),
    ("adc_conversions", "adc_j", "an ADC conversion"),
    ("cost_broadcasts", "broadcast_j", "a value of C~ on the global cost line"),
    ("code_generations", "code_j", "a per-parameter code value"),
    ("integrator_ops", "integrator_j", "a local correlation C~·θ~ into G"),
    ("synapse_multiplies", "synapse_multiply_j", "a local product g_i·x_j (node perturbation)"),
    ("update_requests", "update_request_j", "a per-parameter update request Δθ"),
    ("updates_sent", "update_sent_j", "an update sent to the synapses"),
    ("write_pulses_up", "write_pulse_up_j", "a potentiating write pulse"),
    ("write_pulses_down", "write_pulse_down_j", "a depressing write pulse"),
    ("write_verify_pulses", "verify_pulse_j", "a write-verify pulse and its verify read"),
    ("refreshes", "refresh_j", "a refresh of the one-sided pairs"),
    ("transfer_resets", "write_pulse_down_j", "a Tiki-Taka hard reset of a fast-array device "
     "(chip.transfer.reset_prob), priced as one depressing pulse"),
)

#: Parts of the hardware time (keys of :func:`time_breakdown`).
TIME_PARTS = ("steps", "extra_inferences", "cost_broadcasts", "write_pulses",
              "write_verify_pulses")


def _count(counters: Mapping, name: str) -> int:
    v = counters.get(name, 0)
    return 0 if v is None or (isinstance(v, float) and math.isnan(v)) else int(v)


def energy_breakdown(counters: Mapping, hw: HardwareConfig) -> dict:
    """Energy per event kind.

    Parameters
    ----------
    counters : Mapping
        Cumulative event counts by counter name (summary.json ``counters``, or a metrics.csv
        row); a missing counter counts 0.
    hw : HardwareConfig

    Returns
    -------
    dict
        ``{kind: joules}`` in the order of :data:`ENERGY_EVENTS`: count × energy per event.
    """
    return {kind: _count(counters, kind) * getattr(hw, key) for kind, key, _ in ENERGY_EVENTS}


def crossbar_rows(sizes: Sequence[int]) -> int:
    """Crossbar rows of an MLP: each layer's inputs plus its bias row, Σ_l (n_l + 1).

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first (``network.sizes``), or for a layer network the fan-in
        of each weight layer then the output width
        (:func:`hwsim.chip.layers.crossbar_widths`).

    Returns
    -------
    int
        The rows a row-parallel write programs one after another (layers in turn).
    """
    return sum(int(n) + 1 for n in sizes[:-1])


def time_breakdown(counters: Mapping, hw: HardwareConfig, dt: float, sizes: Sequence[int]) -> dict:
    """Hardware time per part (seconds), the model of the module docstring.

    Parameters
    ----------
    counters : Mapping
        Cumulative event counts (as :func:`energy_breakdown`).
    hw : HardwareConfig
    dt : float
        ``sim.dt``, seconds per step (one perturbed inference and its cost broadcast).
    sizes : sequence of int
        ``network.sizes``, for the crossbar rows of a row-parallel write.

    Returns
    -------
    dict
        ``{part: seconds}`` for :data:`TIME_PARTS`; ``write_pulses`` is 0 when
        ``hw.write_stalls`` is false (see :func:`write_busy_s`). Their sum is the hardware time.
    """
    return {
        "steps": _count(counters, "steps") * dt,
        "extra_inferences": (_count(counters, "perturbed_inferences")
                             + _count(counters, "baseline_inferences")
                             - _count(counters, "steps")) * hw.extra_inference_s,
        "cost_broadcasts": _count(counters, "cost_broadcasts") * hw.broadcast_latency_s,
        "write_pulses": write_busy_s(counters, hw, sizes) if hw.write_stalls else 0.0,
        "write_verify_pulses": (_count(counters, "write_verify_pulses")
                                * (hw.write_pulse_s + hw.verify_read_s)),
    }


def write_busy_s(counters: Mapping, hw: HardwareConfig, sizes: Sequence[int]) -> float:
    """Time the write circuits spend on training updates (seconds), stalling or not.

    Serial: ``write_pulse_s · pulses``. Row-parallel: ``write_pulse_s · max(updates_sent ·
    n_rows, pulses · n_rows / n_devices)``, n_rows = :func:`crossbar_rows`, n_devices = device
    reads per inference (every cell is read once per inference). No pulses (ideal synapses):
    0. The row-parallel figure is exact when every device of a row gets the same number of
    pulses per update and a lower bound otherwise.
    """
    pulses = _count(counters, "write_pulses_up") + _count(counters, "write_pulses_down")
    if pulses == 0:
        return 0.0
    if hw.write_mode == "serial":
        return pulses * hw.write_pulse_s
    rows = crossbar_rows(sizes)
    inferences = _count(counters, "perturbed_inferences") + _count(counters, "baseline_inferences")
    devices = _count(counters, "device_reads") / inferences if inferences else 0
    per_row_slots = pulses * rows / devices if devices else 0.0
    return hw.write_pulse_s * max(_count(counters, "updates_sent") * rows, per_row_slots)


def target_row(rows: Sequence[Mapping], target_accuracy: float):
    """The first evaluation row whose ``test_accuracy`` reaches the target, or None."""
    return next((r for r in rows if r["test_accuracy"] >= target_accuracy), None)


def energy_summary(cfg, counters: Mapping, rows: Sequence[Mapping]) -> dict:
    """The summary.json keys of the energy and time model.

    Parameters
    ----------
    cfg : hwsim.config.RunConfig
        Its ``hardware``, ``sim.dt``, ``sim.target_accuracy`` and ``network`` (the crossbar
        rows, :func:`hwsim.chip.layers.crossbar_widths`) are used.
    counters : Mapping
        The run's final cumulative counters.
    rows : sequence of Mapping
        metrics.csv rows (cumulative counter columns); the first reaching the target gives
        the counts at the target.

    Returns
    -------
    dict
        ``energy_j``, ``energy_breakdown_j`` (by event kind), ``hardware_time_total_s``,
        ``hardware_time_breakdown_s`` (whole run), ``write_busy_s`` (write-circuit time,
        stalling or not), ``energy_to_target_j``, ``hardware_time_to_target_s`` (None when
        the target was not reached).
    """
    from hwsim.chip.layers import crossbar_widths  # the chip's kernels load only when pricing

    hw, dt = cfg.hardware, cfg.sim.dt
    sizes = crossbar_widths(cfg.network, cfg.task.name)
    e = energy_breakdown(counters, hw)
    t = time_breakdown(counters, hw, dt, sizes)
    hit = target_row(rows, cfg.sim.target_accuracy)
    return {
        "energy_j": sum(e.values()),
        "energy_breakdown_j": e,
        "hardware_time_total_s": sum(t.values()),
        "hardware_time_breakdown_s": t,
        "write_busy_s": write_busy_s(counters, hw, sizes),
        "energy_to_target_j": (sum(energy_breakdown(hit, hw).values()) if hit else None),
        "hardware_time_to_target_s": (sum(time_breakdown(hit, hw, dt, sizes).values())
                                      if hit else None),
    }


def breakdown_table(counters: Mapping, hw: HardwareConfig) -> list:
    """Rows of the energy table of ``hwsim energy``.

    Returns
    -------
    list of tuple
        ``(kind, count, joules per event, total joules, share of the total)`` per event kind
        of :data:`ENERGY_EVENTS`; share is 0 when the total is 0.
    """
    e = energy_breakdown(counters, hw)
    total = sum(e.values())
    return [(kind, _count(counters, kind), getattr(hw, key), e[kind],
             e[kind] / total if total else 0.0) for kind, key, _ in ENERGY_EVENTS]
