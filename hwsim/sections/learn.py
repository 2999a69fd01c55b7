"""The ``[learn]`` config section: the local update rule and the backprop baseline.

Registered in :class:`hwsim.config.RunConfig`; the rules are :mod:`hwsim.kernels.optimizer`.
"""

from dataclasses import dataclass

from hwsim._schema import Schema, option
from hwsim.sections.limits import MAX_STEPS

__all__ = ["LearnConfig"]


@dataclass(frozen=True)
class LearnConfig(Schema, section="learn"):
    """The local update rule applied to the MGD estimate G every update (hwsim/kernels/
    optimizer.py). Each rule keeps at most two numbers per synapse, so a chip can implement
    it next to the integrator; the state is checkpointed."""

    optimizer: str = option(
        "plain", 'The rule: "plain" Δθ = −η·G (McCaughan, Oripov et al. 2023); "momentum" '
        "heavy ball v ← β·v + G, Δθ = −η·v (Polyak 1964); \"nesterov\" v ← β·v + G, "
        "Δθ = −η·(G + β·v) (Sutskever et al. 2013); \"adam\" (Kingma & Ba 2015), the "
        "digital reference, with bias-corrected moments; \"sign\" Δθ = −sign_step·dw_min·"
        "sign(G) (signSGD, Bernstein et al. 2018: the one-pulse baseline; needs a pulsed "
        "device).",
        choices=("plain", "momentum", "nesterov", "adam", "sign"))
    momentum: float = option(0.9, "β of momentum and Nesterov, and Adam's β₁.", ge=0.0, lt=1.0)
    beta2: float = option(0.999, "Adam's β₂ (second-moment decay).", ge=0.0, lt=1.0)
    eps: float = option(1e-8, "Adam's ε.", unit="weight units", gt=0.0)
    clip: float = option(0.0, "Clip of each synapse's update request to [−clip, clip] "
                         "(a local limiter); 0 = off.", unit="weight units", ge=0.0)
    algorithm: str = option(
        "mgd", 'What trains the network: "mgd" the emulated chip (the [mgd] section); '
        '"backprop" the digital baseline: minibatch SGD on the exact gradient '
        "(backpropagation) of the same network, task, split and initialisation, with the "
        "rule above applied to the minibatch gradient (hwsim/learn/backprop.py). Backprop "
        "trains ideal float64 weights: it refuses a non-ideal chip.device, the periphery and "
        "sim.dtype = \"float32\"; it ignores [mgd] and sim.steps, sim.dt, sim.eval_every; "
        "its hardware time is not defined.", choices=("mgd", "backprop"))
    batch_size: int = option(32, "Backprop only: samples per minibatch (the last one of an "
                             "epoch may be smaller).", unit="samples", ge=1, le=MAX_STEPS)
    epochs: int = option(30, "Backprop only: passes over the training set, each in the "
                         "seeded order of MGD's data-order stream; one evaluation per epoch.",
                         unit="epochs", ge=1, le=10**6)
    lr: float = option(0.5, "Backprop only: learning rate η of the update Δθ = −η·(rule "
                       "applied to the minibatch mean gradient).", ge=0.0)
    sign_step: float = option(1.0, "Step of sign updates (optimizer = \"sign\").",
                              unit="dw_min", gt=0.0)
    write_threshold: float = option(
        0.0, "Threshold writes k (issue 12): each synapse adds its request to a residue and "
        "writes only when the residue reaches k·dw_min; what was written is subtracted and "
        "the rest kept (checkpointed). 0 = off (every request is written); needs a pulsed "
        "device.", unit="dw_min", ge=0.0)
    write_residue: str = option(
        "nominal", "What threshold writes subtract from the residue: \"nominal\" = pulses "
        "sent × dw_min; \"read_back\" = the change read back from the device (two reads per "
        "write, counted in readback_reads).", choices=("nominal", "read_back"))
