"""Discrete-event timeline: SimPy owns the slow events, a kernel advances the chip between them.

The SimPy clock counts integer hardware steps (ticks of ``dt``), so hardware time is always
``step * dt`` from an integer and never a sum of floats (field case E2): 10**7 steps of
``dt = 0.1`` s land exactly on the same events as step counting says. Processes are plain
generators yielding ``env.timeout(n_steps)``. Before SimPy processes an event at step t, the
chip is advanced to t by :func:`advance` in chunks of at most ``max_chunk`` steps; chunking
never changes results, because the chip's state is complete at every step.

Pending events are derivable: every process here is periodic in steps, so re-creating the
processes on a timeline started at ``start_step`` reproduces the same future events (this is
what makes resume bit-identical without pickling SimPy's queue).
"""

import simpy


def periodic(env, every, callback, *, phase=0):
    """Process: call ``callback(step)`` at every step that is ``phase`` mod ``every`` after now.

    Starting at step s, the first call is at the next such step strictly after s.
    """
    while True:
        now = int(env.now)
        nxt = now + every - ((now - phase) % every)
        yield env.timeout(nxt - now)
        callback(int(env.now))


class Timeline:
    """A SimPy environment in hardware steps, driving a chip between events.

    Parameters
    ----------
    dt : float
        Seconds of hardware time per step (> 0).
    advance : callable(n_steps) -> int
        Advances the chip by ``n_steps``; a non-zero return (e.g. a non-finite cost) stops
        the timeline at the chip's current step.
    chip_step : callable() -> int
        The chip's own step counter (it may stop short of the request on divergence).
    start_step : int
        Step at which the timeline starts (0, or a checkpoint's step on resume).
    max_chunk : int
        Longest single kernel call, so progress and Ctrl-C are handled promptly.
    on_chunk : callable(step) or None
        Called after each kernel call (progress bars).
    """

    def __init__(self, dt, advance, chip_step, *, start_step=0, max_chunk=100_000, on_chunk=None):
        self.dt = float(dt)
        self.env = simpy.Environment(initial_time=int(start_step))
        self._advance = advance
        self._chip_step = chip_step
        self.max_chunk = int(max_chunk)
        self.on_chunk = on_chunk
        self.stop_reason = None
        self.status = 0

    @property
    def step(self) -> int:
        """The SimPy clock: the integer hardware step of the event being processed."""
        return int(self.env.now)

    def seconds(self, step=None) -> float:
        """Hardware time in seconds of ``step`` (default: now), computed as step * dt."""
        return (self.step if step is None else int(step)) * self.dt

    def process(self, generator):
        """Register a SimPy process (a plain generator over ``self.env``)."""
        return self.env.process(generator)

    def stop(self, reason: str) -> None:
        """Ask the timeline to stop after the current event (target reached, diverged, ...)."""
        self.stop_reason = reason

    def _advance_to(self, target: int) -> bool:
        while self._chip_step() < target:
            n = min(target - self._chip_step(), self.max_chunk)
            status = self._advance(n)
            if self.on_chunk is not None:
                self.on_chunk(self._chip_step())
            if status:
                self.status = status
                self.stop_reason = "diverged"
                return False
        return True

    def run(self, until_step: int) -> int:
        """Process events up to and including ``until_step``; returns the chip's final step.

        Events scheduled exactly at ``until_step`` fire once; the chip ends at ``until_step``
        unless a callback called :meth:`stop` or the chip reported a non-zero status.
        """
        until_step = int(until_step)
        while self.stop_reason is None:
            nxt = self.env.peek()
            if nxt > until_step:
                self._advance_to(until_step)
                break
            if not self._advance_to(int(nxt)):
                break
            self.env.step()
        return self._chip_step()
