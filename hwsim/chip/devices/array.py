"""An array of sampled synapse devices: the public face of :mod:`hwsim.kernels.devices`."""

import math
from typing import Any

import numpy as np

from hwsim.chip.devices.registry import model_name
from hwsim.chip.devices.sampling import MODEL_CODES, build_device_tuple  # noqa: F401
from hwsim.exceptions import ConfigError
from hwsim.kernels import devices as K

_STATE_KEYS = ("theta", "I", "D", "S", "T", "stats", "W", "WN", "DREF", "TPROG")


class DeviceArray:
    """A seeded array of synapse devices, one per weight (or one pair per weight).

    Parameters
    ----------
    params : dataclass
        Validated device parameters, an instance of a class in
        :data:`hwsim.chip.devices.REGISTRY` (see :func:`hwsim.chip.devices.params_for`).
    n_devices : int
        Number of weights P (>= 0). One-sided models hold 2P devices.
    seed : int
        Seed of every random stream, in [0, 2**63). The device-to-device parameters are
        drawn from STREAM_DTOD at construction: bit-identical for a seed, different for
        another, and independent of ``n_devices`` (device c gets the same draws in any size).
    dtype : {numpy.float64, numpy.float32}
        Precision of the weights and of every per-device array (case D10).

    Attributes
    ----------
    params : dataclass
    n_devices : int
    seed : int
    dtype : numpy.dtype
    theta : ndarray (P,)
        The weights the network sees (stored value + write noise), weight units.
    dev : tuple
        The kernel tuple ``(I, D, S, T, stats, W, WN, DREF, TPROG)`` of
        :mod:`hwsim.kernels.devices` (the MGD engine passes it to the kernels directly).

    Raises
    ------
    ConfigError
        If ``params`` is not a registered parameter object, or the model gives a non-finite
        step on its first device (smoke test of one up and one down pulse from 0).
    ValueError
        For a negative ``n_devices``, a seed outside [0, 2**63) or an unsupported dtype.

    Notes
    -----
    Sampling (devices.md, "Per-device parameters"): gain g = 1 + dw_min_dtod·ξ (or
    exp(dw_min_dtod·ξ)), asymmetry r = up_down_dtod·ξ, Δw⁺ = dw_min·(g + min(up_down, 0) + r),
    Δw⁻ = dw_min·(g − max(up_down, 0) − r), b_max = w_max·(1 + w_max_dtod·ξ),
    b_min = w_min·(1 + w_min_dtod·ξ); with enforce_consistency the steps are taken in
    absolute value and the bounds swapped if crossed and forced to straddle zero (one-sided
    devices: 0 ≤ b_min ≤ b_max). Corrupt devices get both bounds equal to their stuck value.
    Each array starts at weight 0 (pairs at their reset values) with zeroed counters.

    References
    ----------
    docs/devices.md; Gokmen & Vlasov, Front. Neurosci. 10:333 (2016); Rasch et al., AICAS
    2021 (aihwkit); Nandakumar et al., Front. Neurosci. 2020 (PCM).
    """

    @staticmethod
    def estimate_bytes(params: Any, n_devices: int, dtype=np.float64) -> int:
        """Bytes an array of ``n_devices`` weights will allocate, at the peak of construction.

        The per-device rows (N_ROWS per device cell), the stored, reference, time-stamp and
        write-noise arrays, the weights, and the float64 dtod draws made while sampling
        (about 16 temporaries of one row each). One-sided pairs have two cells per weight.
        """
        cells = 2 * n_devices if getattr(params, "one_sided", False) else n_devices
        item = np.dtype(dtype).itemsize
        return int(cells * (K.N_ROWS + 3) * item + 2 * n_devices * item + 16 * cells * 8)

    def __init__(self, params: Any, n_devices: int, seed: int, dtype=np.float64):
        try:
            self.model = model_name(params)
        except TypeError as exc:
            raise ConfigError(str(exc)) from None
        if isinstance(n_devices, bool) or int(n_devices) != n_devices or n_devices < 0:
            raise ValueError(f"n_devices = {n_devices!r}: must be an integer >= 0")
        if isinstance(seed, bool) or int(seed) != seed or not 0 <= seed < 2**63:
            raise ValueError(f"seed = {seed!r}: must be an integer in [0, 2**63)")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype = {self.dtype}: must be float32 or float64")
        self.params = params
        self.n_devices = int(n_devices)
        self.seed = int(seed)
        self.dev = build_device_tuple(params, self.model, self.n_devices, self.seed, self.dtype)
        self.theta = np.zeros(self.n_devices, self.dtype)
        K.init_weights(self.dev, np.zeros(self.n_devices, self.dtype), self.theta)
        self.dev[4][:] = 0
        self._smoke()

    def _smoke(self) -> None:
        """One up and one down noise-free pulse from the current state: must stay finite."""
        if self.n_devices == 0 or self.model == "Ideal":
            return
        probe = tuple(a.copy() for a in self.dev)
        probe[2][K.S_DW_STD] = 0.0
        out = np.empty((3, self.n_devices), self.dtype)
        K.pulse_response(probe, 1, 0, out)
        bad = np.flatnonzero(~np.isfinite(out).all(axis=0))
        if bad.size:
            raise ConfigError(f"device model {self.model}: a pulse gives a non-finite weight on "
                              f"device {bad[0]} (check the model parameters)")

    # ------------------------------------------------------------------ inputs
    def _vector(self, x, name: str) -> np.ndarray:
        a = np.ascontiguousarray(x, dtype=self.dtype)
        if a.shape != (self.n_devices,):
            raise ValueError(f"{name} has shape {a.shape}; expected ({self.n_devices},)")
        return a

    @staticmethod
    def _counter(counter) -> int:
        if isinstance(counter, bool) or int(counter) != counter or \
                not 0 <= counter < K.INIT_COUNTER:
            raise ValueError(f"counter = {counter!r}: must be an integer in [0, 2**62 - 1)")
        return int(counter)

    # ------------------------------------------------------------------ operations
    def init_weights(self, requested) -> int:
        """Set the initial weights, each clipped to its own device's bounds (case D1).

        Parameters
        ----------
        requested : array_like (P,)
            Wanted weights, weight units.

        Returns
        -------
        int
            Number of requests that were clipped (also counted in ``stats["init_clipped"]``).

        Raises
        ------
        ValueError
            If ``requested`` does not have shape (P,).
        """
        return int(K.init_weights(self.dev, self._vector(requested, "requested"), self.theta))

    def apply_update(self, grad, eta: float, counter: int) -> None:
        """Request the change Δ = −eta·grad and let the devices deliver it as pulses.

        Parameters
        ----------
        grad : array_like (P,)
            Gradient estimate, per weight unit.
        eta : float
            Learning rate (>= 0).
        counter : int
            Update index in [0, 2**62 − 1): the random coordinate of this update's pulse
            noise, rounding and write noise.

        Raises
        ------
        ValueError
            For a wrong shape, a negative or non-finite eta, or a counter out of range.
        """
        eta = float(eta)
        if not (math.isfinite(eta) and eta >= 0):
            raise ValueError(f"eta = {eta!r}: must be finite and >= 0")
        # The request is float64 whatever the state dtype, as the optimizer stage computes it.
        req = -eta * self._vector(grad, "grad").astype(np.float64)
        self.write(req, counter)

    def write(self, request, counter: int) -> None:
        """Deliver the update request Δθ (``request``, weight units, shape (P,)) as pulses.

        Raises
        ------
        ValueError
            For a wrong shape or a counter out of range.
        """
        req = np.ascontiguousarray(request, dtype=np.float64)
        if req.shape != (self.n_devices,):
            raise ValueError(f"request has shape {req.shape}; expected ({self.n_devices},)")
        K.apply_update(self.dev, self.theta, req, np.int64(self._counter(counter)))

    def read(self, counter: int = 0, sub: int = 0, out=None) -> np.ndarray:
        """Read the weights through the array (with read noise if the model has it).

        Parameters
        ----------
        counter : int
            Step index: the random coordinate of the read noise.
        sub : int
            Which read of the step (0 perturbed, 1 unperturbed); ignored when the read noise
            is frozen per step (case D12).
        out : ndarray (P,), optional
            Destination of the result's dtype.

        Returns
        -------
        ndarray (P,)
        """
        if out is None:
            out = np.empty(self.n_devices, self.dtype)
        K.read_weights(self.dev, self.theta, out, np.int64(self._counter(counter)),
                       np.int64(sub))
        return out

    def set_time(self, t_s: float) -> None:
        """Set the hardware time (s) stamped on the following writes."""
        self.dev[2][K.S_TIME] = float(t_s)

    @property
    def time(self) -> float:
        """The hardware time (s) of the array."""
        return float(self.dev[2][K.S_TIME])

    def drift(self, t_s: float) -> None:
        """Advance the hardware time to ``t_s`` seconds and drift every device to it.

        Parameters
        ----------
        t_s : float
            Hardware time (s). Drift is w_prog·((t − t_prog)/t0)^(−ν) after t0; weights
            stay within their bounds. No-op without drift (the time is still set).
        """
        K.apply_drift(self.dev, self.theta, float(t_s))

    def program(self, targets, max_iterations: int = 20) -> int:
        """Program the weights toward ``targets`` by write-verify (case D11).

        Parameters
        ----------
        targets : array_like (P,)
            Wanted weights, weight units. Targets beyond a weight's bounds are clipped.
        max_iterations : int
            Verify cycles per weight (>= 0); programming always terminates.

        Returns
        -------
        int
            Number of clipped targets (also counted in ``stats["program_clipped"]``).
        """
        if isinstance(max_iterations, bool) or int(max_iterations) != max_iterations or \
                max_iterations < 0:
            raise ValueError(f"max_iterations = {max_iterations!r}: must be an integer >= 0")
        return int(K.program(self.dev, self._vector(targets, "targets"), self.theta,
                             np.int64(max_iterations)))

    def pulse_response(self, n: int, w0=None, counter: int = 0) -> np.ndarray:
        """Trajectory of every weight under n up pulses then n down pulses.

        Parameters
        ----------
        n : int
            Pulses in each direction (>= 0).
        w0 : array_like (P,), optional
            Start weights (set as :meth:`init_weights` would, on a copy); default: the
            current stored weights. The array itself is never changed.
        counter : int
            Random coordinate of the c2c noise.

        Returns
        -------
        ndarray (2n + 1, P)
            Stored weights (without write noise) before the first pulse and after each.
        """
        n = int(n)
        if n < 0:
            raise ValueError(f"n = {n}: must be >= 0")
        arr = self
        if w0 is not None:
            arr = self.copy()
            arr.init_weights(w0)
        out = np.empty((2 * n + 1, self.n_devices), self.dtype)
        if self.model == "Ideal":
            out[:] = arr.theta
            return out
        return K.pulse_response(arr.dev, n, np.int64(self._counter(counter)), out)

    def symmetry_point(self, n_cycles: int = 0, counter: int = 0) -> np.ndarray:
        """Each device's symmetry point, measured by alternating up/down pulses on a copy.

        Parameters
        ----------
        n_cycles : int
            (up, down) pulse pairs per device (>= 1); 0 = 100 × states, at least 1000 and at
            most 200,000 (a pair moves w by |Δw⁺| − |Δw⁻|, so the train needs many pairs to
            reach the point from the stored weight).
        counter : int
            Random coordinate of the c2c noise.

        Returns
        -------
        ndarray (n_cols,) float64
            The mean weight over the last n_cycles pulses (weight units); where a device has
            no interior symmetry point, the bound it walks to. One-sided pairs and stuck
            devices return their stored value (:func:`hwsim.kernels.devices.symmetry_point`).

        References
        ----------
        Gokmen & Haensch, Front. Neurosci. 14:103 (2020) (Tiki-Taka); Kim et al.,
        "Zero-shifting technique for deep neural network training on resistive cross-point
        arrays", arXiv:1907.10228 (2019).
        """
        n_cycles = int(n_cycles)
        if n_cycles < 0:
            raise ValueError(f"n_cycles = {n_cycles}: must be >= 0")
        if n_cycles == 0:
            n_cycles = self.symmetry_cycles()
        out = np.empty(int(self.dev[0][K.I_NCOLS]))
        return K.symmetry_point(self.dev, np.int64(n_cycles),
                                np.int64(self._counter(counter)), out)

    def symmetry_cycles(self) -> int:
        """Default (up, down) pairs of :meth:`symmetry_point`: 100 × states in [1000, 200000]."""
        st = self.n_states()
        return int(min(max(100 * st, 1000), 200_000)) if math.isfinite(st) else 1000

    def set_symmetry_reference(self, n_cycles: int = 0) -> np.ndarray:
        """Measure every device's symmetry point w* and subtract it through a reference.

        Each weight gets a reference device holding its w* (measured by
        :meth:`symmetry_point` at counter ``REFERENCE_COUNTER``), and the network sees
        W − w*, so a zero-mean pulse train walks the weight to 0 instead of w* (Kim et al.,
        "Zero-shifting technique", arXiv:1907.10228 (2019)). The 2·n_cycles pulses of every
        device are added to ``stats["reference_pulses"]``. Call before :meth:`init_weights`
        (which then places W = θ₀ + w*).

        Returns
        -------
        ndarray (P,)
            The references w* (weight units).

        Raises
        ------
        ConfigError
            One-sided pairs (they only potentiate: no symmetry point) or the Ideal model.
        """
        if self.model == "Ideal" or self.params.one_sided:
            raise ConfigError("chip.symmetry_reference = true: needs a two-sided pulsed device "
                              f"(the profile is {self.model}"
                              f"{', one-sided' if self.model != 'Ideal' else ''})")
        n = int(n_cycles) or self.symmetry_cycles()
        ref = self.symmetry_point(n, K.REFERENCE_COUNTER)
        self.dev[1][K.R_REF] = ref
        self.dev[4][K.ST_REFERENCE_PULSES] += 2 * n * ref.shape[0]
        return ref.copy()

    # ------------------------------------------------------------------ inspection
    @property
    def stats(self) -> dict[str, int]:
        """Counters: pulses, clipped_writes, refreshes, updates, init_clipped, ... (int)."""
        return {name: int(v) for name, v in zip(K.STAT_NAMES, self.dev[4])}

    def n_states(self) -> float:
        """Number of states: ``n_states`` when quantized, else (w_max − w_min)/dw_min (D7)."""
        if getattr(self.params, "n_states", 0):
            return float(self.params.n_states)
        return float(self.params.number_of_states())

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-weight bounds (lo, hi), each (P,): the device's own, or G⁺ − G⁻'s range."""
        D, P = self.dev[1], self.n_devices
        if self.dev[0][K.I_ONE_SIDED]:
            return D[K.R_B_MIN, :P] - D[K.R_B_MAX, P:], D[K.R_B_MAX, :P] - D[K.R_B_MIN, P:]
        return D[K.R_B_MIN].copy(), D[K.R_B_MAX].copy()

    @property
    def conductances(self) -> np.ndarray:
        """Stored weight of every device (view), (P,) or (2P,) for pairs (G⁺ then G⁻)."""
        return self.dev[5]

    def device_parameters(self) -> dict[str, np.ndarray]:
        """Per-device parameters by name (writable views of the rows of ``D``)."""
        return {name: self.dev[1][row] for row, name in enumerate(K.ROW_NAMES)}

    def set_device_parameter(self, name: str, values) -> None:
        """Overwrite one per-device parameter row (case D8: same values, same dynamics).

        Parameters
        ----------
        name : str
            One of ``hwsim.kernels.devices.ROW_NAMES``.
        values : array_like, broadcastable to (n_cols,)
        """
        if name not in K.ROW_NAMES:
            raise KeyError(f"{name!r}: not a device parameter (one of {', '.join(K.ROW_NAMES)})")
        self.dev[1][K.ROW_NAMES.index(name)] = values

    # ------------------------------------------------------------------ state
    def get_state(self) -> dict[str, np.ndarray]:
        """Return copies of every state array (case D9).

        Returns
        -------
        dict
            ``theta`` and the kernel tuple's arrays ``I, D, S, T, stats, W, WN, DREF, TPROG``.
        """
        return {k: a.copy() for k, a in zip(_STATE_KEYS, (self.theta, *self.dev))}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore a :meth:`get_state` snapshot in place; the run continues bit-identically.

        Raises
        ------
        ValueError
            If a key is missing or an array's shape or dtype differs from this array's.
        """
        for k, a in zip(_STATE_KEYS, (self.theta, *self.dev)):
            if k not in state:
                raise ValueError(f"state lacks {k!r}")
            src = np.asarray(state[k])
            if src.shape != a.shape or src.dtype != a.dtype:
                raise ValueError(f"state[{k!r}] has shape {src.shape} and dtype {src.dtype}; "
                                 f"expected {a.shape} and {a.dtype}")
            a[...] = src

    def copy(self) -> "DeviceArray":
        """Return an independent array with the same parameters and state."""
        new = object.__new__(DeviceArray)
        new.__dict__.update(self.__dict__)
        new.dev = tuple(a.copy() for a in self.dev)
        new.theta = self.theta.copy()
        return new

    def __repr__(self) -> str:
        return (f"DeviceArray({self.model}, n_devices={self.n_devices}, seed={self.seed}, "
                f"dtype={self.dtype.name})")
