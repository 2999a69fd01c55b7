"""How a chip takes on its devices: the device array, its read-noise model, the write-noise
perturbation source and the Tiki-Taka second array (docs/devices.md, docs/tiki_taka.md).

Mixed into :class:`hwsim.chip.chip.Chip`: these methods run once, in its constructor.
"""

import numpy as np

from hwsim.chip import transfer as _transfer
from hwsim.chip.network import MLP
from hwsim.exceptions import ConfigError
from hwsim.kernels import devices as _dk
from hwsim.kernels import hashing as _hash
from hwsim.kernels import sense as _sense

__all__ = ["DeviceSetupMixin", "READ_NOISE_MODELS", "check_int"]

READ_NOISE_MODELS = ("auto", "per_neuron", "per_weight")


def check_int(name, v, lo):
    """Integers only: a float such as 2.5 steps would otherwise be silently truncated.

    Raises
    ------
    ConfigError
        ``v`` is not an integer ≥ ``lo`` (naming ``name``).
    """
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ConfigError(f"{name} = {v!r}: must be an integer ≥ {lo}")


class DeviceSetupMixin:
    """The device half of :class:`hwsim.chip.chip.Chip`'s construction."""

    # -- construction -------------------------------------------------------------------
    def _use_transfer(self, spec, theta0, symmetry_reference):
        """``[chip.transfer]``: A is the attached array, C a second one (hwsim.chip.transfer)."""
        tt = _transfer.build(
            spec, sizes=None if self.network is None else self.network.sizes, P=self.P,
            seed=int(self._clock_p.seed), dtype=self.dtype,
            device=self.device if self.has_devices else None,
            theta0=theta0.copy(),
            why=((self.target != "weights", "mgd.target = 'weights'"),
                 (self.source.by_write != 0, "device.perturbation_by_write = false and "
                  "chip.perturbation.kind = 'code' (a code written into A is not modelled)"),
                 (symmetry_reference, "chip.symmetry_reference = false"),
                 (self.network is not None and not isinstance(self.network, MLP),
                  "a dense network (network.sizes or dense-only network.layers): conv2d and "
                  "pool layers have no transfer column layout")))
        self._tt, self.device_c, self._dev_c = tt.params, tt.device_c, tt.dev_c
        self.state = self.state._replace(**tt.state)
        if tt.params.on and tt.params.gamma != 0.0:  # the network reads both arrays
            self._counter_p = self._counter_p._replace(reads=2 * self._counter_p.reads)

    def _attach(self, device, update_rounding, max_pulses, read_noise_model="auto",
                symmetry_reference=False):
        if device.n_devices != self.P or device.dtype != self.dtype:
            raise ConfigError(f"device array holds {device.n_devices} {device.dtype.name} weights; "
                              f"the chip needs {self.P} {self.dtype.name}")
        if update_rounding not in ("profile", "stochastic", "nearest"):
            raise ConfigError(f"chip.update_rounding = {update_rounding!r}: allowed: profile, "
                              "stochastic, nearest")
        check_int("chip.max_pulses", max_pulses, -1)
        # The chip's settings override the profile's only when given.
        I = device.dev[0]
        if update_rounding != "profile":
            I[_dk.I_ROUNDING] = (_dk.ROUND_STOCHASTIC if update_rounding == "stochastic"
                                 else _dk.ROUND_NEAREST)
        if max_pulses >= 0:
            I[_dk.I_MAX_PULSES] = max_pulses
        if symmetry_reference:
            device.set_symmetry_reference()
        device.init_weights(self.theta)
        # One array: what the devices hold is what the network reads.
        self.state = self.state._replace(theta=device.theta)
        self._dev = device.dev
        self._noisy = int(device.params.read_noise != "none")
        self._use_read_noise_model(device, read_noise_model)
        # Every device cell is read by an inference (two per weight on one-sided pairs).
        # With a symmetry reference, each weight's reference device is read too.
        self._counter_p = self._counter_p._replace(
            reads=np.int64(I[_dk.I_NCOLS] * (2 if symmetry_reference else 1)))
        if device.params.perturbation_by_write:
            if self.estimate != "one_sided":
                raise ConfigError("device.perturbation_by_write = true: needs mgd.estimate = "
                                  "'one_sided' (the written code is removed for the baseline)")
            if self.target != "weights":
                raise ConfigError("device.perturbation_by_write = true: needs mgd.target = "
                                  "'weights' (a node perturbation is not a weight write)")
            if self.mode != "discrete":
                raise ConfigError("device.perturbation_by_write = true: needs mgd.mode = "
                                  "'discrete' (the analog filters read a continuous signal)")
            self.source = self.source._replace(by_write=np.int64(1))
            if self.state.written.size != self.P:  # scratch of the perturbation writes' count
                self.state = self.state._replace(written=np.zeros(self.P))

    def _use_write_noise_source(self, device, tau_p, tau_x, tau_theta):
        """``chip.perturbation.kind = "write_noise"``: no code; each code period writes a
        pulse pair (+dw_min, −dw_min) to every device and reads back what it did, the
        reference of every integrator (:mod:`hwsim.kernels.noise_source`). The integrator
        scale is 1/(P·v), v = 2(σ_c2c·dw_min)² + 2(write_noise_std·dw_min)² the expected
        variance of the read-back change (exact for ConstantStep without dtod)."""
        what = 'chip.perturbation.kind = "write_noise"'
        if device is None or device.model == "Ideal":
            raise ConfigError(f"{what}: needs a pulsed device with write noise (chip.device "
                              "other than 'ideal')")
        p = device.params
        dw = float(p.dw_min)
        v = 2.0 * (float(p.dw_min_std) * dw) ** 2 + 2.0 * (float(p.write_noise_std) * dw) ** 2
        if not v > 0.0:
            raise ConfigError(f"{what}: device profile '{device.model}' has no write noise "
                              "(device.dw_min_std = 0 and device.write_noise_std = 0): a pulse "
                              "pair would do nothing random; use kind = 'code'")
        for bad, why in ((self.mode != "discrete", "mgd.mode = 'discrete' (analog mode "
                          "writes every step; the pulse pairs need code periods)"),
                         (self.target != "weights", "mgd.target = 'weights'"),
                         (self.estimate != "one_sided", "mgd.estimate = 'one_sided'"),
                         (bool(p.perturbation_by_write), "device.perturbation_by_write = false "
                          "(the write noise is the perturbation; there is no code to write)"),
                         (bool(self._src_noise.nonideal), "the other chip.perturbation keys "
                          "at their defaults (they shape a generated code)"),
                         (bool(self._cost_p.match and self._cost_p.latency),
                          "chip.cost_line.match_delay = false (the read-back reference cannot "
                          "be regenerated)"),
                         (tau_x % tau_p != 0 or tau_theta % tau_p != 0,
                          f"mgd.tau_x ({tau_x}) and mgd.tau_theta ({tau_theta}) multiples of "
                          f"mgd.tau_p ({tau_p}): every baseline is sensed before a pulse pair")):
            if bad:
                raise ConfigError(f"{what}: needs {why}")
        self.write_noise_variance = v
        self.source = self.source._replace(by_write=np.int64(2))
        self._int_p = self._int_p._replace(inv_d2=1.0 / (self.P * v))
        self.state = self.state._replace(reference=np.zeros(self.P, self.dtype),
                                         written=np.zeros(self.P))

    def _use_read_noise_model(self, device, model):
        """Switch additive read noise to per-neuron draws when ``model`` asks for it."""
        if model not in READ_NOISE_MODELS:
            raise ConfigError(f"chip.read_noise_model = {model!r}: allowed: "
                              f"{', '.join(READ_NOISE_MODELS)}")
        additive = device.params.read_noise == "additive"
        mlp = (self._sense.kind == _sense.MLP and self.target == "weights"
               and self.estimate == "one_sided")
        if model == "per_neuron" and not (additive and mlp):
            raise ConfigError("chip.read_noise_model = 'per_neuron': needs device.read_noise = "
                              "'additive', mgd.target = 'weights', mgd.estimate = 'one_sided' and "
                              "a chip without periphery "
                              "(DAC/ADC, neuron variation); use 'per_weight' or 'auto'")
        # Noise frozen per step is one draw ξ seen by all 2B inputs of a minibatch step: their
        # per-neuron sums have a 2B-dimensional joint law, which the per-neuron pair does not
        # draw (docs/engine.md, "Minibatches").
        frozen_batch = self.batch > 1 and device.dev[0][_dk.I_READ_FROZEN] != 0
        if model == "per_neuron" and frozen_batch:
            raise ConfigError(f"chip.read_noise_model = 'per_neuron': with mgd.batch = "
                              f"{self.batch} the read noise frozen per step "
                              "(device.read_noise_frozen_per_step = true) is shared by the "
                              "whole batch, which per-neuron draws cannot model; use "
                              "'per_weight' or 'auto'")
        self.read_noise_model = "per_weight" if self._noisy else "none"
        if model == "per_weight" or not (additive and mlp) or frozen_batch:
            return
        I, S = device.dev[0], device.dev[2]
        self._sense = self._sense._replace(
            kind=np.int64(_sense.MLP_READ_NOISE),
            read_noise=np.array([float(S[_dk.S_READ_STD]), float(I[_dk.I_READ_FROZEN] != 0)]),
            read_noise_key=np.uint64(_hash.stream_key(np.int64(I[_dk.I_SEED]),
                                                      np.int64(_hash.STREAM_READ_NOISE))))
        self._noisy = 0  # the driver reads θ exactly; the sense stage adds the noise
        self.read_noise_model = "per_neuron"
