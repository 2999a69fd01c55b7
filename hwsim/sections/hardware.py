"""The ``[hardware]`` config section: the time and energy a chip spends on each event.

A pure accounting model: it never changes what the emulator computes (a run's trajectory is
the same whatever these keys are, so they are left out of the run's defining hash and a
checkpoint resumes whatever they say; ``hwsim energy RUN_DIR --set hardware.KEY=VALUE``
reprices a finished run). :mod:`hwsim.energy` turns the event counters of a run
(:data:`hwsim.kernels.counters.COUNTER_DOCS` and the device write/verify counts) and this
section into joules and hardware seconds; docs/energy.md gives the model, the source and the
arithmetic of every default.

Sources of the defaults: DNN+NeuroSim V2.1 (github.com/neurosim/DNN_NeuroSim_V2.1,
``Training_pytorch/NeuroSIM/Param.cpp``: technode 32 nm, resistanceOn = 240 kΩ,
writeVoltage = 4 V, writePulseWidth = 50 ns, readVoltage = 0.5 V, readPulseWidth = 10 ns,
levelOutput = 64, i.e. 6-bit conversions), the framework of Peng, Huang, Jiang, Lu and Yu,
*IEEE TCAD* 40(11), 2306-2319 (2021), doi:10.1109/TCAD.2020.3043731. Values marked
"placeholder" have no measured source; their doc gives the estimate behind them.
"""

from dataclasses import dataclass

from hwsim._schema import Schema, option

__all__ = ["HardwareConfig", "WRITE_MODES"]

#: How a weight update is written: all devices of one crossbar row at once, or one device
#: after another.
WRITE_MODES = ("row_parallel", "serial")


@dataclass(frozen=True)
class HardwareConfig(Schema, section="hardware"):
    """Hardware time and energy model (docs/energy.md): joules and seconds per counted event.
    Accounting only: it never changes a run's trajectory (it is not part of the run's
    defining hash); `hwsim energy RUN_DIR --set hardware.KEY=VALUE` reprices a finished run.
    Time: one step lasts `sim.dt` (one perturbed inference, its conversions and its cost
    broadcast); the keys below add what that clock leaves out (further inferences,
    broadcast latency, write pulses when writes stall inference, write-verify programming)."""

    # -- time ----------------------------------------------------------------------------
    extra_inference_s: float = option(
        0.0, "Extra time of each inference beyond the first of a step: the baseline C₀ "
        "(counter baseline_inferences) or the minus pass of mgd.estimate = \"two_sided\" "
        "(perturbed_inferences above steps). 0 = within the step, as the MGD papers count "
        "time (one step per perturbed inference); set it to sim.dt to charge a full inference.",
        unit="s", ge=0.0)
    broadcast_latency_s: float = option(
        0.0, "Extra latency of each cost broadcast (counter cost_broadcasts) beyond the step: "
        "the integrators wait for C~ before the next step. 0 = the broadcast fits in sim.dt.",
        unit="s", ge=0.0)
    write_pulse_s: float = option(
        50e-9, "Width of one write pulse (NeuroSim V2.1 RRAM: 50 ns).", unit="s", ge=0.0)
    write_mode: str = option(
        "row_parallel", "How an update is written: \"row_parallel\" = crossbar rows one after "
        "another, every device of a row pulsed at once (at least one pulse width per row per "
        "update, more when the row's pulses do not fit: see docs/energy.md); \"serial\" = one "
        "pulse after another (pulse width × pulses).", choices=WRITE_MODES)
    write_stalls: bool = option(
        True, "Whether inference waits while an update is written (true), or writes overlap "
        "inference and add no time (false; their busy time is still reported).")
    verify_read_s: float = option(
        10e-9, "Read after each write-verify pulse (counter write_verify_pulses: initial "
        "programming and refreshes, always serial and stalling). NeuroSim V2.1 read: 10 ns.",
        unit="s", ge=0.0)

    # -- energy per event -----------------------------------------------------------------
    read_j: float = option(
        10.4e-15, "Per device read (counter device_reads; the analog MAC of the cell): "
        "V²/R·t = (0.5 V)²/240 kΩ × 10 ns = 10.4 fJ (NeuroSim V2.1).", unit="J", ge=0.0)
    mac_j: float = option(
        0.0, "Per multiply-accumulate (counter macs) beyond the device read: 0 in a crossbar, "
        "where the read is the MAC; set it for a digital MAC.", unit="J", ge=0.0)
    write_pulse_up_j: float = option(
        3.33e-12, "Per potentiating write pulse (counter write_pulses_up): V²/R·t = "
        "(4 V)²/240 kΩ × 50 ns = 3.33 pJ (NeuroSim V2.1).", unit="J", ge=0.0)
    write_pulse_down_j: float = option(
        3.33e-12, "Per depressing write pulse (counter write_pulses_down): same as "
        "write_pulse_up_j (NeuroSim V2.1 uses one write voltage).", unit="J", ge=0.0)
    verify_pulse_j: float = option(
        3.34e-12, "Per write-verify pulse (counter write_verify_pulses): one write pulse plus "
        "one verify read, 3.33 pJ + 0.0104 pJ (NeuroSim V2.1).", unit="J", ge=0.0)
    adc_j: float = option(
        0.12e-12, "Per ADC conversion (counter adc_conversions): 6-bit SAR ADC, 0.12 pJ "
        "(NeuroSim V2.1).", unit="J", ge=0.0)
    dac_j: float = option(
        0.12e-12, "Per DAC conversion (counter dac_conversions). Placeholder: taken equal to "
        "the 6-bit SAR ADC.", unit="J", ge=0.0)
    broadcast_j: float = option(
        1e-12, "Per cost broadcast (counter cost_broadcasts). Placeholder: charging a "
        "chip-wide 1 pF line to 1 V, C·V² = 1 pJ.", unit="J", ge=0.0)
    code_j: float = option(
        1e-15, "Per code value generated (counter code_generations). Placeholder: one "
        "flip-flop toggle of an LFSR, ≈ 1 fJ at 32 nm.", unit="J", ge=0.0)
    integrator_j: float = option(
        10e-15, "Per local integrator operation C~·θ~ (counter integrator_ops). Placeholder: "
        "charging a 10 fF integration capacitor to 1 V, C·V² = 10 fJ.", unit="J", ge=0.0)
    synapse_multiply_j: float = option(
        10e-15, "Per local product g_i·x_j of node perturbation (counter "
        "synapse_multiplies). Placeholder: as integrator_j.", unit="J", ge=0.0)
    update_request_j: float = option(
        10e-15, "Per update request Δθ = −η·G (counter update_requests). Placeholder: as "
        "integrator_j.", unit="J", ge=0.0)
    update_sent_j: float = option(
        0.0, "Per update sent to the synapses (counter updates_sent), beyond its write "
        "pulses. 0 = not modelled.", unit="J", ge=0.0)
    inference_j: float = option(
        0.0, "Per inference, perturbed or baseline (counters perturbed_inferences, "
        "baseline_inferences), beyond its reads and conversions (neurons, control). "
        "0 = not modelled.", unit="J", ge=0.0)
    step_j: float = option(
        0.0, "Per hardware step (counter steps): clock and control. 0 = not modelled.",
        unit="J", ge=0.0)
    refresh_j: float = option(
        0.0, "Per refresh of the one-sided pairs (counter refreshes), beyond its verify "
        "pulses. 0 = not modelled.", unit="J", ge=0.0)
