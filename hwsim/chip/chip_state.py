"""What a chip reports and saves: event counters, device statistics, the cost line's last
values, and the named state a checkpoint holds (case D9: a round trip continues bit for bit).

Mixed into :class:`hwsim.chip.chip.Chip`.
"""

import numpy as np

from hwsim.chip import transfer as _transfer
from hwsim.exceptions import ConfigError
from hwsim.kernels import cost_line as _cl
from hwsim.kernels import counters as _cnt

__all__ = ["ChipStateMixin"]


class ChipStateMixin:
    """Counters, statistics and checkpoint state of :class:`hwsim.chip.chip.Chip`."""

    def device_stats(self) -> dict:
        """Counters of the synapse devices (pulses, clipped writes, ...); empty when ideal.
        With Tiki-Taka transfer, the sums over both arrays A and C."""
        if not self.has_devices:
            return {}
        st = dict(self.device.stats)
        if self.device_c is not None:
            # C holds θ0; A was initialised to θ0 too before its reset to 0, so its init clips
            # are not the run's (case D1: the count is the clips of the weights the run starts with).
            own = {"updates": st["updates"], "init_clipped": 0}
            st = {k: own.get(k, v) + self.device_c.stats[k] if k != "updates" else v
                  for k, v in st.items()}
        return st

    def counters(self) -> dict:
        """Event counters of training so far (name → int).

        :data:`hwsim.kernels.counters.COUNTER_DOCS`, then :data:`DEVICE_COUNTER_DOCS` from the
        device kernels (0 on ideal synapses)."""
        out = _cnt.as_dict(self.state.counters)
        st = self.device_stats()
        out["write_pulses_up"] = st.get("pulses_up", 0)
        out["write_pulses_down"] = st.get("pulses_down", 0)
        out["write_verify_pulses"] = st.get("program_pulses", 0) + st.get("refresh_pulses", 0)
        out["refreshes"] = st.get("refreshes", 0)
        out["reference_pulses"] = st.get("reference_pulses", 0)
        return out

    def cost_clipped_fraction(self) -> float:
        """Share of the cost-line broadcasts the quantiser clipped (0.0 before any step)."""
        c = self.state.counters[0]
        n = int(c["cost_broadcasts"])
        return int(c["cost_clipped"]) / n if n else 0.0

    def perturbation_clipped_fraction(self) -> float:
        """Share of the perturbation writes (write-based perturbation) in which a pulse hit a
        device bound: ``pert_clipped / pert_writes`` (0.0 without perturbation writes)."""
        c = self.state.counters[0]
        n = int(c["pert_writes"])
        return int(c["pert_clipped"]) / n if n else 0.0

    def perturbation_zero_fraction(self) -> float:
        """Share of the perturbation writes that rounded to zero pulses:
        ``pert_zero_pulses / pert_writes`` (0.0 without perturbation writes)."""
        c = self.state.counters[0]
        n = int(c["pert_writes"])
        return int(c["pert_zero_pulses"]) / n if n else 0.0

    @property
    def cost_received(self) -> float:
        """The value of C̃ the synapses received at the last step (after the nonideal line;
        equal to ``cost_line["ctilde"]`` on an ideal line)."""
        if self._cost_p.nonideal:
            return float(self.state.line_mem[_cl.LINE_RECEIVED])
        return float(self.state.cost_line[0]["ctilde"])

    @property
    def cost_line(self) -> dict:
        """The cost line's last values: ``c0``, ``c``, ``ctilde``, ``cprev``, ``stale``."""
        rec = self.state.cost_line[0]
        return {k: rec[k].item() for k in _cl.COST_LINE_STATE.names}

    def nonfinite_component(self) -> str:
        """Name the first non-finite state entry (for divergence messages), or "cost"."""
        for name, arr in (("weight", self.theta), ("accumulator G", self.grad),
                          ("perturbation", self.pert)):
            bad = np.flatnonzero(~np.isfinite(arr))
            if bad.size:
                where = self.network.describe_param(int(bad[0])) if self.network else f"[{bad[0]}]"
                return f"{name} {where} = {arr[bad[0]]}"
        rec = self.state.cost_line[0]
        if not all(np.isfinite(rec[k]) for k in ("c0", "c", "ctilde", "cprev")):
            return "cost line"
        return "cost"

    #: Saved state arrays (named; the data order and scratch buffers are derived).
    STATE_NAMES = ("theta", "G", "applied", "negative", "m1", "m2", "clock", "cost_line",
                   "counters", "driver", "line_mem", "residue")

    #: Names a checkpoint of an earlier hwsim may lack: their fresh value is the one an
    #: earlier chip had (an ideal cost line holds nothing in flight).
    OPTIONAL_STATE = ("line_mem",)

    @staticmethod
    def _old_counters(arr, cur):
        """A counter record of an earlier hwsim (fewer counters) as this one's: the new
        counters start at 0 (they count events the earlier chip did not have)."""
        if arr.dtype.names is None or not set(arr.dtype.names) <= set(cur.dtype.names):
            return arr
        new = np.zeros_like(cur)
        for k in arr.dtype.names:
            new[k] = arr[k]
        return new

    def get_state(self) -> dict:
        """Copy of every named state array, devices included (``device.*``).

        The data order is derived, not stored (``clock.order_epoch`` is saved as -1).
        """
        state = {name: getattr(self.state, name).copy() for name in self.STATE_NAMES
                 if name != "residue" or self.state.residue.size}  # residue: threshold writes
        state["clock"][0]["order_epoch"] = -1
        if self.source_kind == "write_noise":  # the read-back reference is not regenerable
            state["reference"] = self.state.reference.copy()
        if self.has_devices:
            state.update({f"device.{k}": v for k, v in self.device.get_state().items()})
        if self._tt.on:
            state.update(_transfer.get_state(self.state, self.device_c))
        return state

    def set_state(self, state: dict) -> None:
        """Restore :meth:`get_state` output; the next :meth:`advance` continues bit-identically.

        Raises
        ------
        ConfigError
            A missing array, or one whose shape or fields differ from this chip's.
        """
        for name in self.STATE_NAMES:
            if name not in state and name in self.OPTIONAL_STATE and not (
                    self._cost_p.latency or self._cost_p.lp_keep):
                continue
            if name == "residue" and name not in state and self.state.residue.size == 0:
                continue  # a checkpoint from before threshold writes
            if name not in state:
                raise ConfigError(f"state lacks '{name}' (a checkpoint of another hwsim version?)")
            arr = np.asarray(state[name])
            cur = getattr(self.state, name)
            if name == "counters" and arr.dtype.names != cur.dtype.names:
                arr = self._old_counters(arr, cur)
            if arr.shape != cur.shape or arr.dtype.names != cur.dtype.names:
                raise ConfigError(f"state '{name}' has shape {arr.shape}; this chip needs "
                                  f"{cur.shape}" + (f" with fields {cur.dtype.names}"
                                                   if cur.dtype.names else ""))
            cur[...] = arr
        if self.source_kind == "write_noise":
            if "reference" not in state:
                raise ConfigError("state lacks 'reference' (the write-noise source's read-back)")
            self.state.reference[...] = np.asarray(state["reference"])
        self.state.clock[0]["order_epoch"] = -1  # rebuild the data order lazily
        if self.has_devices:
            self.device.set_state({k[7:]: v for k, v in state.items() if k.startswith("device.")})
        if self._tt.on:
            _transfer.set_state(self.state, self.device_c, state)
