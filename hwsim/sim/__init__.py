"""The discrete-event timeline (SimPy) on which the chip runs."""

from hwsim.sim.timeline import Timeline, periodic

__all__ = ["Timeline", "periodic"]
