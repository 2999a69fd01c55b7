"""The step driver: advance a chip through many hardware steps in one call, stage by stage.

One discrete step n (mgd.md, "One discrete step"; McCaughan, Oripov et al., APL Mach. Learn.
1, 026118 (2023), Sec. II), each line a stage of its own module:

1. clocks (:mod:`.clocks`): every τx steps present the next sample (baseline stale); an update
   is due every τθ steps; a new code every τp;
2. optimizer + device write (:mod:`.optimizer`, :mod:`.devices`): when due, Δθ = −η·G is
   delivered to the synapses and G is reset (:mod:`.integrator`); the baseline is stale;
3. perturbation source (:mod:`.codes`): the applied θ̃ and the reference;
4. sense (:mod:`.sense`): C = C(θ + θ̃), and C₀ = C(θ) when stale;
5. cost line (:mod:`.cost_line`): C̃ = C − C₀, then the nonideal line when on (noise,
   bandwidth, quantiser, latency L; the reference delayed by L when matched);
6. integrator: G += C̃·θ̃_ref/Δ² (or the nonideal integrator: leak, gain, offset, counter
   bits, saturation, partial reset);
7. counters (:mod:`.counters`) throughout.

Analog mode replaces 5–6 with the high-pass of C and the low-pass of G, and writes every step.
Hardware time is t = n·dt at step n: device writes and reads are stamped with their own step's
time, so results do not depend on how the timeline chunks the run.

All state lives in arrays the caller owns (:class:`State`), so a call can stop at any step
and the next call continues bit-identically. The driver takes no function objects, so its
compiled code is cached on disk and reused by the next process.
"""

import math
from collections import namedtuple

import numpy as np

from hwsim.kernels import cost_line as _cl
from hwsim.kernels import integrator as _int
from hwsim.kernels import noise_source as _wns
from hwsim.kernels import optimizer as _opt
from hwsim.kernels import pert_write as _pw
from hwsim.kernels import sources as _src
from hwsim.kernels import transfer as _tt
from hwsim.kernels._config import jit
from hwsim.kernels.clocks import fill_batch, shuffle_order
from hwsim.kernels.codes import fill_code
from hwsim.kernels.devices import (I_MODEL, M_IDEAL, S_TIME, apply_pulses, apply_update,
                                   read_weights)
from hwsim.kernels.nodes import integrate_nodes, measure_nodes, node_pass
from hwsim.kernels.sense import count, measure_one, sense, stored_cost

STATUS_OK, STATUS_NONFINITE_COST, STATUS_NONFINITE_BASE = 0, 1, 2
# Random coordinates of perturbation writes, apart from those of weight updates (< 2**61).
PERT_WRITE_COUNTER = 1 << 61
# Read-noise coordinates of threshold-write read-backs, apart from the steps' reads.
READBACK_COUNTER = 1 << 60

#: Every stage's parameters, plus ``noisy_reads`` (1: weights are read through the devices
#: with read noise on every inference).
#: ``sources`` the nonideal source (:class:`.sources.SourceNoise`); ``transfer`` the
#: Tiki-Taka transfer (:class:`.transfer.TransferParams`, ``on`` = 0 when off).
Params = namedtuple("Params", "clock source cost_line integrator optimizer counters noisy_reads "
                              "sources transfer")

#: Every state array. ``theta`` (P,) the weights the network sees; ``G`` (P,) integrators;
#: ``applied``/``reference`` (P,) the perturbation on the synapses and the one each
#: integrator correlates with (the same array on an ideal source); ``negative`` −θ̃ for the
#: two-sided estimate (empty otherwise); ``req`` (P,) float64 the
#: update request; ``m1``, ``m2`` (P,) the optimizer's per-synapse state (velocity, or
#: Adam's moments; empty when the rule has none); ``order`` (N,) the data-order permutation
#: (derived); ``clock``,
#: ``cost_line``, ``counters`` one-element records; ``driver`` int64 [status, bad step, perturbation written into the devices (write-based source)];
#: ``rb0``, ``rb1``, ``zeros`` (P,) read buffers and zeros; ``out`` float64 (2,) scratch;
#: ``line_mem`` float64 (2 + L,) the nonideal cost line's memory (:func:`.cost_line.line_mem`);
#: ``src_buf`` the nonideal source's nominal code, target and generators (empty when ideal);
#: ``residue`` (P,) float64 the threshold-write residue and ``written`` (P,) float64 what the
#: last write delivered (both empty when threshold writes are off). Tiki-Taka transfer
#: (:mod:`.transfer`; all empty when off): ``tt_a``, ``tt_c`` (P,) the weights of the fast
#: array A and the slow array C (``theta`` = γ·A + C); ``tt_h`` (P,) float64 the TTv2
#: accumulator H; ``tt_chop`` (n_cols,) float64 the chopper signs; ``tt_ptr`` (L,) int64 each
#: layer's next column; ``tt_req`` (P,) float64 C's request.
State = namedtuple("State", "theta G applied reference negative req m1 m2 order clock "
                            "cost_line counters driver rb0 rb1 zeros out line_mem src_buf "
                            "residue written tt_a tt_c tt_h tt_chop tt_ptr tt_req",
                   defaults=(None,) * 8)

#: What the chip is: the sense model, the device tuple of :mod:`.devices` (Tiki-Taka's fast
#: array A when transfer is on) and ``dev_c``, the slow array C's (a zero-size tuple when off).
Model = namedtuple("Model", "sense dev dev_c")


@jit
def fail(s, status, n):
    """Record a non-finite status at step ``n`` (the chip stops there, state intact)."""
    s.driver[0] = status
    s.driver[1] = n
    return status


@jit
def _write(p, s, dev, dev_c, k):
    """Optimizer + device write: deliver Δθ = −η·G as update number ``k`` (through the
    threshold gate and its residue when ``p.optimizer.threshold`` > 0). With Tiki-Taka
    transfer the request (chopped) goes to the fast array A, then the transfer stage runs
    (:func:`hwsim.kernels.transfer.after_update`)."""
    op = p.optimizer
    _opt.request(op, s.G, s.req, s.m1, s.m2, k + 1)
    cnt = s.counters[0]
    cnt.update_requests += s.G.shape[0]
    cnt.updates_sent += 1
    tp = p.transfer
    tt = tp.on == 1
    w = s.tt_a if tt else s.theta
    if tt and tp.chop_p > 0.0:
        _tt.chop_request(tp, s.tt_chop, s.req)
    if op.threshold > 0.0:
        _threshold_write(op, s, dev, k, w)
    else:
        apply_update(dev, w, s.req, k)
    if tt:
        _tt.after_update(tp, s, dev, dev_c, k)


@jit
def _threshold_write(op, s, dev, k, theta):
    """Threshold writes (:func:`hwsim.kernels.optimizer.gate`): write where the residue plus
    the request crosses the threshold, then subtract the nominal or read-back written amount.
    A read-back reads each writing synapse before and after its write (read-noise coordinates
    READBACK_COUNTER + k, sub 0 and 1), counted in ``readback_reads``."""
    n_write = _opt.gate(op, s.req, s.residue)
    w = s.written
    if op.residue == _opt.RESIDUE_READ_BACK:
        read_weights(dev, theta, s.rb1, READBACK_COUNTER + k, 0)
        apply_update(dev, theta, s.req, k)
        read_weights(dev, theta, s.rb0, READBACK_COUNTER + k, 1)
        for i in range(w.shape[0]):
            w[i] = (s.rb0[i] - np.float64(s.rb1[i])) if s.req[i] != 0.0 else 0.0
        s.counters[0].readback_reads += 2 * n_write
    else:
        apply_pulses(dev, theta, s.req, k, w, True)
    _opt.settle(s.residue, w)


@jit
def _sense_by_write(p, s, m, want_base, new_code, n, k_code):
    """Sense with the code held in the devices (write-based perturbation, discrete mode).

    Remove the code (as pulses) for a baseline read, then write the new code; what the pulses
    really deliver is the physics. Perturbation writes use their own random coordinates and
    are counted at the device limits (:mod:`.pert_write`: clipped, zero pulses).
    """
    cnt = s.counters[0]
    dev = m.dev
    theta = s.theta
    pert = s.applied
    req = s.req
    P = theta.shape[0]
    noisy = p.noisy_reads == 1
    sample = s.clock[0].sample
    written = s.driver[2]
    k = PERT_WRITE_COUNTER + 2 * n
    if want_base and written == 1:
        for i in range(P):
            req[i] = -pert[i]
        _pw.code_write(dev, theta, req, k, s.written, cnt)  # θ -= code
        written = 0
    if want_base:
        stored_cost(m.sense, dev, noisy, theta, s.rb1, s.zeros, sample, s.out, n, 1)
        s.out[1] = s.out[0]
        count(cnt, p.counters, 0, 1)
    if new_code or written == 0:
        for i in range(P):
            req[i] = -pert[i] if written == 1 else 0.0
        if new_code:
            fill_code(pert, p.source, k_code)
            cnt.code_generations += P
        for i in range(P):
            req[i] += pert[i]
        _pw.code_write(dev, theta, req, k + 1, s.written, cnt)  # θ += new − old code
        written = 1
    stored_cost(m.sense, dev, noisy, theta, s.rb0, s.zeros, sample, s.out, n, 0)
    count(cnt, p.counters, 1, 0)
    s.driver[2] = written


@jit
def _sense_nodes(p, s, m, want_base, n):
    """Sense with node perturbation: reads through the devices when noisy (sub 0 perturbed,
    1 baseline), then the unperturbed (when stale) and the node-perturbed inference."""
    sample = s.clock[0].sample
    if p.noisy_reads == 1:
        read_weights(m.dev, s.theta, s.rb0, n, 0)
        if want_base:
            read_weights(m.dev, s.theta, s.rb1, n, 1)
            s.out[1] = node_pass(m.sense, s.rb1, s.applied, False, sample, n, 1)
        s.out[0] = node_pass(m.sense, s.rb0, s.applied, True, sample, n, 0)
    else:
        measure_nodes(m.sense, s.theta, s.applied, sample, want_base, s.out, n)
    count(s.counters[0], p.counters, 1, 1 if want_base else 0)


@jit
def _sense_two_sided(p, s, m, n):
    """C(θ + θ̃) into ``out[0]`` and C(θ − θ̃) into ``out[1]`` (two-sided estimate).

    The k-th inference of a step reads the weights with read-noise sub-coordinate k, and its
    converters with noise sub-coordinate k. With node perturbation the minus pass comes
    first, so the activations left in the sense buffers are the plus pass's: the presynaptic
    activity each synapse integrates.
    """
    sample = s.clock[0].sample
    nodes = p.source.nodes == 1
    w0 = s.theta
    w1 = s.theta
    if p.noisy_reads == 1:
        read_weights(m.dev, s.theta, s.rb0, n, 0)
        read_weights(m.dev, s.theta, s.rb1, n, 1)
        w0 = s.rb0
        w1 = s.rb1
    if nodes:
        c_minus = node_pass(m.sense, w0, s.negative, True, sample, n, 0)
        c_plus = node_pass(m.sense, w1, s.applied, True, sample, n, 1)
    else:
        measure_one(m.sense, w0, s.applied, sample, s.out, n, 0)
        c_plus = s.out[0]
        measure_one(m.sense, w1, s.negative, sample, s.out, n, 1)
        c_minus = s.out[0]
    s.out[0] = c_plus
    s.out[1] = c_minus
    count(s.counters[0], p.counters, 2, 0)


@jit
def _delayed_reference(p, s, ref, k):
    """The nominal code of period ``k`` into ``ref`` (the reference delayed by the latency)."""
    if p.sources.nonideal == 1:
        M = ref.shape[0]
        _src.nominal_code(ref, s.src_buf[2 * M:], p.source, p.sources, k)
    else:
        fill_code(ref, p.source, k)


@jit
def run_steps(n_steps, p, s, m):
    """Advance MGD by ``n_steps`` hardware steps (or until a non-finite cost).

    Parameters
    ----------
    n_steps : int
    p : Params
    s : State
    m : Model

    Returns
    -------
    int
        STATUS_OK, or a non-finite status; ``s.driver[1]`` then names the step.
    """
    ck = p.clock
    clk = s.clock[0]
    cl = s.cost_line[0]
    cnt = s.counters[0]
    dev = m.dev
    S = dev[2]
    timed = dev[0][I_MODEL] != M_IDEAL
    tau_p = ck.tau_p
    tau_x = ck.tau_x
    tau_theta = ck.tau_theta
    dt = ck.dt
    analog = p.cost_line.mode == _cl.ANALOG
    by_write = p.source.by_write >= 1 and not analog  # 2: the write-noise source
    wn_src = p.source.by_write == 2
    noisy = p.noisy_reads == 1
    eta = p.optimizer.eta
    ip = p.integrator
    theta = s.theta
    G = s.G
    pert = s.applied
    ref = s.reference
    out = s.out
    P = theta.shape[0]
    nodes = p.source.nodes == 1
    two_sided = p.cost_line.two_sided == 1
    M = pert.shape[0]  # perturbed quantities: P weights, or M nodes
    # Signal-path nonidealities (cost line, integrator; docs/chip.md), all off by default.
    clp = p.cost_line
    line_on = clp.nonideal == 1
    lat = clp.latency
    matched = clp.match == 1 and lat > 0
    int_ni = ip.nonideal == 1
    sn = p.sources
    src_ni = sn.nonideal == 1
    src_lp = src_ni and sn.lp_keep > 0.0
    # code values generated per period: one per generator (src_buf = nominal, target, gens)
    n_gen = s.src_buf.shape[0] - 2 * M if sn.gen.shape[0] > 0 else M
    if src_ni and clk.step % tau_p != 0:  # the current period's nominal and target (resume)
        _src.new_period(pert, ref, s.src_buf, p.source, sn, clk.step // tau_p)
    if matched and clk.step - lat >= 0:  # the delayed reference, also after a resume
        _delayed_reference(p, s, ref, (clk.step - lat) // tau_p)
    # Phases within the tau_x, tau_p and tau_theta periods, derived from the step once per
    # call and then counted (an integer division per step per clock costs more than the
    # whole 2-2-1 forward pass).
    n0 = clk.step
    ph_x = n0 % tau_x
    ph_p = n0 % tau_p
    ph_t = n0 % tau_theta
    # The next sample to present is number k = ceil(n0 / tau_x): epoch and position in it.
    n_samples = ck.n_samples
    k_next = (n0 + tau_x - 1) // tau_x
    epoch = k_next // n_samples
    pos = k_next - epoch * n_samples
    batched = ck.batch > 1
    if batched and ph_x != 0:  # mid-presentation: rebuild the batch being held
        fill_batch(s.order, m.sense.batch, s.clock, ck.seed, n0 // tau_x, n_samples)
    for _ in range(n_steps):
        n = clk.step
        if timed:
            S[S_TIME] = n * dt  # writes and reads of this step carry its own time
        new_input = ph_x == 0
        if new_input and batched:
            fill_batch(s.order, m.sense.batch, s.clock, ck.seed, n // tau_x, n_samples)
            cl.stale = 1
        elif new_input:
            if clk.order_epoch != epoch:
                shuffle_order(s.order, ck.seed, epoch)
                clk.order_epoch = epoch
            clk.sample = s.order[pos]
            cl.stale = 1
            pos += 1
            if pos == n_samples:
                pos = 0
                epoch += 1
        new_code = ph_p == 0
        if new_code and not by_write:
            if src_ni:
                _src.new_period(pert, ref, s.src_buf, p.source, sn, n // tau_p)
                cnt.code_generations += n_gen
            else:
                fill_code(pert, p.source, n // tau_p)
                cnt.code_generations += M
        if src_lp:
            _src.follow(pert, s.src_buf, sn)
        if (new_code and not by_write) or src_lp:
            if two_sided:
                neg = s.negative
                for i in range(M):
                    neg[i] = -pert[i]
        if matched and n - lat >= 0 and (n - lat) % tau_p == 0:
            _delayed_reference(p, s, ref, (n - lat) // tau_p)  # regenerated, not stored
            cnt.code_generations += n_gen
        ph_x = ph_x + 1 if ph_x + 1 < tau_x else 0
        ph_p = ph_p + 1 if ph_p + 1 < tau_p else 0
        update_due = ph_t == 0 and n > 0
        ph_t = ph_t + 1 if ph_t + 1 < tau_theta else 0
        if not analog:
            if update_due:
                if eta != 0.0:
                    _write(p, s, dev, m.dev_c, clk.updates)
                    cl.stale = 1
                if int_ni:
                    _int.reset_partial(G, ip.reset_keep)
                else:
                    _int.reset(G)
                clk.updates += 1
            if two_sided:
                _sense_two_sided(p, s, m, n)
                c = out[0]
                if not math.isfinite(c):
                    return fail(s, STATUS_NONFINITE_COST, n)
                if not math.isfinite(out[1]):
                    return fail(s, STATUS_NONFINITE_BASE, n)
                ct = _cl.two_sided(c, out[1])
            else:
                want_base = cl.stale == 1 or (wn_src and new_code)
                if wn_src:
                    _wns.sense(p, s, m, want_base, new_code, n)
                elif by_write:
                    _sense_by_write(p, s, m, want_base, new_code, n, n // tau_p)
                elif nodes:
                    _sense_nodes(p, s, m, want_base, n)
                else:
                    sense(m.sense, dev, noisy, theta, pert, s.rb0, s.rb1, s.zeros,
                          clk.sample, want_base, out, n)
                    count(cnt, p.counters, 1, 1 if want_base else 0)
                c = out[0]
                if not math.isfinite(c):
                    return fail(s, STATUS_NONFINITE_COST, n)
                if want_base:
                    if not math.isfinite(out[1]):
                        return fail(s, STATUS_NONFINITE_BASE, n)
                    cl.c0 = out[1]
                    cl.stale = 0
                ct = _cl.discrete(cl, c)
            cr = _cl.line(clp, s.line_mem, cnt, ct, n) if line_on else ct
            if nodes:
                integrate_nodes(G, cr * ip.inv_d2, ref, m.sense, clk.sample, False, 0.0, 0.0)
            elif int_ni:
                _int.accumulate_nonideal(G, cr * ip.inv_d2, ref, ip)
            else:
                _int.accumulate(G, cr * ip.inv_d2, ref)
        else:
            if nodes:
                _sense_nodes(p, s, m, False, n)
            else:
                sense(m.sense, dev, noisy, theta, pert, s.rb0, s.rb1, s.zeros, clk.sample,
                      False, out, n)
                count(cnt, p.counters, 1, 0)
            c = out[0]
            if not math.isfinite(c):
                return fail(s, STATUS_NONFINITE_COST, n)
            ct = _cl.analog(cl, p.cost_line, c, new_input or n == 0)
            cr = _cl.line(clp, s.line_mem, cnt, ct, n) if line_on else ct
            if nodes:
                integrate_nodes(G, cr * ip.inv_d2, ref, m.sense, clk.sample, True, ip.lp_keep,
                                ip.lp_new)
            else:
                _int.lowpass(G, cr * ip.inv_d2, ref, ip.lp_keep, ip.lp_new)
            if eta != 0.0:
                _write(p, s, dev, m.dev_c, clk.updates)
            clk.updates += 1
        cnt.cost_broadcasts += 1
        cnt.integrator_ops += M
        if nodes:
            cnt.synapse_multiplies += P
        cnt.steps += 1
        cl.c = c
        cl.ctilde = ct
        clk.step = n + 1
    return STATUS_OK
