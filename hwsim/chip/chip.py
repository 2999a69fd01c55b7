"""The emulated MGD chip: parameters on synapses, a perturbation source, a global cost line
and one lock-in integrator per synapse, all as named arrays owned by the Numba kernels.

Layering: the chip knows *what the hardware is* and how to advance it by n steps through the
fused stage driver (:mod:`hwsim.kernels.step`); :class:`hwsim.chip.port.EmulatorPort` exposes
the same chip as a :class:`~hwsim.chip.port.ChipPort` that a plain-Python controller drives.
When evaluations happen, logging and stopping belong to :mod:`hwsim.learn`.
"""

import os

import numpy as np

from hwsim.chip.network import MLP
from hwsim.chip.perturbation import CODES, MODES, code_amplitude, code_period, source_noise
from hwsim.chip import transfer as _transfer
from hwsim.chip.signal_path import cost_line_params, integrator_params
from hwsim.exceptions import ConfigError
from hwsim.kernels import clocks as _clk
from hwsim.kernels import codes as _codes
from hwsim.kernels import cost_line as _cl
from hwsim.kernels import counters as _cnt
from hwsim.kernels import devices as _dk
from hwsim.kernels import fast as _fast
from hwsim.kernels import hashing as _hash
from hwsim.kernels import integrator as _int
from hwsim.kernels import optimizer as _opt
from hwsim.kernels import sense as _sense
from hwsim.kernels import step as _step

#: Counters the device kernels keep, reported after the stage counters.
DEVICE_COUNTER_DOCS = (
    ("write_pulses_up", "potentiating write pulses of training updates (and of a write-based "
                        "perturbation)"),
    ("write_pulses_down", "depressing write pulses of training updates"),
    ("write_verify_pulses", "pulses of write-verify programming (initial programming, refreshes)"),
    ("refreshes", "refreshes of one-sided device pairs"),
    ("reference_pulses", "pulses of the symmetry-point measurement of chip.symmetry_reference "
                         "(2 per (up, down) cycle per device, once before training)"),
)
COUNTER_COLUMNS = _cnt.COUNTER_NAMES + tuple(n for n, _ in DEVICE_COUNTER_DOCS)

OPTIMIZERS = {"plain": _opt.PLAIN, "momentum": _opt.MOMENTUM, "nesterov": _opt.NESTEROV,
              "adam": _opt.ADAM, "sign": _opt.SIGN}
WRITE_RESIDUES = {"nominal": _opt.RESIDUE_NOMINAL, "read_back": _opt.RESIDUE_READ_BACK}

ANALYTIC = {"linear": _sense.LINEAR, "quadratic": _sense.QUADRATIC}
SOURCE_KINDS = ("code", "write_noise")  # chip.perturbation.kind
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


def _analytic_sense(kind, a, P):
    """The sense model of an analytic cost (no network: the MLP fields hold empty arrays)."""
    f0, i0 = np.zeros(0), np.zeros(0, np.int64)
    a = np.zeros(P) if a is None else np.ascontiguousarray(a, dtype=np.float64)
    if a.shape != (P,):
        raise ConfigError(f"analytic cost slope has shape {a.shape}; the chip has {P} parameters")
    return _sense.SenseModel(np.int64(kind), np.zeros((1, 0)), np.zeros((1, 0)), i0,
                             np.zeros(3, np.int64), f0, f0, f0, f0, f0, f0, 1.0, a)


def _source_noise(spec, src, code, network, n_pert, target, estimate, device):
    """The nonideal source record for the chip (the ideal one when ``spec`` is empty)."""
    by_write = device is not None and device.model != "Ideal" and \
        device.params.perturbation_by_write
    return source_noise(spec, src, code, None if network is None else network.sizes, n_pert,
                        target=target, two_sided=estimate == "two_sided", by_write=by_write)


def _ideal_dev(P, seed, dtype):
    """The device tuple of exact synapses: no per-device rows (nothing to sample)."""
    dev = _dk.empty_dev(P, 0, 1, dtype)
    I = dev[0]
    I[_dk.I_MODEL], I[_dk.I_P], I[_dk.I_SEED] = _dk.M_IDEAL, P, seed
    return dev



def kernels_on_disk() -> bool:
    """Whether the step driver has compiled code in its on-disk Numba cache (so a run loads
    it in about a second instead of compiling): an index file of ``run_steps`` exists."""
    cache = getattr(_step.run_steps, "_cache", None)
    path = getattr(cache, "cache_path", None)
    if not path or not os.path.isdir(path):
        return False
    return any(f.startswith("step.run_steps-") and f.endswith(".nbi") for f in os.listdir(path))

class Chip:
    """An MLP chip trained on-chip by MGD.

    Parameters
    ----------
    network : MLP or None
        None with ``analytic``: the chip's "network" is an analytic cost of its parameters.
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
    dt : float
        Seconds of hardware time per step (> 0): device writes and reads at step n are
        stamped t = n·dt.
    target : {"weights", "nodes"}
        What the code perturbs: every weight and bias (P quantities), or every neuron's
        pre-activation (M = Σ n_{l+1} nodes; :mod:`hwsim.kernels.nodes`), with M in place of
        P in the code's amplitude and period.
    estimate : {"one_sided", "two_sided"}
        C̃ = C(θ + θ̃) − C₀ (the baseline remeasured when stale), or the central difference
        (C(θ + θ̃) − C(θ − θ̃))/2: one more inference per step, no O(Δ) bias, discrete mode
        and no periphery.
    optimizer : {"plain", "momentum", "nesterov", "adam", "sign"}
        The local update rule on G (:mod:`hwsim.kernels.optimizer`); "sign" sends
        Δθ = −sign_step·dw_min·sign(G) (needs a pulsed device).
    sign_step : float
        Step of sign updates in units of the device's dw_min (> 0; 1 = one pulse).
    write_threshold : float
        Threshold writes: a synapse writes only when its residue plus request reaches
        write_threshold·dw_min (0 = off; needs a pulsed device; issue 12).
    write_residue : {"nominal", "read_back"}
        What threshold writes subtract from the residue: the pulses sent times dw_min, or
        the change read back from the device (2 reads per write, ``readback_reads``).
    momentum, beta2, eps : float
        β of momentum/Nesterov (Adam's β₁) in [0, 1); Adam's β₂ in [0, 1) and ε > 0.
    clip : float
        Per-synapse clip of the update request |Δθ_i| ≤ clip (weight units); 0 = off.
    analytic : tuple or None
        ``("linear", a)`` for C = a·θ, or ``("quadratic", None)`` for C = ½‖θ‖²: an analytic
        cost replacing the network (estimator studies with a known gradient).
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
    symmetry_reference : bool
        Measure each device's symmetry point by alternating pulses before training and
        subtract it through a reference device per weight
        (:meth:`hwsim.chip.devices.DeviceArray.set_symmetry_reference`): the pulses are in
        ``reference_pulses``, and every inference reads two devices per weight.
    transfer : dict or None
        ``[chip.transfer]`` (:class:`hwsim.sections.transfer.TransferConfig` as a dict): Tiki-Taka
        transfer, two device arrays per weight (:mod:`hwsim.chip.transfer`); None = off.
    dtype : {numpy.float64, numpy.float32}
        Precision of every state array (weights, accumulators, codes, device parameters).
    read_noise_model : {"auto", "per_neuron", "per_weight"}
        How additive Gaussian read noise (``read_noise = "additive"``) is drawn.
        "per_weight": a normal per weight per read (as hwsim 0.1.0). "per_neuron": one
        normal per neuron and pass on the pre-activation, σ·‖(x, 1)‖·ζ, which has exactly
        the same distribution (correlated between the two passes when the noise is frozen
        per step) for far fewer draws, so the random draws differ from 0.1.0 but not their
        law (:func:`hwsim.kernels.mlp.forward_read_noise`). "auto": per_neuron when the
        read noise is additive and the chip has no periphery (and, with ``batch`` > 1, the
        noise is not frozen per step: per-neuron draws cannot share one frozen draw across a
        batch; "per_neuron" is then refused), else per_weight. PCM read noise is always per
        weight.
    batch : int
        B ≥ 1, minibatch costs: every τx steps the next B samples of the data order are
        presented together, and C, C₀ are means over them (B inferences per pass, counted
        as such: each inference reads the devices and converts through the periphery anew,
        with its own noise). B = 1 is the one-sample chip, bit for bit. B > 1 needs a
        network and at most N samples; with ``target = "nodes"`` every sample has its own
        node code (M·B perturbed quantities, E[G] = batch-mean ∇C/(M·B)).
    cost_line, integrator : mapping or None
        Nonidealities of the global cost line and the local integrators, with the keys of
        the config sections ``[chip.cost_line]`` and ``[chip.integrator]``
        (:mod:`hwsim.chip.signal_path`, docs/chip.md); None or ``{}`` is the ideal stage.
    source_noise : mapping or None
        Nonidealities of the perturbation source, with the keys of ``[chip.perturbation]``
        (:func:`hwsim.chip.perturbation.source_noise`, docs/chip.md); None or ``{}`` ideal.

    Raises
    ------
    ConfigError
        An argument out of range or of the wrong type, naming the config key it comes from.

    References
    ----------
    McCaughan, Oripov et al., APL Mach. Learn. 1, 026118 (2023), Sec. II.
    """

    def __init__(self, network, X, Y, theta0, *, seed=0, perturbation="cdma", mode="discrete",
                 amplitude=0.05, eta=1.0, tau_p=1, tau_x=1, tau_theta=1, tau_hp=10.0,
                 fdma_period=0, dt=1e-6, target="weights", estimate="one_sided",
                 optimizer="plain", momentum=0.9,
                 beta2=0.999, eps=1e-8, clip=0.0, sign_step=1.0, write_threshold=0.0,
                 write_residue="nominal", analytic=None, device=None,
                 update_rounding="profile", max_pulses=-1, dtype=np.float64,
                 read_noise_model="auto", batch=1, cost_line=None, integrator=None,
                 source_noise=None, symmetry_reference=False, transfer=None):
        for name, v in (("tau_p", tau_p), ("tau_x", tau_x), ("tau_theta", tau_theta),
                        ("batch", batch)):
            check_int(f"mgd.{name}", v, 1)
        check_int("seed", seed, 0)
        check_int("mgd.fdma_period", fdma_period, 0)
        for name, v, lo, strict in (("mgd.amplitude", amplitude, 0.0, True),
                                    ("mgd.eta", eta, 0.0, False),
                                    ("mgd.tau_hp", tau_hp, 0.0, True), ("sim.dt", dt, 0.0, True)):
            if not (np.isfinite(v) and (v > lo if strict else v >= lo)) or (
                    name == "mgd.amplitude" and not 0.0 < v * v < np.inf):
                raise ConfigError(f"{name} = {v!r}: must be a finite number "
                                  f"{'>' if strict else '≥'} {lo}")
        if perturbation not in CODES:
            raise ConfigError(f"mgd.perturbation = {perturbation!r}: allowed: {', '.join(CODES)}")
        if mode not in MODES:
            raise ConfigError(f"mgd.mode = {mode!r}: allowed: {', '.join(MODES)}")
        if mode == "analog" and tau_x == 1:
            raise ConfigError("mgd.tau_x = 1: must be > 1 in analog mode (mgd.mode = 'analog'): "
                              "the cost high-pass restarts on every new input, so with one step "
                              "per input the gradient signal is always 0")
        self.network = network
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ConfigError(f"sim.dtype = {self.dtype.name}: allowed: float64, float32")
        theta = np.array(theta0, dtype=self.dtype)
        P = theta.shape[0]
        if network is not None and P != network.n_params:
            raise ConfigError(f"theta0 has {P} entries; the network has {network.n_params}")
        if len(X) == 0:
            raise ConfigError("the training set is empty")
        if analytic is None:
            if Y is None or len(Y) != len(X):
                raise ConfigError(f"X has {len(X)} samples but Y has "
                                  f"{None if Y is None else len(Y)}")
            sense = network.sense_model(X, Y)
            cp = _cnt.CounterParams(*network.per_inference_counts())
        else:
            kind, a = analytic
            if kind not in ANALYTIC:
                raise ConfigError(f"analytic cost {kind!r}: allowed: {', '.join(ANALYTIC)}")
            sense = _analytic_sense(ANALYTIC[kind], a, P)
            cp = _cnt.CounterParams(np.int64(P), np.int64(P), np.int64(0), np.int64(0))
        if target not in ("weights", "nodes"):
            raise ConfigError(f"mgd.target = {target!r}: allowed: weights, nodes")
        if target == "nodes" and analytic is not None:
            raise ConfigError("mgd.target = 'nodes': needs a network (an analytic cost has no "
                              "neurons to perturb)")
        self.target = target
        if estimate not in ("one_sided", "two_sided"):
            raise ConfigError(f"mgd.estimate = {estimate!r}: allowed: one_sided, two_sided")
        if estimate == "two_sided" and mode != "discrete":
            raise ConfigError("mgd.estimate = 'two_sided': needs mgd.mode = 'discrete' (the "
                              "analog cost line high-passes one continuous cost signal)")
        self.estimate = estimate
        # Node perturbation with a minibatch: every sample has its own M nodes (M·B codes).
        n_pert = P if target == "weights" else int(network.sizes[1:].sum()) * int(batch)
        self.n_perturbed = n_pert
        self.n_samples = int(len(X))
        self.perturbation, self.mode = perturbation, mode
        self.P = P
        self.dt = float(dt)
        self.eta = float(eta)
        self.amplitude = float(amplitude)
        self._clock_p = _clk.ClockParams(np.int64(tau_p), np.int64(tau_x), np.int64(tau_theta),
                                         np.int64(self.n_samples), np.int64(seed), self.dt,
                                         np.int64(batch))
        self.batch = int(batch)
        if batch > 1:
            if analytic is not None:
                raise ConfigError(f"mgd.batch = {batch}: minibatch costs need a network (an "
                                  "analytic cost has no samples); use mgd.batch = 1")
            if batch > self.n_samples:
                raise ConfigError(f"mgd.batch = {batch}: larger than the {self.n_samples} "
                                  "training samples")
            sense = sense._replace(batch=np.zeros(batch, np.int64))
            if target == "nodes":  # each sample's activations (and DAC outputs) are kept
                sense = sense._replace(buf=np.zeros(batch * sense.buf.shape[0]),
                                       qbuf=np.zeros(batch * sense.qbuf.shape[0]))
            cp = cp._replace(batch=np.int64(batch))
        self.source = _codes.SourceParams(
            np.int64(CODES[perturbation]), code_amplitude(perturbation, amplitude, n_pert),
            np.int64(code_period(perturbation, n_pert, fdma_period)), np.int64(seed),
            np.int64(0), np.int64(target == "nodes"))
        self._cost_p = _cl.CostLineParams(np.int64(MODES[mode]), tau_hp / (tau_hp + 1.0),
                                          np.int64(estimate == "two_sided"))
        self._int_p = _int.IntegratorParams(1.0 / (amplitude * amplitude),
                                            tau_theta / (tau_theta + 1.0), 1.0 / (tau_theta + 1.0))
        self._cost_p = cost_line_params(self._cost_p, cost_line, dt=self.dt, seed=seed,
                                        target=target)
        self._int_p = integrator_params(self._int_p, integrator, seed=seed, P=P, mode=mode,
                                        target=target)
        source_noise = dict(source_noise or {})
        self.source_kind = source_noise.pop("kind", "code")
        if self.source_kind not in SOURCE_KINDS:
            raise ConfigError(f"chip.perturbation.kind = {self.source_kind!r}: allowed: "
                              f"{', '.join(SOURCE_KINDS)}")
        self._src_noise, n_buf = _source_noise(source_noise, self.source, perturbation, network,
                                               n_pert, target, estimate, device)
        # Per-synapse parameters in the state dtype, like the device rows (case D10).
        self._int_p = self._int_p._replace(gain=self._int_p.gain.astype(self.dtype))
        self._src_noise = self._src_noise._replace(amp=self._src_noise.amp.astype(self.dtype),
                                                   freq=self._src_noise.freq.astype(self.dtype))
        if self._src_noise.measured and self._cost_p.match and self._cost_p.latency:
            raise ConfigError("chip.perturbation.reference = 'measured' with "
                              "chip.cost_line.match_delay = true: a delayed copy of the applied "
                              "perturbation would have to be stored; not modelled")
        if optimizer not in OPTIMIZERS:
            raise ConfigError(f"learn.optimizer = {optimizer!r}: allowed: {', '.join(OPTIMIZERS)}")
        for name, v in (("learn.momentum", momentum), ("learn.beta2", beta2)):
            if not (np.isfinite(v) and 0.0 <= v < 1.0):
                raise ConfigError(f"{name} = {v!r}: must be a finite number in [0, 1)")
        for name, v, strict in (("learn.eps", eps, True), ("learn.clip", clip, False)):
            if not (np.isfinite(v) and (v > 0 if strict else v >= 0)):
                raise ConfigError(f"{name} = {v!r}: must be a finite number "
                                  f"{'>' if strict else '≥'} 0")
        self.optimizer = optimizer
        self._opt_p = _opt.OptimizerParams(np.int64(OPTIMIZERS[optimizer]), float(eta),
                                           float(momentum), float(beta2), float(eps),
                                           float(clip))
        for name, v, strict in (("learn.sign_step", sign_step, True),
                                ("learn.write_threshold", write_threshold, False)):
            if not (np.isfinite(v) and (v > 0 if strict else v >= 0)):
                raise ConfigError(f"{name} = {v!r}: must be a finite number "
                                  f"{'>' if strict else '≥'} 0")
        if write_residue not in WRITE_RESIDUES:
            raise ConfigError(f"learn.write_residue = {write_residue!r}: allowed: "
                              f"{', '.join(WRITE_RESIDUES)}")
        pulsed = device is not None and device.model != "Ideal"
        if (optimizer == "sign" or write_threshold > 0) and not pulsed:
            what = ("learn.optimizer = 'sign'" if optimizer == "sign" else
                    f"learn.write_threshold = {write_threshold!r}")
            raise ConfigError(f"{what}: needs a pulsed device (chip.device other than "
                              "'ideal'): its step is counted in units of the device's dw_min")
        dw_min = float(device.params.dw_min) if pulsed else 0.0
        self._opt_p = self._opt_p._replace(
            sign_step=float(sign_step) * dw_min, threshold=float(write_threshold) * dw_min,
            residue=np.int64(WRITE_RESIDUES[write_residue]))
        self.write_threshold = float(write_threshold)
        n_res = P if write_threshold > 0 else 0
        n_m1 = P if optimizer not in ("plain", "sign") else 0
        n_m2 = P if optimizer == "adam" else 0
        self._counter_p = cp
        self._noisy = 0
        self.read_noise_model = "none"
        self._sense = sense
        pert = np.zeros(n_pert, self.dtype)
        zeros = np.zeros(P, self.dtype)
        self.state = _step.State(
            theta=theta, G=np.zeros(P, self.dtype), applied=pert,
            reference=(np.zeros(n_pert, self.dtype) if (self._cost_p.match and
                       self._cost_p.latency) or (self._src_noise.nonideal and not
                                                 self._src_noise.measured) else pert),
            negative=np.zeros(n_pert if estimate == "two_sided" else 0, self.dtype),
            req=np.zeros(P), m1=np.zeros(n_m1, self.dtype), m2=np.zeros(n_m2, self.dtype),
            order=np.zeros(self.n_samples, dtype=np.int64),
            clock=_clk.clock_state(), cost_line=_cl.cost_line_state(),
            counters=_cnt.counters(), driver=np.zeros(3, np.int64),
            rb0=np.zeros(P, self.dtype), rb1=np.zeros(P, self.dtype), zeros=zeros,
            out=np.zeros(2), line_mem=_cl.line_mem(self._cost_p.latency),
            src_buf=np.zeros(n_buf, self.dtype), residue=np.zeros(n_res),
            written=np.zeros(n_res))
        self._dev = _ideal_dev(P, seed, self.dtype)
        self.device = device
        if device is not None and device.model != "Ideal":
            self._attach(device, update_rounding, max_pulses, read_noise_model,
                         bool(symmetry_reference))
            if sense.kind == _sense.NET and self.read_noise_model != "none":
                raise ConfigError(f"network.layers: device read noise is not modelled for conv "
                                  f"networks yet (the {device.model} device reads with noise, "
                                  "device.read_noise); use a profile without read noise")
        elif symmetry_reference:
            raise ConfigError("chip.symmetry_reference = true: needs a pulsed device "
                              "(chip.device other than 'ideal')")
        elif read_noise_model not in READ_NOISE_MODELS:
            raise ConfigError(f"chip.read_noise_model = {read_noise_model!r}: allowed: "
                              f"{', '.join(READ_NOISE_MODELS)}")
        if self.source_kind == "write_noise":
            self._use_write_noise_source(device, tau_p, tau_x, tau_theta)
        self._use_transfer(transfer, theta, bool(symmetry_reference))

    @staticmethod
    def estimate_bytes(P: int, n_samples: int, dtype=np.float64) -> int:
        """Bytes the chip's own state arrays take for P parameters and N training samples:
        θ, G, the applied code, two read buffers, zeros and up to two optimizer states (state
        dtype), the float64 update request, and the data order (int64); device arrays are counted by
        :meth:`hwsim.chip.devices.DeviceArray.estimate_bytes`."""
        return int(9 * P * np.dtype(dtype).itemsize + 8 * P + 8 * n_samples)

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

    @property
    def params(self) -> _step.Params:
        """Every stage's parameter record, as the driver takes them."""
        return _step.Params(self._clock_p, self.source, self._cost_p, self._int_p, self._opt_p,
                            self._counter_p, np.int64(self._noisy), self._src_noise, self._tt)

    @property
    def model(self) -> _step.Model:
        """The sense model and the device tuples (A, C), as the driver takes them."""
        return _step.Model(self._sense, self._dev, self._dev_c)

    # -- named state ----------------------------------------------------------------------
    @property
    def theta(self) -> np.ndarray:
        """The weights the network sees, (P,) (the devices' values on real synapses)."""
        return self.state.theta

    @property
    def grad(self) -> np.ndarray:
        """The integrators G, (P,)."""
        return self.state.G

    @property
    def pert(self) -> np.ndarray:
        """The applied perturbation θ̃ of the current code period, (P,) or (M,) on nodes."""
        return self.state.applied

    @property
    def has_devices(self) -> bool:
        """True when the weights live on non-ideal synapse devices."""
        return self.device is not None and self.device.model != "Ideal"

    @property
    def noisy_reads(self) -> bool:
        """True when every inference reads the weights through the devices' read noise."""
        return self.read_noise_model in ("per_weight", "per_neuron")

    def pulse_settings(self) -> dict:
        """The pulse rounding and cap in effect (after any chip override); empty when ideal."""
        if not self.has_devices:
            return {}
        I = self.device.dev[0]
        return {"pulse_rounding": "stochastic" if I[_dk.I_ROUNDING] == _dk.ROUND_STOCHASTIC
                else "nearest", "max_pulses": int(I[_dk.I_MAX_PULSES])}

    def device_stats(self) -> dict:
        """Counters of the synapse devices (pulses, clipped writes, ...); empty when ideal.
        With Tiki-Taka transfer, the sums over both arrays A and C."""
        if not self.has_devices:
            return {}
        st = dict(self.device.stats)
        if self.device_c is not None:
            st = {k: v + (self.device_c.stats[k] if k != "updates" else 0)
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

    def drift_to(self, t_s: float) -> None:
        """Let the devices drift, without any step, to hardware time ``t_s`` seconds.

        A no-op on ideal synapses or devices without drift. Drift changes θ, so the cost
        baseline C₀ is stale: the next step remeasures it (mgd.md: recompute C₀ when θ changed).
        """
        if self.has_devices:
            self.device.drift(t_s)
            if self.device.params.drift != "none":
                self.state.cost_line[0]["stale"] = 1

    @property
    def step(self) -> int:
        """Hardware steps taken so far (an integer: hardware time is step * dt)."""
        return int(self.state.clock[0]["step"])

    @property
    def updates(self) -> int:
        """Weight updates applied so far."""
        return int(self.state.clock[0]["updates"])

    @property
    def code_period(self) -> int:
        """Code period in code steps (Walsh H, FDMA M, TDMA P; 0 for CDMA)."""
        return int(self.source.period)

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

    def advance(self, n_steps: int) -> int:
        """Run ``n_steps`` hardware steps; returns a kernel status (0 = ok).

        On a non-finite cost the chip stops at that step (``bad_step``) with state intact.

        Raises
        ------
        ConfigError
            ``n_steps`` is not a non-negative integer.
        """
        check_int("n_steps", n_steps, 0)
        run = _fast.run_fast if self.fast_path_applies() else _step.run_steps
        return int(run(np.int64(n_steps), self.params, self.state, self.model))

    #: Set False (on the class or one chip) to force the general stage driver.
    fast_path = True

    def fast_path_applies(self) -> bool:
        """True when :meth:`advance` runs the fused kernel :func:`hwsim.kernels.fast.run_fast`
        (bit-identical to the general driver): an MLP without periphery on ideal synapses,
        discrete mode, weight perturbation by CDMA or Walsh codes, plain optimizer, no
        write-based perturbation, one sample per step (``batch`` = 1), an ideal cost line and
        ideal integrators."""
        return bool(self.fast_path and self._sense.kind == _sense.MLP
                    and self._dev[0][_dk.I_MODEL] == _dk.M_IDEAL and not self._noisy
                    and self._cost_p.mode == _cl.DISCRETE
                    and self.source.code in (_codes.CDMA, _codes.WALSH)
                    and self.source.by_write == 0 and self.source.nodes == 0
                    and self._cost_p.two_sided == 0
                    and self._cost_p.nonideal == 0 and self._int_p.nonideal == 0
                    and self._src_noise.nonideal == 0
                    and self._opt_p.kind == _opt.PLAIN and self.batch == 1
                    and not self._tt.on)

    @property
    def bad_step(self) -> int:
        """The step at which the kernel met a non-finite cost (valid after a non-zero status)."""
        return int(self.state.driver[1])

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
