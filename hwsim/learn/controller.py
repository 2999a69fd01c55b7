"""The MGD learning rule in plain Python, driving any chip through its port (chip-in-the-loop).

:class:`MGDController` is mgd.md's algorithm written out step by step against a
:class:`hwsim.chip.port.ChipPort`: the clocks (τx, τp, τθ), the code, C̃ from the measured
costs, the lock-in integrators G and the plain update Δθ = −η·G. It needs nothing from the chip
but the port, so a real instrument can stand in for the emulator; on the emulator it gives
the same bits as the fused driver (tested on every code, both modes, with and without
devices). It is the reference, not the fast path: a step costs a few Python calls.

References
----------
McCaughan, Oripov et al., "Multiplexed gradient descent", APL Mach. Learn. 1, 026118 (2023).
"""

import math

import numpy as np

from hwsim.chip.perturbation import CODES, code_amplitude, code_period
from hwsim.chip.signal_path import cost_line_params, integrator_params
from hwsim.exceptions import ConfigError
from hwsim.kernels.clocks import shuffle_order
from hwsim.kernels.codes import SourceParams, code_values
from hwsim.kernels.cost_line import CostLineParams
from hwsim.kernels.hashing import STREAM_COST_NOISE, hash4, normal_from_bits
from hwsim.kernels.integrator import IntegratorParams


class MGDController:
    """Train a chip through its port with discrete or analog MGD.

    Parameters
    ----------
    port : hwsim.chip.port.ChipPort
    seed : int
        Master seed of the codes and the data order (as the emulator's).
    perturbation : {"cdma", "walsh", "fdma", "tdma"}
    mode : {"discrete", "analog"}
    amplitude, eta, tau_p, tau_x, tau_theta, tau_hp, fdma_period
        As :class:`hwsim.chip.Chip` (mgd.md, "Notation and parameters").
    target : {"weights", "nodes"}
        Perturb the P parameters, or the port's M nodes (the port must offer ``n_nodes``,
        ``apply_nodes``, ``postsynaptic`` and ``presynaptic``): each synapse then integrates
        its node's correlation times its own presynaptic activity.
    estimate : {"one_sided", "two_sided"}
        C̃ = C − C₀, or (C(θ + θ̃) − C(θ − θ̃))/2 (discrete mode).
    optimizer, momentum, beta2, eps, clip
        The local update rule on G, as :mod:`hwsim.kernels.optimizer`.
    sign_step : float
        Step of ``optimizer = "sign"`` in weight units (the chip's ``sign_step·dw_min``).
    write_threshold : float
        Must be 0: threshold writes need the pulse count or a read-back of every write,
        which a :class:`~hwsim.chip.port.ChipPort` does not report; use the fused driver.
    dtype : numpy dtype
        Precision of the integrators G (the chip's state dtype, for bit-equality).
    batch : int
        B ≥ 1: every τx steps present the next B samples of the data order together
        (presentation k: draws k·B … k·B + B − 1 of the per-epoch permutations, as
        :func:`hwsim.kernels.clocks.fill_batch`); the port's costs are then batch means.
        With ``target = "nodes"`` the port's n_nodes = M·B (each sample's nodes have their
        own code) and each synapse integrates Σ_b g_{b,i}·x_{b,j}.
    cost_line, integrator : mapping or None
        The nonideal cost line and integrators, with the keys of ``[chip.cost_line]`` and
        ``[chip.integrator]`` (docs/chip.md), written out here in plain Python: noise,
        bandwidth, quantiser and latency of C̃ (the reference delayed by the latency when
        matched, regenerated from the code's counter hash); leak, gain mismatch, offset,
        counter bits, saturation and partial reset of G.
    dt : float
        Seconds per step (for ``cost_line["latency_s"]``).

    Attributes
    ----------
    G : ndarray (P,)
        The integrators.
    step : int
        The next hardware step.
    counters : dict
        Events of the rule: code values generated, C̃ broadcasts, integrator operations,
        update requests and updates (the port counts its own inferences).

    Raises
    ------
    ConfigError
        Unknown code or mode, or analog mode with τx = 1.
    """

    def __init__(self, port, *, seed=0, perturbation="cdma", mode="discrete", amplitude=0.05,
                 eta=1.0, tau_p=1, tau_x=1, tau_theta=1, tau_hp=10.0, fdma_period=0,
                 target="weights", estimate="one_sided", optimizer="plain", momentum=0.9,
                 beta2=0.999, eps=1e-8, clip=0.0, sign_step=0.0, write_threshold=0.0, dtype=np.float64, batch=1,
                 cost_line=None, integrator=None, dt=1e-6):
        if write_threshold != 0.0:
            raise ConfigError(f"learn.write_threshold = {write_threshold!r}: not available in "
                              "the plain-Python controller (a ChipPort reports no pulse counts "
                              "or read-backs); allowed: 0, or use the fused driver "
                              "(hwsim.chip.Chip)")
        if perturbation not in CODES or mode not in ("discrete", "analog"):
            raise ConfigError(f"perturbation {perturbation!r} / mode {mode!r}: allowed: "
                              f"{', '.join(CODES)} / discrete, analog")
        if mode == "analog" and tau_x == 1:
            raise ConfigError("mgd.tau_x = 1: must be > 1 in analog mode")
        self.port = port
        P = self.P = int(port.n_params)
        if target not in ("weights", "nodes"):
            raise ConfigError(f"mgd.target = {target!r}: allowed: weights, nodes")
        self.target = target
        if estimate not in ("one_sided", "two_sided") or (estimate == "two_sided"
                                                          and mode != "discrete"):
            raise ConfigError(f"mgd.estimate = {estimate!r}: allowed: one_sided, or two_sided "
                              "in discrete mode")
        self.two_sided = estimate == "two_sided"
        Q = int(port.n_nodes) if target == "nodes" else P  # perturbed quantities
        self._post = port.postsynaptic() if target == "nodes" else None
        self.seed, self.mode = int(seed), mode
        self.eta, self.tau_p, self.tau_x, self.tau_theta = float(eta), tau_p, tau_x, tau_theta
        self.source = SourceParams(np.int64(CODES[perturbation]),
                                   code_amplitude(perturbation, amplitude, Q),
                                   np.int64(code_period(perturbation, Q, fdma_period)),
                                   np.int64(seed), np.int64(0), np.int64(target == "nodes"))
        self.Q = Q
        self.inv_d2 = 1.0 / (amplitude * amplitude)
        self.a_hp = tau_hp / (tau_hp + 1.0)
        self.lp_keep, self.lp_new = tau_theta / (tau_theta + 1.0), 1.0 / (tau_theta + 1.0)
        self.dtype = np.dtype(dtype)
        if optimizer not in ("plain", "momentum", "nesterov", "adam", "sign"):
            raise ConfigError(f"learn.optimizer = {optimizer!r}: allowed: plain, momentum, "
                              "nesterov, adam, sign")
        if optimizer == "sign" and not (math.isfinite(sign_step) and sign_step > 0):
            raise ConfigError(f"sign_step = {sign_step!r}: must be a finite number > 0 (weight "
                              "units) with optimizer = 'sign'")
        self.sign_step = float(sign_step)
        self.optimizer, self.beta, self.beta2, self.eps, self.clip = (
            optimizer, float(momentum), float(beta2), float(eps), float(clip))
        self.m1 = np.zeros(P, self.dtype)  # velocity, or Adam's first moment
        self.m2 = np.zeros(P, self.dtype)  # Adam's second moment
        self.G = np.zeros(P, self.dtype)
        self.code = np.zeros(Q, self.dtype)
        self.step = 0
        self.updates = 0
        self.c0 = self.ctilde = self.cprev = 0.0
        self.stale = True
        self.line = cost_line_params(CostLineParams(0, 0.0, 0), cost_line, dt=dt, seed=seed,
                                     target=target)
        self.integ = integrator_params(IntegratorParams(0.0, 0.0, 0.0), integrator, seed=seed,
                                       P=P, mode=mode, target=target)
        # Per-synapse gains in the state dtype, as the chip holds them (case D10).
        self.integ = self.integ._replace(gain=self.integ.gain.astype(self.dtype))
        self._lp = 0.0
        self.received = 0.0
        self._ring = [0.0] * int(self.line.latency)
        self._matched = bool(self.line.match) and self.line.latency > 0
        self.ref = np.zeros(Q, self.dtype)
        self.counters = dict(code_generations=0, cost_broadcasts=0, cost_clipped=0,
                             integrator_ops=0,
                             synapse_multiplies=0, update_requests=0, updates_sent=0,
                             steps=0)
        self._order = np.zeros(port.n_samples, np.int64)
        self._epoch = -1
        if int(batch) < 1:
            raise ConfigError(f"mgd.batch = {batch}: must be ≥ 1")
        if target == "nodes" and Q % int(batch):
            raise ConfigError(f"mgd.batch = {batch}: the port's {Q} nodes are not B per-sample "
                              "copies of the network's nodes")
        self.batch = int(batch)

    def _batch(self, n):
        """The B sample numbers of the presentation starting at step n."""
        B, N = self.batch, self.port.n_samples
        out = []
        for d in range(n // self.tau_x * B, (n // self.tau_x + 1) * B):
            epoch, pos = divmod(d, N)
            if epoch != self._epoch:
                shuffle_order(self._order, np.int64(self.seed), np.int64(epoch))
                self._epoch = epoch
            out.append(int(self._order[pos]))
        return out

    def _sample(self, n):
        k = n // self.tau_x
        epoch, pos = divmod(k, self.port.n_samples)
        if epoch != self._epoch:
            shuffle_order(self._order, np.int64(self.seed), np.int64(epoch))
            self._epoch = epoch
        return int(self._order[pos])

    def _measure_two_sided(self, n):
        """(C(θ + θ̃), C̃) with C̃ = (C(θ + θ̃) − C(θ − θ̃))/2; with nodes the minus pass first,
        so the presynaptic activity read after it is the plus pass's (as the fused driver)."""
        neg = -self.code
        if self.target == "nodes":
            self.port.apply_nodes(neg)
            c_minus = self.port.measure()
            c_plus = self._measure_perturbed()
        else:
            c_plus = self._measure_perturbed()
            self.port.apply(neg)
            c_minus = self.port.measure()
        if not (math.isfinite(c_plus) and math.isfinite(c_minus)):
            raise FloatingPointError(f"non-finite cost at step {n}")
        return c_plus, 0.5 * (c_plus - c_minus)

    def _close_step(self, n, ct):
        self.ctilde = ct
        self.counters["cost_broadcasts"] += 1
        self.counters["integrator_ops"] += self.Q
        if self.target == "nodes":
            self.counters["synapse_multiplies"] += self.P * self.batch
        self.counters["steps"] += 1
        self.step = n + 1

    def _line(self, ct, n):
        """The value of C̃ the synapses receive at step n (noise, low-pass, quantiser, delay)."""
        p = self.line
        if not p.nonideal:
            self.received = ct
            return ct
        x = ct
        if p.noise_std > 0.0:
            x = x + p.noise_std * normal_from_bits(np.uint64(hash4(p.seed, STREAM_COST_NOISE, n, 0)))
        if p.lp_keep > 0.0:
            x = p.lp_keep * self._lp + (1.0 - p.lp_keep) * x
            self._lp = x
        if p.q_bits > 0:
            kmax = (1 << (int(p.q_bits) - 1)) - 1
            lsb = p.q_range / kmax
            if abs(x) > p.q_range:
                x = math.copysign(kmax * lsb, x)
                self.counters["cost_clipped"] += 1
            else:
                x = math.floor(x / lsb + 0.5) * lsb
        if p.latency > 0:
            slot = n % int(p.latency)
            x, self._ring[slot] = self._ring[slot], x
        self.received = float(x)
        return x

    def _integrate(self, g64, s, ref64):
        """G after one step: G + s·ref, or the nonideal integrator (leak, gain mismatch,
        offset, counter bits, saturation), element by element as the integrator stage."""
        ip = self.integ
        if not ip.nonideal:
            return g64 + self._correlate(s, ref64)
        u = s * ref64
        if ip.gain.size:
            u = u * ip.gain
        if ip.offset != 0.0:
            u = u + ip.offset
        if ip.leak_keep != 1.0 or ip.leak_in != 1.0:
            v = ip.leak_keep * g64 + ip.leak_in * u
        else:
            v = g64 + u
        if ip.q_bits > 0:
            kmax = float((1 << (int(ip.q_bits) - 1)) - 1)
            q = v / ip.q_lsb
            v = np.where(q >= kmax, kmax * ip.q_lsb, np.where(
                q <= -kmax, -kmax * ip.q_lsb, np.floor(q + 0.5) * ip.q_lsb))
        if ip.sat > 0.0:
            v = np.minimum(np.maximum(v, -ip.sat), ip.sat)
        return v

    def _measure_perturbed(self):
        if self.target == "nodes":
            self.port.apply_nodes(self.code)
            c = self.port.measure()
            self._pre = self.port.presynaptic()
            return c
        self.port.apply(self.code)
        return self.port.measure()

    def _correlate(self, s, code64):
        """Each integrator's input: s·θ̃ (weights), or (s·ñ_node)·x_pre (nodes); with a
        minibatch Σ_b (s·ñ_{b,node})·x_{b,pre} over the per-sample node codes, in batch order
        (as :func:`hwsim.kernels.nodes.integrate_nodes_batch`)."""
        if self.target == "nodes" and self.batch > 1:
            M = self.Q // self.batch
            u = np.zeros(self.P)
            for b in range(self.batch):
                u = u + (s * code64[b * M:(b + 1) * M])[self._post] * self._pre[b]
            return u
        if self.target == "nodes":
            return (s * code64)[self._post] * self._pre
        return s * code64

    def _request(self):
        """Δθ from G by the local rule (the same arithmetic as the optimizer stage)."""
        g = self.G.astype(np.float64)
        b, eta = self.beta, self.eta
        if self.optimizer == "plain":
            req = -eta * g
        elif self.optimizer == "sign":
            req = -self.sign_step * np.sign(g)
        elif self.optimizer in ("momentum", "nesterov"):
            self.m1[:] = b * self.m1.astype(np.float64) + g
            v = self.m1.astype(np.float64)
            req = -eta * v if self.optimizer == "momentum" else -eta * (g + b * v)
        else:
            t = float(self.updates + 1)
            c1, c2 = 1.0 - b ** t, 1.0 - self.beta2 ** t
            self.m1[:] = b * self.m1.astype(np.float64) + (1.0 - b) * g
            self.m2[:] = self.beta2 * self.m2.astype(np.float64) + (1.0 - self.beta2) * (g * g)
            req = -eta * (self.m1.astype(np.float64) / c1) / (
                np.sqrt(self.m2.astype(np.float64) / c2) + self.eps)
        if self.clip > 0.0:
            req = np.clip(req, -self.clip, self.clip)
        return req

    def _write(self):
        req = self._request()
        self.counters["update_requests"] += self.P
        self.counters["updates_sent"] += 1
        self.port.write(req, self.updates)

    def run(self, n_steps):
        """Advance ``n_steps`` hardware steps; returns the last C̃.

        Raises
        ------
        FloatingPointError
            A non-finite cost, naming the step (the chip keeps the state of that step).
        """
        port, G = self.port, self.G
        ct = self.ctilde
        for _ in range(int(n_steps)):
            n = self.step
            port.clock(n)
            new_input = n % self.tau_x == 0
            if new_input:
                port.present(self._sample(n) if self.batch == 1 else self._batch(n))
                self.stale = True
            if n % self.tau_p == 0:
                self.code = code_values(self.source, n // self.tau_p, self.Q, self.dtype)
                self.counters["code_generations"] += self.Q
            L = int(self.line.latency)
            if self._matched and n - L >= 0 and (n - L) % self.tau_p == 0:
                self.ref = code_values(self.source, (n - L) // self.tau_p, self.Q, self.dtype)
                self.counters["code_generations"] += self.Q
            g64 = G.astype(np.float64)
            code64 = self.code.astype(np.float64)
            ref64 = self.ref.astype(np.float64) if self._matched else code64
            if self.mode == "discrete":
                if n % self.tau_theta == 0 and n > 0:
                    if self.eta != 0.0:
                        self._write()
                        self.stale = True
                    if self.integ.nonideal:
                        G[:] = self.integ.reset_keep * g64
                        g64 = G.astype(np.float64)
                    else:
                        G[:] = 0.0
                        g64[:] = 0.0
                    self.updates += 1
                if self.two_sided:
                    c, ct = self._measure_two_sided(n)
                    G[:] = self._integrate(g64, self._line(ct, n) * self.inv_d2, ref64)
                    self._close_step(n, ct)
                    continue
                c = self._measure_perturbed()
                if self.stale:
                    port.apply(None)
                    self.c0 = port.measure()
                    if not math.isfinite(self.c0):
                        raise FloatingPointError(f"non-finite baseline cost at step {n}")
                    self.stale = False
                if not math.isfinite(c):
                    raise FloatingPointError(f"non-finite cost at step {n}")
                ct = c - self.c0
                G[:] = self._integrate(g64, self._line(ct, n) * self.inv_d2, ref64)
            else:
                c = self._measure_perturbed()
                if not math.isfinite(c):
                    raise FloatingPointError(f"non-finite cost at step {n}")
                if new_input or n == 0:
                    self.cprev = c
                ct = self.a_hp * (self.ctilde + c - self.cprev)
                self.cprev = c
                cr = self._line(ct, n)
                G[:] = self.lp_keep * g64 + self.lp_new * self._correlate(cr * self.inv_d2, ref64)
                if self.eta != 0.0:
                    self._write()
                self.updates += 1
            self._close_step(n, ct)
        return ct
