"""The ``[mgd]`` config section: multiplexed gradient descent (perturbation, timing, target).

Registered in :class:`hwsim.config.RunConfig`; docs/mgd.md gives the algorithm.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from hwsim._schema import Schema, option
from hwsim.sections.limits import MAX_STEPS

__all__ = ["MgdConfig"]


@dataclass(frozen=True)
class MgdConfig(Schema, section="mgd"):
    """Multiplexed gradient descent: how parameters are perturbed and updated. Rule:
    `mode = "analog"` needs `tau_x > 1`: the cost high-pass filter restarts on every new
    input, so with one step per input the filtered cost change C~ is always 0 and nothing
    is learned."""

    perturbation: str = option("cdma", "Perturbation multiplexing scheme.",
                               choices=("cdma", "walsh", "fdma", "tdma"))
    mode: str = option("discrete", "Gradient estimation: per-step (discrete) or filtered (analog).",
                       choices=("discrete", "analog"))
    amplitude: float = option(0.05, "Δ: norm of the perturbation vector (Δ² divides the "
                              "estimate, so it must not underflow).", unit="weight units",
                              ge=1e-150, le=1e150)
    eta: float = option(1.0, "η: learning rate.", ge=0.0)
    tau_p: int = option(1, "τp: steps each perturbation code value is held.", unit="steps", ge=1,
                        le=MAX_STEPS)
    tau_x: int = option(1, "τx: steps each input sample is held.", unit="steps", ge=1,
                        le=MAX_STEPS)
    tau_theta: int = option(1, "τθ: steps between parameter updates.", unit="steps", ge=1,
                            le=MAX_STEPS)
    tau_hp: float = option(10.0, "High-pass filter time constant (analog mode only).",
                           unit="steps", gt=0.0)
    fdma_period: int = option(0, "FDMA code period; 0 = automatic: smallest even number ≥ 2·P+2 "
                              "for P perturbed parameters.", unit="code steps", ge=0, le=MAX_STEPS)
    target: str = option(
        "weights", "What the code perturbs: every weight and bias (weight perturbation, P "
        "quantities), or every neuron's pre-activation (node perturbation, M = Σ n_{l+1} "
        "nodes, with M in place of P in the code's amplitude and period); with nodes each "
        "synapse integrates its node's correlation times its own presynaptic activity "
        "(Williams 1992; Flower & Jabri 1993; Oripov et al. 2025). For ± codes E[G per step] "
        "is ∇C/P with weights and ∇C/M with nodes, so the same η moves further with nodes. "
        "Through the periphery the node code is added to each neuron's analog "
        "pre-activation before its ADC, and each synapse multiplies by its DAC's output.",
        choices=("weights", "nodes"))
    batch: int = option(
        1, "B, minibatch costs: every τx steps the next B samples of the data order are "
        "presented together, and each step's cost C(θ + θ̃) and the baseline C₀ are means "
        "over that batch (as the MGD authors' GPU code, with batch 1000), so E[G per step] "
        "is the batch-mean ∇C/P; B inferences per pass, each reading the devices and "
        "converting through the periphery anew with its own noise. 1 = one sample, as "
        "before. With mgd.target = \"nodes\" every sample's neurons get their own code "
        "(M·B perturbed quantities), so E[G] is the batch-mean ∇C/(M·B).",
        unit="samples", ge=1, le=1_000_000)
    estimate: str = option(
        "one_sided", 'How C̃ is formed: "one_sided" C̃ = C(θ + θ̃) − C₀, the baseline C₀ '
        'remeasured only when stale; "two_sided" C̃ = (C(θ + θ̃) − C(θ − θ̃))/2, the central '
        "difference of SPSA-style hardware demonstrations (Spall 1992): one more inference "
        "per step, no baseline, no O(Δ) bias. Two-sided needs discrete mode.",
        choices=("one_sided", "two_sided"))

    def _resolve(self, fail: Callable[..., NoReturn]) -> "MgdConfig":
        if self.estimate == "two_sided" and self.mode != "discrete":
            fail("estimate", 'must be "one_sided" in analog mode (mgd.mode = "analog"): the '
                 "analog cost line high-passes one continuous cost signal", "mode")
        if self.mode == "analog" and self.tau_x < 2:
            # Checked here, not only in Chip, so the message names the file or --set
            # argument and comes before the dataset is loaded.
            fail("tau_x", 'must be > 1 in analog mode (mgd.mode = "analog"): the cost '
                 "high-pass restarts on every new input, so with one step per input the "
                 "filtered cost change C~ is always 0 and nothing is learned", "mode")
        return self
