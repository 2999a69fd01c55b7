"""The chip port: the narrow interface an MGD controller needs from a chip (chip-in-the-loop).

MGD is model-free (mgd.md, "Chip-in-the-loop"): it needs only "present an input, apply θ + θ̃,
read the cost, write Δθ". :class:`ChipPort` is that interface; :class:`EmulatorPort` is the
emulated chip behind it, and a real instrument (or any simulator) implements the same methods.
:class:`hwsim.learn.controller.MGDController` drives any port in plain Python, step by step;
the emulator's fused driver (:meth:`hwsim.chip.Chip.advance`) is the fast path of the same
thing, and the two are tested bit for bit against each other.
"""

from typing import Protocol, runtime_checkable

import numpy as np

from hwsim.exceptions import ConfigError
from hwsim.kernels import devices as _dk
from hwsim.kernels import nodes as _nodes
from hwsim.kernels import sense as _sense


@runtime_checkable
class ChipPort(Protocol):
    """What a chip must offer to be trained by :class:`~hwsim.learn.controller.MGDController`.

    Attributes
    ----------
    n_params : int
        P, the number of tunable parameters.
    n_samples : int
        Training samples the chip's input port can present.
    """

    n_params: int
    n_samples: int

    def clock(self, step: int) -> None:
        """The hardware step now (t = step·dt): stamps writes, keys noise."""

    def present(self, sample: int) -> None:
        """Present training sample number ``sample`` on the input port (a chip that takes
        minibatches of B samples is given a sequence of B sample numbers)."""

    def apply(self, perturbation) -> None:
        """Apply θ + θ̃ for the next measurement; ``None`` removes the perturbation."""

    def measure(self) -> float:
        """One inference of the current input: the cost C (or C₀ without a perturbation);
        with a minibatch, the mean cost over its samples."""

    def write(self, request, update: int) -> None:
        """Deliver the update request Δθ (P,) as update number ``update``."""

    # Node perturbation (optional: only a chip that perturbs its neurons offers these).
    # n_nodes: M; apply_nodes(ñ (M,) or None); postsynaptic() -> (P,) node of each
    # parameter; presynaptic() -> (P,) each parameter's input in the last perturbed
    # inference (1 for a bias).

    def read_weights(self) -> np.ndarray:
        """The parameters θ as stored, (P,)."""

    def get_state(self) -> dict:
        """Everything needed to continue bit for bit."""

    def set_state(self, state: dict) -> None:
        """Restore :meth:`get_state` output."""


class EmulatorPort:
    """The emulated chip as a :class:`ChipPort`, sharing the chip's arrays.

    Inferences go through the same sense stage as the fused driver (device reads with read
    noise, periphery, forward pass, cost) and are counted in the chip's counters; writes go
    through the device-write stage.

    Parameters
    ----------
    chip : hwsim.chip.Chip
        With read noise drawn per weight (``read_noise_model="per_weight"``), if any. A chip
        built with ``batch`` = B > 1 is presented B samples at a time and each
        :meth:`measure` is the mean cost over them (B inferences).

    Raises
    ------
    ConfigError
        The chip draws its read noise per neuron.
    """

    def __init__(self, chip):
        if chip.read_noise_model == "per_neuron":
            # Frozen per-neuron noise correlates the perturbed and baseline passes of a step,
            # which a port measures one at a time.
            raise ConfigError("EmulatorPort: the chip draws read noise per neuron; build it "
                              "with read_noise_model='per_weight' to drive it through the port")
        if chip.params.transfer.on:
            raise ConfigError("EmulatorPort: chip.transfer.enabled = true: the port writes one "
                              "device array; Tiki-Taka transfer runs in the fused driver only")
        if chip.source_kind != "code":
            raise ConfigError("EmulatorPort: chip.perturbation.kind = "
                              f"{chip.source_kind!r}: the devices' write noise is the "
                              "perturbation, which a controller's code cannot apply: use "
                              "Chip.advance")
        if chip.params.sources.nonideal:
            raise ConfigError("EmulatorPort: the chip's perturbation source is nonideal "
                              "([chip.perturbation]); the controller applies the nominal code, "
                              "so it cannot model it: use Chip.advance")
        self.chip = chip
        self.n_params = chip.P
        self.n_samples = chip.n_samples
        self._step = 0
        self._sample = 0
        self._k = 0
        self._pert = None
        self._nodes = chip.target == "nodes"
        self._out = np.zeros(2)
        if self._nodes:
            self.n_nodes = chip.n_perturbed
            self._post, self._pre = _nodes.presynaptic_layout(chip.network.sizes)

    def clock(self, step):
        self._step = int(step)
        self._k = 0  # the k-th inference of a step reads with read-noise sub-coordinate k
        if self.chip.has_devices:
            self.chip.model.dev[2][_dk.S_TIME] = self._step * self.chip.dt

    def present(self, sample):
        if self.chip.batch > 1:
            batch = np.asarray(sample, dtype=np.int64).reshape(-1)
            if batch.shape != (self.chip.batch,):
                raise ConfigError(f"EmulatorPort.present: the chip takes minibatches of "
                                  f"{self.chip.batch} samples; got {batch.shape[0]}")
            self.chip.model.sense.batch[:] = batch
            self._sample = int(batch[0])
            return
        self._sample = int(sample)

    def apply(self, perturbation):
        self._pert = None if perturbation is None else np.asarray(perturbation,
                                                                   dtype=self.chip.dtype)

    apply_nodes = apply  # the chip knows which quantities its code perturbs

    def postsynaptic(self):
        return self._post.copy()

    def presynaptic(self):
        m = self.chip.model.sense
        if m.kind == _sense.PERIPHERY:  # what each synapse multiplies: its DAC's output
            acts = m.qbuf
        else:
            acts = np.concatenate([m.X[self._sample], m.buf])
        return np.where(self._pre >= 0, acts[np.maximum(self._pre, 0)], 1.0)

    def _read(self):
        """The weights this inference sees: read through the devices (sub k) when noisy."""
        c, s, m = self.chip, self.chip.state, self.chip.model
        if not c.noisy_reads:
            return s.theta
        buf = s.rb1 if self._k else s.rb0
        _dk.read_weights(m.dev, s.theta, buf, np.int64(self._step), np.int64(self._k))
        return buf

    def measure(self):
        c, s, m = self.chip, self.chip.state, self.chip.model
        n, out, k = np.int64(self._step), self._out, np.int64(self._k)
        cnt = s.counters[0]
        baseline = self._pert is None
        theta = self._read()
        if self._nodes:
            pert = s.applied if baseline else self._pert
            value = _nodes.node_pass(m.sense, theta, pert, not baseline, self._sample, n, k)
        elif baseline and not c.noisy_reads:
            # the baseline pass of the fused perturbed + baseline inference
            _sense.measure(m.sense, theta, s.zeros, self._sample, True, out, n)
            value = out[1]
        else:
            _sense.measure_one(m.sense, theta, s.zeros if baseline else self._pert,
                               self._sample, out, n, k)
            value = out[0]
        cp = c.params.counters  # a pass is cp.batch inferences
        cnt["baseline_inferences" if baseline else "perturbed_inferences"] += cp.batch
        self._k += 1
        for name, per in (("macs", cp.macs), ("device_reads", cp.reads),
                          ("dac_conversions", cp.dacs), ("adc_conversions", cp.adcs)):
            cnt[name] += per * cp.batch
        return float(value)

    def write(self, request, update):
        req = np.ascontiguousarray(request, dtype=np.float64)
        _dk.apply_update(self.chip.model.dev, self.chip.state.theta, req, np.int64(update))

    def read_weights(self):
        return self.chip.theta.copy()

    def get_state(self):
        return self.chip.get_state()

    def set_state(self, state):
        self.chip.set_state(state)
