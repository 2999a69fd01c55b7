"""The emulated MGD chip: parameters on synapses, a perturbation source, a global cost line
and one lock-in integrator per synapse, all as arrays owned by the Numba kernels.

Layering: the chip knows *what the hardware is* and how to advance it by n steps
(:meth:`Chip.advance`); when evaluations happen, logging and stopping belong to
:mod:`hwsim.learn`.
"""

import numpy as np

from hwsim.chip.network import MLP
from hwsim.chip.perturbation import CODES, MODES, code_amplitude, code_period
from hwsim.exceptions import ConfigError
from hwsim.kernels import mgd as _k


def _check_int(name, v, lo):
    """Integers only: a float such as 2.5 steps would otherwise be silently truncated."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ConfigError(f"{name} = {v!r}: must be an integer ≥ {lo}")


class Chip:
    """An MLP chip trained on-chip by MGD.

    Parameters
    ----------
    network : MLP
    X, Y : arrays (N, n_in), (N, n_out)
        Training samples the chip's input port is fed, in a seeded order reshuffled each epoch.
    theta0 : array (P,)
        Initial parameters (weight units).
    seed : int
        Master seed of the counter-based random streams (codes, data order).
    perturbation : {"cdma", "walsh", "fdma", "tdma"}
    mode : {"discrete", "analog"}
    amplitude : float
        Δ, the norm of the perturbation vector (weight units), > 0.
    eta : float
        η, learning rate, >= 0.
    tau_p, tau_x, tau_theta : int
        Steps a code value is held, steps an input is held, steps between updates
        (discrete) or the G low-pass time constant (analog); each >= 1.
    tau_hp : float
        High-pass time constant of the cost line in analog mode (steps), > 0.
    fdma_period : int
        FDMA period in code steps (0 = automatic, 2P + 2).
    cost_fn, model : optional
        A jitted cost callback and its data tuple replacing the MLP (analytic costs in tests,
        or a chip-in-the-loop stand-in).
    device : hwsim.chip.devices.DeviceArray or None
        The synapses storing the P weights. None or the "Ideal" model: exact float weights.
        Otherwise ``theta0`` is written into the devices (each value clipped to its own
        device's bounds, counted in ``device.stats()["init_clipped"]``), updates are
        delivered as pulses by the device kernel, and reads carry the device's read noise.
    update_rounding : {"profile", "stochastic", "nearest"}
        How a requested change becomes a whole number of pulses (real devices only);
        "profile" keeps the device profile's ``pulse_rounding``.
    max_pulses : int
        Cap on pulses per device per update, 0 = none, -1 = the profile's ``max_pulses``.
    dtype : {numpy.float64, numpy.float32}
        Precision of every state array (weights, accumulators, codes, device parameters).

    References
    ----------
    McCaughan, Oripov et al., APL Mach. Learn. 1, 026118 (2023), Sec. II.
    """

    def __init__(self, network, X, Y, theta0, *, seed=0, perturbation="cdma", mode="discrete",
                 amplitude=0.05, eta=1.0, tau_p=1, tau_x=1, tau_theta=1, tau_hp=10.0,
                 fdma_period=0, cost_fn=None, model=None, device=None,
                 update_rounding="profile", max_pulses=-1, dtype=np.float64):
        for name, v in (("tau_p", tau_p), ("tau_x", tau_x), ("tau_theta", tau_theta)):
            _check_int(f"mgd.{name}", v, 1)
        _check_int("seed", seed, 0)
        _check_int("mgd.fdma_period", fdma_period, 0)
        for name, v, lo, strict in (("amplitude", amplitude, 0.0, True), ("eta", eta, 0.0, False),
                                    ("tau_hp", tau_hp, 0.0, True)):
            if not (np.isfinite(v) and (v > lo if strict else v >= lo)) or (
                    name == "amplitude" and not 0.0 < v * v < np.inf):
                raise ConfigError(f"mgd.{name} = {v!r}: must be a finite number "
                                  f"{'>' if strict else '≥'} {lo}")
        if perturbation not in CODES:
            raise ConfigError(f"mgd.perturbation = {perturbation!r}: allowed: {', '.join(CODES)}")
        if mode not in MODES:
            raise ConfigError(f"mgd.mode = {mode!r}: allowed: {', '.join(MODES)}")
        if mode == "analog" and tau_x == 1:
            # The cost high-pass restarts on every new input, so C~ would always be 0.
            raise ConfigError("mgd.tau_x = 1: must be > 1 in analog mode (mgd.mode = 'analog'): "
                              "the cost high-pass restarts on every new input, so with one step "
                              "per input the gradient signal is always 0")
        self.network = network
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ConfigError(f"sim.dtype = {self.dtype.name}: allowed: float64, float32")
        self.theta = np.array(theta0, dtype=self.dtype)
        P = self.theta.shape[0]
        if network is not None and P != network.n_params:
            raise ConfigError(f"theta0 has {P} entries; the network has {network.n_params}")
        if len(X) == 0:
            raise ConfigError("the training set is empty")
        if cost_fn is None:
            if Y is None or len(Y) != len(X):
                raise ConfigError(f"X has {len(X)} samples but Y has "
                                  f"{None if Y is None else len(Y)}")
            cost_fn, model = network.cost_fn, network.model(X, Y)
        self.cost_fn, self.model = cost_fn, model
        self.n_samples = int(len(X))
        self.perturbation, self.mode = perturbation, mode
        self.P = P
        self.grad = np.zeros(P, self.dtype)
        self.pert = np.zeros(P, self.dtype)
        self.order = np.zeros(self.n_samples, dtype=np.int64)
        self.ip = np.zeros(_k.IP_SIZE, dtype=np.int64)
        self.ip[_k.IP_CODE] = CODES[perturbation]
        self.ip[_k.IP_MODE] = MODES[mode]
        self.ip[_k.IP_TAU_P] = tau_p
        self.ip[_k.IP_TAU_X] = tau_x
        self.ip[_k.IP_TAU_THETA] = tau_theta
        self.ip[_k.IP_SEED] = seed
        self.ip[_k.IP_N_SAMPLES] = self.n_samples
        self.ip[_k.IP_PERIOD] = code_period(perturbation, P, fdma_period)
        self.fp = np.zeros(_k.FP_SIZE)
        self.fp[_k.FP_AMPLITUDE] = amplitude
        self.fp[_k.FP_ETA] = eta
        self.fp[_k.FP_TAU_HP] = tau_hp
        self.fp[_k.FP_CODE_AMP] = code_amplitude(perturbation, amplitude, P)
        self.ist = np.zeros(_k.IST_SIZE, dtype=np.int64)
        self.ist[_k.IST_ORDER_EPOCH] = -1
        self.fst = np.zeros(_k.FST_SIZE)
        self._out = np.zeros(2)
        # Ideal synapses: exact writes, reads are theta itself.
        self._update_fn, self._read_fn = _k.ideal_update, _k.exact_read
        self._dev = (np.zeros(1),)
        self._rbuf = (np.zeros(P, self.dtype), np.zeros(P, self.dtype), np.zeros(P, self.dtype))
        self.device = device
        if device is not None and device.model != "Ideal":
            self._attach(device, update_rounding, max_pulses)

    def _attach(self, device, update_rounding, max_pulses):
        from hwsim.kernels import devices as dk

        if device.n_devices != self.P or device.dtype != self.dtype:
            raise ConfigError(f"device array holds {device.n_devices} {device.dtype.name} weights; "
                              f"the chip needs {self.P} {self.dtype.name}")
        if update_rounding not in ("profile", "stochastic", "nearest"):
            raise ConfigError(f"chip.update_rounding = {update_rounding!r}: allowed: profile, "
                              "stochastic, nearest")
        _check_int("chip.max_pulses", max_pulses, -1)
        # The chip's settings override the profile's only when given.
        I = device.dev[0]
        if update_rounding != "profile":
            I[dk.I_ROUNDING] = (dk.ROUND_STOCHASTIC if update_rounding == "stochastic"
                                else dk.ROUND_NEAREST)
        if max_pulses >= 0:
            I[dk.I_MAX_PULSES] = max_pulses
        device.init_weights(self.theta)
        self.theta = device.theta  # one array: what the devices hold is what the network reads
        self._update_fn, self._read_fn = dk.apply_update, dk.read_weights
        self._dev = device.dev
        self.ip[_k.IP_READ_NOISE] = int(device.params.read_noise != "none")
        if device.params.perturbation_by_write:
            if self.mode != "discrete":
                raise ConfigError("device.perturbation_by_write = true: needs mgd.mode = "
                                  "'discrete' (the analog filters read a continuous signal)")
            self.ip[_k.IP_WRITE_PERT] = 1

    @property
    def has_devices(self) -> bool:
        """True when the weights live on non-ideal synapse devices."""
        return self.device is not None and self.device.model != "Ideal"

    def pulse_settings(self) -> dict:
        """The pulse rounding and cap in effect (after any chip override); empty when ideal."""
        if not self.has_devices:
            return {}
        from hwsim.kernels import devices as dk

        I = self.device.dev[0]
        return {"pulse_rounding": "stochastic" if I[dk.I_ROUNDING] == dk.ROUND_STOCHASTIC
                else "nearest", "max_pulses": int(I[dk.I_MAX_PULSES])}

    def device_stats(self) -> dict:
        """Counters of the synapse devices (pulses, clipped writes, ...); empty when ideal."""
        return dict(self.device.stats) if self.has_devices else {}

    def set_time(self, t_s: float) -> None:
        """Stamp hardware time ``t_s`` (s) on the writes that follow (drift reference)."""
        if self.has_devices:
            self.device.set_time(t_s)

    def drift_to(self, t_s: float) -> None:
        """Let the devices drift, without any step, to hardware time ``t_s`` seconds.

        A no-op on ideal synapses or devices without drift.
        """
        if self.has_devices:
            self.device.drift(t_s)

    @property
    def step(self) -> int:
        """Hardware steps taken so far (an integer: hardware time is step * dt)."""
        return int(self.ist[_k.IST_STEP])

    @property
    def updates(self) -> int:
        """Weight updates applied so far."""
        return int(self.ist[_k.IST_UPDATES])

    @property
    def code_period(self) -> int:
        """Code period in code steps (Walsh H, FDMA M, TDMA P; 0 for CDMA)."""
        return int(self.ip[_k.IP_PERIOD])

    def advance(self, n_steps: int) -> int:
        """Run ``n_steps`` hardware steps; returns a kernel status (0 = ok).

        On a non-finite cost the chip stops at that step (``bad_step``) with state intact.

        Raises
        ------
        ConfigError
            ``n_steps`` is not a non-negative integer.
        """
        _check_int("n_steps", n_steps, 0)
        return int(_k.run_steps(int(n_steps), self.cost_fn, self.model, self.theta, self.grad,
                                self.pert, self.order, self.ip, self.fp, self.ist, self.fst,
                                self._out, self._update_fn, self._read_fn, self._dev, self._rbuf))

    @property
    def bad_step(self) -> int:
        """The step at which the kernel met a non-finite cost (valid after a non-zero status)."""
        return int(self.ist[_k.IST_BAD_STEP])

    def nonfinite_component(self) -> str:
        """Name the first non-finite state entry (for divergence messages), or "cost"."""
        for name, arr in (("weight", self.theta), ("accumulator G", self.grad),
                          ("perturbation", self.pert)):
            bad = np.flatnonzero(~np.isfinite(arr))
            if bad.size:
                where = self.network.describe_param(int(bad[0])) if self.network else f"[{bad[0]}]"
                return f"{name} {where} = {arr[bad[0]]}"
        if not np.isfinite(self.fst).all():
            return "cost line"
        return "cost"

    _STATE = ("theta", "grad", "pert", "ist", "fst")

    def get_state(self) -> dict:
        """Copy of every state array, devices included (the data order is derived, not stored)."""
        state = {name: getattr(self, name).copy() for name in self._STATE}
        state["ist"][_k.IST_ORDER_EPOCH] = -1  # derived; never part of the saved state
        if self.has_devices:
            state.update({f"device.{k}": v for k, v in self.device.get_state().items()})
        return state

    def set_state(self, state: dict) -> None:
        """Restore :meth:`get_state` output; the next :meth:`advance` continues bit-identically."""
        for name in self._STATE:
            arr = np.asarray(state[name])
            cur = getattr(self, name)
            if arr.shape != cur.shape:
                raise ConfigError(f"state '{name}' has shape {arr.shape}; this chip needs {cur.shape}")
            cur[...] = arr
        self.ist[_k.IST_ORDER_EPOCH] = -1  # rebuild the data order lazily
        if self.has_devices:
            self.device.set_state({k[7:]: v for k, v in state.items() if k.startswith("device.")})
