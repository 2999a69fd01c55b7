"""What the hardware is: network topology, synapse devices, perturbation source, the chip."""

from hwsim.chip.chip import Chip
from hwsim.chip.network import MLP

__all__ = ["Chip", "MLP"]
